"""Reading Segment HTTP Tracking API payloads: ``identify``, ``group``, ``track``,
``page`` (and ``screen``), one at a time or in a ``batch``.

Field names and meanings are Segment's: ``userId``/``anonymousId`` (one is required),
``messageId`` (the idempotency key, unique per source), ``timestamp``/``sentAt`` (with
Segment's clock-skew correction ``timestamp = receivedAt − (sentAt − timestamp)``),
``context.groupId`` (the account), ``traits``, ``event``, ``properties``.

Validation is by hand on the parsed JSON (orjson), not a pydantic model per event:
this is the hot path of ingestion. A bad event is reported as a :class:`Problem`
naming its place (``batch[3].timestamp``); the good ones go on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from kizuna.domain.dates import DATE_OUT_OF_RANGE, in_range, out_of_range_message
from kizuna.i18n import _

#: Segment's limits: 32 KB per event, 500 KB per batch request.
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_ID = 128  # userId, anonymousId, groupId, messageId
MAX_EVENT_NAME = 200
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
#: How far in the future (after the skew correction) a timestamp may be.
FUTURE = timedelta(days=1)

#: How deep an event's JSON may nest: what orjson can write back (the event itself is level 1).
MAX_DEPTH = 254

KINDS = ("identify", "group", "track", "page", "screen")
#: ``page`` and ``screen`` calls are stored as events with these names.
PAGE_EVENT = "Page Viewed"
SCREEN_EVENT = "Screen Viewed"


@dataclass(slots=True)
class Message:
    """One accepted call, normalised. ``payload`` is ``properties`` (track, page) or
    ``traits`` (identify, group); ``timestamp`` is corrected and in UTC."""

    kind: str
    source: str
    message_id: str
    user_id: str | None
    anonymous_id: str | None
    group_id: str | None
    event: str | None
    timestamp: datetime
    received_at: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one event (or the whole request) was not accepted."""

    code: str
    message: str
    field: str | None


class Bad(Exception):
    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


