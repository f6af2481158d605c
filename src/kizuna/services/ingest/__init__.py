"""Product-event ingestion: a Segment-compatible tracking API (``docs/ingest.md``).

- :mod:`.payload` reads and validates Segment payloads (by hand, on orjson's output);
- :mod:`.keys` says which API key sent them (write-key or bearer);
- :mod:`.store` stores them in one transaction (accounts, contacts, events, rollups,
  the quarantine of events waiting for their account or user, counters);
- the group commit (a 2xx answer means committed) runs in ``kizuna.jobs.ingest_writer``;
- :mod:`.report` summarises what came in, for the ingestion page and the CLI.
"""

from kizuna.services.ingest.payload import MAX_BATCH_BYTES, MAX_EVENT_BYTES, Message, Problem
from kizuna.services.ingest.store import REASONS, Outcome, attach_parked, store

__all__ = [
    "MAX_BATCH_BYTES",
    "MAX_EVENT_BYTES",
    "REASONS",
    "Message",
    "Outcome",
    "Problem",
    "attach_parked",
    "store",
]
