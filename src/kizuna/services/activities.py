"""Logging a touchpoint (活動履歴): a meeting, call, email or note on an account.

The web page's form and the REST API (``POST /api/activities``) both call
:func:`log_activity`; the caller's transaction commits it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from kizuna.db import Session
from kizuna.db.models import Activity
from kizuna.db.queries import activities as q
from kizuna.db.queries import customer360 as reads
from kizuna.domain.dates import in_range, out_of_range_message
from kizuna.domain.enums import ActivityKind
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _

SUBJECT_MAX = 500
SUMMARY_MAX = 20_000
EXTERNAL_ID_PREFIX = "ACT-"
_MAX_ID = 2**31 - 1


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.replace("\r\n", "\n").strip()
    return text or None


def check_occurred_at(occurred_at: datetime) -> None:
    """The common date range (``kizuna.domain.dates``); the code stays the published
    ``occurred_at_out_of_range`` (docs/errors.md)."""
    if not in_range(occurred_at):
        raise InvalidInput(out_of_range_message(occurred_at), code="occurred_at_out_of_range", field="occurred_at")


def parse_kind(kind: ActivityKind | str) -> ActivityKind:
    """``meeting``, ``call``, ``email`` or ``note``; raises ``InvalidInput`` (``invalid_activity_kind``)."""
    if isinstance(kind, ActivityKind):
        return kind
    try:
        return ActivityKind(str(kind).strip().lower())
    except ValueError:
        raise InvalidInput(
            _("kind must be one of: {kinds}").format(kinds=", ".join(k.value for k in ActivityKind)),
            code="invalid_activity_kind",
            field="kind",
        ) from None


def log_activity(
    session: Session,
    *,
    account_id: int,
    kind: ActivityKind | str,
    occurred_at: datetime,
    subject: str | None,
    summary: str | None,
    author_id: int | None,
    contact_id: int | None = None,
) -> Activity:
    """Add a meeting/call/email/note to an account's timeline and return it (flushed,
    with its id and an external id ``ACT-<uuid>``).

    Raises ``InvalidInput`` with a stable code — ``invalid_activity_kind``,
    ``subject_too_long``, ``summary_too_long``, ``activity_empty`` (neither subject nor
    summary), ``naive_datetime``, ``occurred_at_out_of_range``, ``contact_not_on_account`` — or ``NotFound``
    (``account_not_found``, ``contact_not_found``, ``user_not_found``).
    """
    activity_kind = parse_kind(kind)
    subject, summary = _clean(subject), _clean(summary)
    if subject is not None and len(subject) > SUBJECT_MAX:
        raise InvalidInput(
            _("the subject is longer than {n} characters").format(n=SUBJECT_MAX),
            code="subject_too_long",
            field="subject",
        )
    if summary is not None and len(summary) > SUMMARY_MAX:
        raise InvalidInput(
            _("the summary is longer than {n} characters").format(n=f"{SUMMARY_MAX:,}"),
            code="summary_too_long",
            field="summary",
        )
    if subject is None and summary is None:
        raise InvalidInput(_("write a subject or a summary"), code="activity_empty", field="summary")
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise InvalidInput(
            _("the time needs a time zone offset, such as 2026-11-20T14:00:00+09:00"),
            code="naive_datetime",
            field="occurred_at",
        )
    check_occurred_at(occurred_at)
    if not 0 < account_id <= _MAX_ID or not reads.account_exists(session, account_id):
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found", field="account_id")
    if contact_id is not None:
        owner = reads.contact_account_id(session, contact_id) if 0 < contact_id <= _MAX_ID else None
        if owner is None:
            raise NotFound(
                _("no contact with id {id}").format(id=contact_id), code="contact_not_found", field="contact_id"
            )
        if owner != account_id:
            raise InvalidInput(
                _("contact {id} belongs to another account").format(id=contact_id),
                code="contact_not_on_account",
                field="contact_id",
            )
    if author_id is not None and (not 0 < author_id <= _MAX_ID or not reads.user_exists(session, author_id)):
        raise NotFound(_("no user with id {id}").format(id=author_id), code="user_not_found", field="author_id")
    return q.insert_activity(
        session, external_id=f"{EXTERNAL_ID_PREFIX}{uuid.uuid4()}", account_id=account_id, kind=activity_kind,
        occurred_at=occurred_at, subject=subject, summary=summary, author_id=author_id, contact_id=contact_id,
    )  # fmt: skip


__all__ = ["SUBJECT_MAX", "SUMMARY_MAX", "log_activity", "parse_kind"]
