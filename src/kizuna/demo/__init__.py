"""``kizuna demo``: a realistic Japanese B2B SaaS company and its customers.

:func:`generate_demo` writes a deterministic company into an empty store: the same
``seed``, ``accounts``, ``months`` and ``as_of`` give the same rows, byte for byte.
See ``docs/demo.md`` for what is simulated.
"""

from __future__ import annotations

from datetime import date

from kizuna.db import Session, maintenance
from kizuna.demo.company import (
    STAGE_ACCOUNTS,
    STAGE_FINISH,
    STAGE_SETUP,
    TABLES,
    DemoSummary,
    ProgressCallback,
    generate,
)
from kizuna.errors import Conflict, InvalidInput
from kizuna.i18n import _

MAX_MONTHS = 120


def check_options(*, accounts: int, months: int, seed: int) -> None:
    """Raise :class:`InvalidInput` unless the sizes make a company."""
    if accounts < 1:
        raise InvalidInput(_("--accounts must be at least 1"), field="accounts")
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidInput(_("--months must be from 1 to {n}").format(n=MAX_MONTHS), field="months")
    if seed < 0:
        raise InvalidInput(_("--seed must not be negative"), field="seed")


def store_is_empty(session: Session) -> bool:
    """True when the store holds no rows at all (a fresh or a cleared store)."""
    return maintenance.is_empty(session)


def clear_store(session: Session) -> None:
    """Delete every row of every table (the schema stays). The caller commits."""
    maintenance.delete_all(session)


def generate_demo(
    session: Session,
    *,
    accounts: int = 1000,
    months: int = 24,
    seed: int = 42,
    as_of: date,
    on_progress: ProgressCallback | None = None,
    playbooks_enabled: bool = False,
) -> DemoSummary:
    """Write the demo company, with ``months`` of history up to ``as_of``, into the
    empty store of ``session``. ``on_progress(stage, done, total)`` is called as it goes.
    Raises :class:`InvalidInput` for bad sizes and :class:`Conflict` if the store
    already holds data. The default playbooks are saved paused unless ``playbooks_enabled``
    (``kizuna demo`` turns them on; a store made for a test sends nothing)."""
    check_options(accounts=accounts, months=months, seed=seed)
    if not store_is_empty(session):
        raise Conflict(_("the store already holds data; the demo company needs an empty store"))
    return generate(session, accounts=accounts, months=months, seed=seed, as_of=as_of, on_progress=on_progress,
                    playbooks_enabled=playbooks_enabled)


__all__ = [
    "STAGE_ACCOUNTS",
    "STAGE_FINISH",
    "STAGE_SETUP",
    "TABLES",
    "DemoSummary",
    "ProgressCallback",
    "check_options",
    "clear_store",
    "generate_demo",
    "store_is_empty",
]
