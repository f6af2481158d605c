"""Product usage (利用状況): events from a Segment-compatible tracking API and the daily
rollups made of them (``docs/usage.md``).

- :mod:`.payload` reads and validates Segment payloads (by hand, on orjson's output);
- :mod:`.keys` says which API key sent them (write-key or bearer);
- :mod:`.store` stores them in one transaction (accounts, contacts, events, rollups,
  the quarantine of events waiting for their account or user, counters);
- :mod:`.rollups` turns events into daily rollups (account × day × metric), incrementally
  and by rebuild, under the usage mapping;
- the group commit (a 2xx answer means committed) runs in ``kizuna.jobs.usage_writer``;
- :mod:`.report` summarises what came in, for the usage page and the CLI.
"""

from kizuna.services.usage.rollups import (
    DEFAULT_ZONE,
    KnownUsers,
    NewEvent,
    RebuildSummary,
    RollupConfig,
    account_ids,
    apply_deferred,
    contributions,
    load_mapping,
    mapping_from_dict,
    rebuild,
    roll_up,
    roll_up_pending,
)

from kizuna.services.usage.payload import MAX_BATCH_BYTES, MAX_EVENT_BYTES, Message, Problem  # isort: skip
from kizuna.services.usage.store import REASONS, Outcome, attach_parked, store  # isort: skip

__all__ = [
    "DEFAULT_ZONE",
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "REASONS",
    "KnownUsers",
    "Message",
    "NewEvent",
    "Outcome",
    "Problem",
    "RebuildSummary",
    "RollupConfig",
    "account_ids",
    "apply_deferred",
    "attach_parked",
    "contributions",
    "load_mapping",
    "mapping_from_dict",
    "rebuild",
    "roll_up",
    "roll_up_pending",
    "store",
]
