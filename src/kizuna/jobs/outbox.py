"""Delivering the outbox: claim what is due, send it outside any transaction, mark it.

Three short transactions per round: claim (a conditional update per message, so two
deliverers never take the same one), then after each send a mark (sent, or a failed
attempt with its backoff). A deliverer killed between sending and marking leaves the
message claimed; when the claim expires it is sent again with the same idempotency key,
which the receiver uses to recognise the repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kizuna.db import session_scope
from kizuna.services import outbox
from kizuna.services.context import RunContext

log = logging.getLogger("kizuna.outbox")

#: Sent messages are marked in batches of this many (one short transaction each): a
#: deliverer killed meanwhile sends at most this many again, each with its idempotency key.
MARK_EVERY = 25


def _mark(engine: Any, sent: list[int]) -> None:
    if sent:
        with session_scope(engine) as session:
            outbox.mark_sent(session, sent)
        sent.clear()


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0  # parked for good this round
    waiting: int = 0  # over the per-domain rate limit: put back to wait (not an attempt)


def deliver(engine: Any, context: RunContext, *, limit: int = 500, rounds: int = 20,
            now: datetime | None = None) -> DeliveryReport:  # fmt: skip
    """Send what is due, in rounds of ``limit`` messages, until nothing is due (or ``rounds``)."""
    report = DeliveryReport()
    same: dict[str, int] = {}  # failure cause → messages that failed with it
    limiter = outbox.DomainLimiter(context.outbox.domain_rate_per_minute)
    if limiter.per_minute > 0:
        with session_scope(engine) as session:
            limiter.load(session, now or datetime.now(UTC))
    with outbox.senders(context.mail, context.outbox) as senders:
        for _ in range(rounds):
            with session_scope(engine) as session:
                claimed = outbox.claim_due(session, context.outbox, limit=limit, now=now)
            if not claimed:
                break
            sent: list[int] = []
            for message in claimed:
                sender = senders.get(message.kind)
                if message.kind == outbox.EMAIL and limiter.per_minute > 0:
                    until = limiter.wait_until(outbox.recipient_domains(message), now or datetime.now(UTC))
                    if until is not None:
                        with session_scope(engine) as session:
                            outbox.defer(session, message, until, f"waiting: over {limiter.per_minute} emails a "
                                         f"minute to {', '.join(sorted(outbox.recipient_domains(message)))}")
                        report.waiting += 1
                        continue
                try:
                    if sender is None:
                        raise outbox.DeliveryError(f"no sender for kind {message.kind!r}", permanent=True)
                    sender.send(message)
                except outbox.DeliveryError as exc:
                    with session_scope(engine) as session:
                        parked = outbox.mark_failed_attempt(session, message, exc, context.outbox,
                                                            now=now or datetime.now(UTC))  # fmt: skip
                    if str(exc) not in same:  # one line per cause, not one per message (an SMTP server down)
                        log.warning("outbox message %s (%s) attempt %s failed: %s", message.id, message.kind,
                                    message.attempts, exc)  # fmt: skip
                    same[str(exc)] = same.get(str(exc), 0) + 1
                    if parked:
                        report.failed += 1
                    else:
                        report.retrying += 1
                    continue
                sent.append(message.id)
                report.sent += 1
                if len(sent) >= MARK_EVERY:
                    _mark(engine, sent)
            _mark(engine, sent)
            if len(claimed) < limit:
                break
    for cause, count in same.items():
        if count > 1:
            log.warning("outbox: %s more messages failed the same way: %s", count - 1, cause)
    return report