class Unreadable(Exception):
    """The request as a whole cannot be read (not JSON, not an object, no batch)."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field


def _id(obj: dict[str, Any], key: str, field: str) -> str | None:
    raw = obj.get(key)
    if raw is None:
        return None
    if isinstance(raw, str):
        value = raw.strip()
    elif isinstance(raw, int) and not isinstance(raw, bool):
        value = str(raw)
    else:
        raise Bad("invalid_value", _("must be a string"), field)
    if not value:
        return None
    if len(value) > MAX_ID:
        raise Bad("invalid_value", _("longer than {n} characters").format(n=MAX_ID), field)
    return value


def _moment(raw: Any, field: str, zone: ZoneInfo) -> datetime:
    """An ISO 8601 time inside :mod:`kizuna.domain.dates`' range (judged by its own calendar
    day, before any conversion that could overflow), or :class:`Bad` naming ``field``."""
    if not isinstance(raw, str):
        shown = raw if isinstance(raw, int | float | bool) else str(raw)[:40]
        raise Bad("invalid_timestamp", _("not an ISO 8601 date and time: {value!r}").format(value=shown), field)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise Bad(
            "invalid_timestamp", _("not an ISO 8601 date and time: {value!r}").format(value=raw[:40]), field
        ) from None
    if not in_range(value):
        raise Bad(DATE_OUT_OF_RANGE, out_of_range_message(value), field)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def _object(obj: dict[str, Any], key: str, field: str) -> dict[str, Any]:
    raw = obj.get(key)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Bad("invalid_value", _("must be a JSON object"), field)
    return raw


def _text(value: Any, limit: int, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise Bad("invalid_value", _("must be a string"), field)
    value = value.strip()
    if len(value) > limit:
        raise Bad("invalid_value", _("longer than {n} characters").format(n=limit), field)
    return value or None


def read_message(
    obj: Any, kind: str | None, prefix: str, *, source: str, received_at: datetime, zone: ZoneInfo,
    sent_at: datetime | None = None, measure: bool = True,
) -> Message:  # fmt: skip
    """One call's payload → a :class:`Message`, or :class:`Bad` naming the field.
    ``measure=False`` skips the size and NUL checks when the whole body passed them."""
    if not isinstance(obj, dict):
        raise Bad("invalid_event", _("an event must be a JSON object"), prefix or "body")
    if measure:
        try:
            dumped = orjson.dumps(obj)
        except orjson.JSONEncodeError:  # nested deeper than orjson writes (or an integer over 64 bits)
            raise Bad(
                "too_deep",
                _("the event is nested more than {n} levels deep").format(n=MAX_DEPTH),
                prefix or "body",
            ) from None
        if len(dumped) > MAX_EVENT_BYTES:
            raise Bad(
                "event_too_large",
                _("the event is larger than {n} bytes").format(n=f"{MAX_EVENT_BYTES:,}"),
                prefix or "body",
            )
        if b"\\u0000" in dumped:
            raise Bad("invalid_value", _("text must not contain NUL characters"), prefix or "body")
    dot = f"{prefix}." if prefix else ""
    if kind is None:
        kind = obj.get("type")
        if kind not in KINDS:
            code = "unsupported_type" if isinstance(kind, str) and kind else "missing_type"
            raise Bad(code, _("type must be one of {kinds}").format(kinds=", ".join(KINDS)), f"{dot}type")
    user_id = _id(obj, "userId", f"{dot}userId")
    anonymous_id = _id(obj, "anonymousId", f"{dot}anonymousId")
    if user_id is None and anonymous_id is None:
        raise Bad("missing_user", _("userId or anonymousId is required"), f"{dot}userId")
    message_id = _id(obj, "messageId", f"{dot}messageId")
    context = _object(obj, "context", f"{dot}context")
    group_id = _id(obj, "groupId", f"{dot}groupId")
    if kind == "group":
        if group_id is None:
            raise Bad("missing_group", _("groupId is required"), f"{dot}groupId")
    else:
        group_id = _id(context, "groupId", f"{dot}context.groupId") or group_id
    raw_ts = obj.get("timestamp")
    original = obj.get("originalTimestamp")
    if original is not None:  # checked even when timestamp wins: no date outside the range gets in
        original_ts = _moment(original, f"{dot}originalTimestamp", zone)
    if raw_ts is None:
        timestamp = received_at if original is None else original_ts
        raw_ts = original
    else:
        timestamp = _moment(raw_ts, f"{dot}timestamp", zone)
    if obj.get("receivedAt") is not None:  # set by proxies; Kizuna keeps its own, but checks theirs
        _moment(obj["receivedAt"], f"{dot}receivedAt", zone)
    raw_sent = obj.get("sentAt")
    sent = _moment(raw_sent, f"{dot}sentAt", zone) if raw_sent is not None else sent_at
    corrected: datetime | None = timestamp
    if raw_ts is not None and sent is not None:
        try:
            corrected = received_at - (sent - timestamp)  # Segment's clock-skew correction
        except OverflowError:  # past the calendar's last day (a server clock near year 9999)
            corrected = None
    if corrected is None or not EARLIEST <= corrected <= received_at + FUTURE:
        raise Bad(
            "timestamp_out_of_range",
            _("the time must be after 2000-01-01 and not more than a day ahead of the server's clock"),
            f"{dot}timestamp",
        )
    timestamp = corrected.astimezone(UTC)
    event: str | None = None
    if kind == "track":
        event = _text(obj.get("event"), MAX_EVENT_NAME, f"{dot}event")
        if event is None:
            raise Bad("missing_event", _("event is required"), f"{dot}event")
        payload = _object(obj, "properties", f"{dot}properties")
    elif kind in ("page", "screen"):
        event = PAGE_EVENT if kind == "page" else SCREEN_EVENT
        payload = _object(obj, "properties", f"{dot}properties")
        for key in ("name", "category"):
            value = _text(obj.get(key), MAX_EVENT_NAME, f"{dot}{key}")
            if value is not None:
                payload = {**payload, key: value}
        kind = "page"
    else:
        payload = _object(obj, "traits", f"{dot}traits")
        if kind == "identify" and not payload:
            payload = _object(context, "traits", f"{dot}context.traits")
        (check_group_traits if kind == "group" else check_user_traits)(payload, f"{dot}traits")
    if message_id is None:
        # No messageId (Segment's libraries always send one): the content is the key,
        # so that a retried copy is still recognised.
        message_id = "sha1:" + hashlib.sha1(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return Message(kind, source, message_id, user_id, anonymous_id, group_id, event, timestamp, received_at, payload)


# --- traits ----------------------------------------------------------------------------------

#: Group traits stored in the account's own columns; other traits go into custom_fields.
ACCOUNT_TRAITS = ("name", "industry", "employees")
#: Identify traits stored in the contact's own columns.
CONTACT_TRAITS = ("name", "email", "title")


def employees(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().replace(",", "").isdecimal():
        value = int(value.strip().replace(",", ""))
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000_000:
        raise Bad("invalid_value", _("a whole number of employees, 0 to 10,000,000"), field)
    return value


def check_group_traits(traits: dict[str, Any], field: str) -> None:
    _text(traits.get("name"), 255, f"{field}.name")
    _text(traits.get("industry"), 100, f"{field}.industry")
    employees(traits.get("employees"), f"{field}.employees")


def contact_email(value: Any, field: str) -> str | None:
    from kizuna.services.imports.fields import FieldError, email

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return email(value)
    except FieldError as exc:
        raise Bad("invalid_value", str(exc), field) from None


def check_user_traits(traits: dict[str, Any], field: str) -> None:
    _text(traits.get("name"), 200, f"{field}.name")
    _text(traits.get("title"), 100, f"{field}.title")
    contact_email(traits.get("email"), f"{field}.email")


# --- whole requests ----------------------------------------------------------------------------


def parse_body(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson stops at 1,024 levels
            raise Unreadable("too_deep", _("the body is nested more than {n} levels deep").format(n=1024)) from None
        raise Unreadable("malformed_json", _("the body is not valid JSON: {reason}").format(reason=exc)) from None


def read_request(
    kind: str, data: Any, *, source: str, received_at: datetime, zone: ZoneInfo, body: bytes | None = None
) -> tuple[list[Message], list[Problem]]:
    """A parsed request body → the messages to store and the problems of the others.
    ``kind`` is ``batch`` or one of :data:`KINDS`. Given the raw ``body``, events are
    measured one by one only when the body could hold one over the limit or a NUL."""
    measure = body is None or len(body) > MAX_EVENT_BYTES or b"\\u0000" in body
    if not measure:
        try:  # one pass in C: when the whole body can be written back, so can each event
            orjson.dumps(data)
        except orjson.JSONEncodeError:
            measure = True  # some event is too deep: find it, event by event
    if not isinstance(data, dict):
        raise Unreadable("invalid_event", _("the body must be a JSON object"))
    if kind != "batch":
        try:
            return [read_message(data, kind, "", source=source, received_at=received_at, zone=zone)], []
        except Bad as bad:
            return [], [Problem(bad.code, bad.message, bad.field)]
    items = data.get("batch")
    if not isinstance(items, list):
        raise Unreadable("missing_batch", _("batch must be a list of events"), "batch")
    sent_at = None
    if data.get("sentAt") is not None:
        try:
            sent_at = _moment(data["sentAt"], "sentAt", zone)
        except Bad as bad:
            raise Unreadable(bad.code, bad.message, bad.field) from None
    messages: list[Message] = []
    problems: list[Problem] = []
    for i, item in enumerate(items):
        try:
            messages.append(
                read_message(
                    item,
                    None,
                    f"batch[{i}]",
                    source=source,
                    received_at=received_at,
                    zone=zone,
                    sent_at=sent_at,
                    # without it every event is measured: the same answers, only slower (equivalent)
                    measure=measure,  # pragma: no mutate
                )
            )
        except Bad as bad:
            problems.append(Problem(bad.code, bad.message, bad.field))
    return messages, problems
