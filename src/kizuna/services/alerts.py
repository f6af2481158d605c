"""Slack alerts (アラート): an incoming-webhook message when an account's health grade turns red.

The daily job's ``alerts`` step runs after the health scores: each account whose grade is
red today and was not on its previous scored day gets one message to
``KIZUNA_SLACK_WEBHOOK_URL``, queued in the outbox (delivered after commit, retried; the
key ``alert:red:<account>:<day>`` makes a second run of the day queue nothing). Without
the setting the step does nothing.
"""

from __future__ import annotations

from datetime import date

from kizuna.db import Session
from kizuna.db.queries import alerts as q
from kizuna.domain.health import GRADE_LABELS
from kizuna.i18n import _, gettext, language
from kizuna.services import outbox
from kizuna.services.context import RunContext


def red_alerts(session: Session, as_of: date, context: RunContext) -> int:
    """Queue a Slack message per account that turned red on ``as_of``; returns how many were queued."""
    if not context.slack_webhook_url:
        return 0
    queued = 0
    with language(context.mail_language):
        for row in q.turned_red(session, as_of):
            was = str(getattr(row.was, "value", row.was))
            text = _("🔴 {account} turned red (health {score:.0f}, was {was}). Owner: {owner}. {url}").format(
                account=row.name, score=row.score, was=gettext(GRADE_LABELS[was]) if was in GRADE_LABELS else was,
                owner=row.owner or _("none"), url=f"{context.public_url}/accounts/{row.id}")  # fmt: skip
            body = {"text": text}
            if outbox.enqueue_webhook(session, key=f"alert:red:{row.id}:{as_of.isoformat()}",
                                      url=context.slack_webhook_url, body=body, signed=False,
                                      account_id=row.id) is not None:  # fmt: skip
                queued += 1
    return queued
