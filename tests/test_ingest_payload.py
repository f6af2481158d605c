"""Reading Segment payloads, one function at a time (fast: no app, no store): what each
call becomes, and the code and field each bad one is refused with."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from kizuna.services.usage.payload import (
    MAX_EVENT_BYTES,
    PAGE_EVENT,
    SCREEN_EVENT,
    Bad,
    Problem,
    Unreadable,
    check_group_traits,
    check_user_traits,
    employees,
    parse_body,
    read_message,
    read_request,
)

TOKYO = ZoneInfo("Asia/Tokyo")
AT = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)  # the server received the request at 12:00 in Tokyo


def read(obj: Any, kind: str | None = None, prefix: str = "", **kw: Any):  # type: ignore[no-untyped-def]
    return read_message(obj, kind, prefix, source="src", received_at=AT, zone=TOKYO, **kw)


def refused(obj: Any, kind: str | None = None, prefix: str = "", **kw: Any) -> tuple[str, str]:
    with pytest.raises(Bad) as info:
        read(obj, kind, prefix, **kw)
    return info.value.code, info.value.field


def test_a_track_call_normalised() -> None:
    m = read({"type": "track", "userId": " U-1 ", "anonymousId": 42, "messageId": "m-1", "event": " Signed In ",
              "timestamp": "2026-01-15T10:00:00", "context": {"groupId": "ACC-1"}, "groupId": "ACC-0",
              "properties": {"session_minutes": 5}})  # fmt: skip
    assert (m.kind, m.source, m.message_id, m.user_id, m.anonymous_id, m.group_id, m.event) == (
        "track", "src", "m-1", "U-1", "42", "ACC-1", "Signed In")  # fmt: skip
    # no offset: read in the zone (10:00 in Tokyo is 01:00 UTC)
    assert m.timestamp == datetime(2026, 1, 15, 1, 0, tzinfo=UTC)
    assert m.received_at == AT
    assert m.payload == {"session_minutes": 5}


def test_page_screen_identify_and_group_calls() -> None:
    page = read({"userId": "U", "messageId": "p", "name": " Home ", "category": "Docs", "properties": {"url": "/"}},
                "page")  # fmt: skip
    assert (page.kind, page.event, page.payload) == ("page", PAGE_EVENT, {"url": "/", "name": "Home",
                                                                          "category": "Docs"})  # fmt: skip
    screen = read({"type": "screen", "userId": "U", "messageId": "s"})
    assert (screen.kind, screen.event, screen.payload) == ("page", SCREEN_EVENT, {})
    identify = read({"type": "identify", "userId": "U", "messageId": "i",
                     "context": {"traits": {"email": "a@example.com"}, "groupId": "G"}})  # fmt: skip
    assert (identify.kind, identify.event, identify.group_id, identify.payload) == (
        "identify", None, "G", {"email": "a@example.com"})  # fmt: skip
    own = read({"type": "identify", "userId": "U", "messageId": "i2", "traits": {"name": "Hanako"},
                "context": {"traits": {"name": "ignored"}}})  # fmt: skip
    assert own.payload == {"name": "Hanako"}
    group = read({"type": "group", "userId": "U", "messageId": "g", "groupId": " ACC-9 ",
                  "traits": {"name": "Acme", "employees": "1,200"}})  # fmt: skip
    assert (group.kind, group.group_id, group.payload) == ("group", "ACC-9", {"name": "Acme", "employees": "1,200"})
    # an explicit kind wins over the body's type
    assert read({"type": "identify", "userId": "U", "messageId": "x", "event": "E"}, "track").kind == "track"


def test_the_time_skew_correction_and_the_time_window() -> None:
    # the client's clock is 3 hours fast: sent at 15:05 UTC (its clock) about an event at 15:00
    m = read({"type": "track", "userId": "U", "messageId": "m", "event": "E", "timestamp": "2026-01-15T15:00:00Z",
              "sentAt": "2026-01-15T15:05:00Z"})  # fmt: skip
    assert m.timestamp == AT - timedelta(minutes=5)
    # the batch's sentAt applies when the event has none
    batch_sent = datetime(2026, 1, 15, 6, 0, tzinfo=UTC)
    b = read({"type": "track", "userId": "U", "messageId": "m", "event": "E", "timestamp": "2026-01-15T05:00:00Z"},
             sent_at=batch_sent)  # fmt: skip
    assert b.timestamp == AT - timedelta(hours=1)
    # originalTimestamp stands in for timestamp; none at all: the arrival
    o = read({"type": "track", "userId": "U", "messageId": "m", "event": "E",
              "originalTimestamp": "2026-01-14T00:00:00Z"})  # fmt: skip
    assert o.timestamp == datetime(2026, 1, 14, tzinfo=UTC)
    assert read({"type": "track", "userId": "U", "messageId": "m", "event": "E"}).timestamp == AT
    # the window: from 2000-01-01, up to a day after the arrival
    edge = read({"type": "track", "userId": "U", "messageId": "m", "event": "E",
                 "timestamp": (AT + timedelta(days=1)).isoformat()})  # fmt: skip
    assert edge.timestamp == AT + timedelta(days=1)
    first = read({"type": "track", "userId": "U", "messageId": "m", "event": "E", "timestamp": "2000-01-01T00:00:00Z"})
    assert first.timestamp == datetime(2000, 1, 1, tzinfo=UTC)
    for ts in ((AT + timedelta(days=1, seconds=1)).isoformat(), "1999-12-31T23:59:59Z"):
        assert refused({"type": "track", "userId": "U", "event": "E", "timestamp": ts}, prefix="batch[2]") == (
            "timestamp_out_of_range", "batch[2].timestamp")  # fmt: skip
    # outside Kizuna's accepted range (1900–2200) altogether: refused before any skew correction
    assert refused({"type": "track", "userId": "U", "event": "E", "timestamp": "0001-01-01T00:00:00Z",
                    "sentAt": "9999-12-31T00:00:00Z"}) == ("date_out_of_range", "timestamp")  # fmt: skip


@pytest.mark.parametrize(
    ("obj", "kind", "expected"),
    [
        ([], None, ("invalid_event", "batch[1]")),
        ({"userId": "U"}, None, ("missing_type", "batch[1].type")),
        ({"type": "", "userId": "U"}, None, ("missing_type", "batch[1].type")),
        ({"type": 7, "userId": "U"}, None, ("missing_type", "batch[1].type")),
        ({"type": "alias", "userId": "U"}, None, ("unsupported_type", "batch[1].type")),
        ({"type": "track", "event": "E"}, None, ("missing_user", "batch[1].userId")),
        ({"type": "track", "userId": "  ", "event": "E"}, None, ("missing_user", "batch[1].userId")),
        ({"type": "track", "userId": True, "event": "E"}, None, ("invalid_value", "batch[1].userId")),
        ({"type": "track", "userId": 1.5, "event": "E"}, None, ("invalid_value", "batch[1].userId")),
        ({"type": "track", "userId": "U" * 129, "event": "E"}, None, ("invalid_value", "batch[1].userId")),
        ({"type": "track", "anonymousId": ["a"], "event": "E"}, None, ("invalid_value", "batch[1].anonymousId")),
        ({"type": "track", "userId": "U", "messageId": {}, "event": "E"}, None,
         ("invalid_value", "batch[1].messageId")),
        ({"type": "track", "userId": "U", "context": [], "event": "E"}, None, ("invalid_value", "batch[1].context")),
        ({"type": "track", "userId": "U", "context": {"groupId": 1.5}, "event": "E"}, None,
         ("invalid_value", "batch[1].context.groupId")),
        ({"type": "group", "userId": "U"}, None, ("missing_group", "batch[1].groupId")),
        ({"type": "track", "userId": "U"}, None, ("missing_event", "batch[1].event")),
        ({"type": "track", "userId": "U", "event": "  "}, None, ("missing_event", "batch[1].event")),
        ({"type": "track", "userId": "U", "event": 5}, None, ("invalid_value", "batch[1].event")),
        ({"type": "track", "userId": "U", "event": "E" * 201}, None, ("invalid_value", "batch[1].event")),
        ({"type": "track", "userId": "U", "event": "E", "properties": "x"}, None,
         ("invalid_value", "batch[1].properties")),
        ({"type": "track", "userId": "U", "event": "E", "timestamp": 5}, None,
         ("invalid_timestamp", "batch[1].timestamp")),
        ({"type": "track", "userId": "U", "event": "E", "timestamp": "yesterday"}, None,
         ("invalid_timestamp", "batch[1].timestamp")),
        ({"type": "track", "userId": "U", "event": "E", "sentAt": "soon"}, None,
         ("invalid_timestamp", "batch[1].sentAt")),
        ({"userId": "U", "name": "N" * 201}, "page", ("invalid_value", "batch[1].name")),
        ({"userId": "U", "category": 3}, "page", ("invalid_value", "batch[1].category")),
        ({"userId": "U", "traits": []}, "identify", ("invalid_value", "batch[1].traits")),
        ({"userId": "U", "context": {"traits": 1}}, "identify", ("invalid_value", "batch[1].context.traits")),
        ({"userId": "U", "traits": {"email": "not an address"}}, "identify", ("invalid_value", "batch[1].traits.email")),
        ({"userId": "U", "groupId": "G", "traits": {"employees": -1}}, "group",
         ("invalid_value", "batch[1].traits.employees")),
        ({"type": "track", "userId": "U", "event": "E", "properties": {"x": "a\u0000b"}}, None,
         ("invalid_value", "batch[1]")),
        ({"type": "track", "userId": "U", "event": "E", "properties": {"x": "y" * MAX_EVENT_BYTES}}, None,
         ("event_too_large", "batch[1]")),
    ],
)
def test_bad_events_name_their_field(obj: Any, kind: str | None, expected: tuple[str, str]) -> None:
    assert refused(obj, kind, "batch[1]") == expected


def test_without_a_prefix_the_fields_are_top_level() -> None:
    assert refused([]) == ("invalid_event", "body")
    assert refused({"type": "track", "userId": "U", "event": "E", "properties": {"x": "\u0000"}}) == (
        "invalid_value", "body")  # fmt: skip
    assert refused({"type": "track", "userId": "U"}) == ("missing_event", "event")
    # measure=False: the body as a whole passed the size and NUL checks
    assert read({"type": "track", "userId": "U", "event": "E", "properties": {"x": "y" * MAX_EVENT_BYTES}},
                measure=False).event == "E"  # fmt: skip


def test_the_message_id_is_the_given_one_or_the_content() -> None:
    event = {"type": "track", "userId": "U", "event": "E", "timestamp": "2026-01-15T10:00:00+09:00",
             "properties": {"b": 1, "a": 2}}  # fmt: skip
    expected = "sha1:" + hashlib.sha1(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert read(event).message_id == expected
    assert read_message(event, None, "", source="src", received_at=AT + timedelta(hours=1), zone=TOKYO).message_id == (
        expected)  # fmt: skip
    assert read({**event, "messageId": 123}).message_id == "123"


def test_trait_checks_and_employee_counts() -> None:
    assert [employees(v, "f") for v in (None, 0, 10_000_000, "1,234", " 56 ")] == [None, 0, 10_000_000, 1234, 56]
    for bad in (-1, 10_000_001, True, 1.5, "many", "-5"):
        with pytest.raises(Bad) as info:
            employees(bad, "traits.employees")
        assert (info.value.code, info.value.field) == ("invalid_value", "traits.employees")
    check_group_traits({"name": "N" * 255, "industry": "I" * 100, "employees": 5}, "traits")
    for traits, field in (({"name": "N" * 256}, "traits.name"), ({"industry": "I" * 101}, "traits.industry")):
        with pytest.raises(Bad) as info:
            check_group_traits(traits, "traits")
        assert info.value.field == field
    check_user_traits({"name": "N" * 200, "title": "T" * 100, "email": " "}, "traits")
    for traits, field in (({"name": "N" * 201}, "traits.name"), ({"title": "T" * 101}, "traits.title"),
                          ({"email": "x@"}, "traits.email")):  # fmt: skip
        with pytest.raises(Bad) as info:
            check_user_traits(traits, "traits")
        assert info.value.field == field


def test_whole_requests() -> None:
    ok = {"type": "track", "userId": "U", "messageId": "a", "event": "E"}
    msgs, problems = read_request("track", ok, source="s", received_at=AT, zone=TOKYO)
    assert ([m.message_id for m in msgs], problems) == (["a"], [])
    msgs, problems = read_request("track", {"userId": "U"}, source="s", received_at=AT, zone=TOKYO)
    assert (msgs, problems) == ([], [Problem("missing_event", "event is required", "event")])
    batch = {"sentAt": "2026-01-15T04:00:00Z", "batch": [
        {**ok, "timestamp": "2026-01-15T03:00:00Z"}, {"type": "track"}, {**ok, "messageId": "b"}]}  # fmt: skip
    msgs, problems = read_request("batch", batch, source="s", received_at=AT, zone=TOKYO, body=orjson.dumps(batch))
    assert [(m.message_id, m.timestamp) for m in msgs] == [("a", AT - timedelta(hours=1)), ("b", AT)]
    assert [(p.code, p.field) for p in problems] == [("missing_user", "batch[1].userId")]
    for data, kind, code, field in (
        ([], "track", "invalid_event", None),
        ({"batch": {}}, "batch", "missing_batch", "batch"),
        ({"batch": [], "sentAt": "x"}, "batch", "invalid_timestamp", "sentAt"),
    ):
        with pytest.raises(Unreadable) as info:
            read_request(kind, data, source="s", received_at=AT, zone=TOKYO)
        assert (info.value.code, info.value.field) == (code, field)
    with pytest.raises(Unreadable) as bad_json:
        parse_body(b"{nope")
    assert bad_json.value.code == "malformed_json"
    assert parse_body(b'{"a": 1}') == {"a": 1}


def test_each_refusal_says_why() -> None:
    def why(obj: Any, kind: str | None = None) -> str:
        with pytest.raises(Bad) as info:
            read(obj, kind, "batch[0]")
        return info.value.message

    track = {"type": "track", "userId": "U", "event": "E"}
    assert why([]) == "an event must be a JSON object"
    assert why({**track, "properties": {"x": "y" * MAX_EVENT_BYTES}}) == "the event is larger than 32,768 bytes"
    assert why({**track, "properties": {"x": "\u0000"}}) == "text must not contain NUL characters"
    assert why({"type": "alias", "userId": "U"}) == "type must be one of identify, group, track, page, screen"
    assert why({"type": "track", "event": "E"}) == "userId or anonymousId is required"
    assert why({**track, "userId": True}) == "must be a string"
    assert why({**track, "userId": "U" * 129}) == "longer than 128 characters"
    assert why({**track, "event": "E" * 201}) == "longer than 200 characters"
    assert why({**track, "event": 5}) == "must be a string"
    assert why({**track, "context": []}) == "must be a JSON object"
    assert why({"userId": "U"}, "group") == "groupId is required"
    assert why({"type": "track", "userId": "U"}) == "event is required"
    assert why({**track, "timestamp": 5}) == "not an ISO 8601 date and time: 5"
    assert why({**track, "timestamp": "x" * 50}) == f"not an ISO 8601 date and time: {'x' * 40!r}"
    assert why({**track, "timestamp": "1999-01-01T00:00:00Z"}) == (
        "the time must be after 2000-01-01 and not more than a day ahead of the server's clock")  # fmt: skip
    assert why({"userId": "U", "groupId": "G", "traits": {"employees": "lots"}}, "group") == (
        "a whole number of employees, 0 to 10,000,000")  # fmt: skip
    for data, kind, message in (
        ([], "track", "the body must be a JSON object"),
        ({"batch": 1}, "batch", "batch must be a list of events"),
    ):
        with pytest.raises(Unreadable) as info:
            read_request(kind, data, source="s", received_at=AT, zone=TOKYO)
        assert info.value.message == message
    with pytest.raises(Unreadable) as bad_json:
        parse_body(b"{nope")
    assert bad_json.value.message.startswith("the body is not valid JSON: ")


def test_a_body_is_measured_event_by_event_only_when_it_could_hold_a_bad_one() -> None:
    ok = {"type": "track", "userId": "U", "messageId": "a", "event": "E"}
    nul = {"batch": [{**ok, "properties": {"x": "\u0000"}}, ok]}
    msgs, problems = read_request("batch", nul, source="s", received_at=AT, zone=TOKYO, body=orjson.dumps(nul))
    assert ([m.message_id for m in msgs], [(p.code, p.field) for p in problems]) == (
        ["a"], [("invalid_value", "batch[0]")])  # fmt: skip
    big = {"batch": [{**ok, "properties": {"x": "y" * MAX_EVENT_BYTES}}, ok]}
    msgs, problems = read_request("batch", big, source="s", received_at=AT, zone=TOKYO, body=orjson.dumps(big))
    assert [(p.code, p.field) for p in problems] == [("event_too_large", "batch[0]")]
    # a single call is always measured
    msgs, problems = read_request("track", {**ok, "properties": {"x": "\u0000"}}, source="s", received_at=AT,
                                  zone=TOKYO, body=b"{}")  # fmt: skip
    assert (msgs, [(p.code, p.field) for p in problems]) == ([], [("invalid_value", "body")])


# --- the edges the mutation run found untested (docs/testing.md, "Mutation testing") ----------


def nested(levels: int) -> dict[str, Any]:
    """A JSON object nested ``levels`` deep (itself level 1)."""
    inner: dict[str, Any] = {}
    for _ in range(levels - 1):
        inner = {"a": inner}
    return inner


def test_an_event_nested_deeper_than_orjson_writes_is_refused_with_its_place() -> None:
    deep = {"type": "track", "userId": "U", "messageId": "d", "event": "E", "properties": nested(300)}
    for prefix, field in (("batch[4]", "batch[4]"), ("", "body")):
        with pytest.raises(Bad) as info:
            read(deep, None, prefix)
        assert (info.value.code, info.value.message, info.value.field) == (
            "too_deep", "the event is nested more than 254 levels deep", field)  # fmt: skip
        assert str(info.value) == "the event is nested more than 254 levels deep"
    # a small body (no event over the size limit, no NUL) is not measured event by event,
    # unless it cannot be written back whole: then the deep event is found, the other one kept
    ok = {"type": "track", "userId": "U", "messageId": "a", "event": "E"}
    batch = {"batch": [deep, ok]}
    body = json.dumps(batch).encode()
    assert len(body) < MAX_EVENT_BYTES
    msgs, problems = read_request("batch", batch, source="s", received_at=AT, zone=TOKYO, body=body)
    assert [m.message_id for m in msgs] == ["a"]
    assert problems == [Problem("too_deep", "the event is nested more than 254 levels deep", "batch[0]")]


def test_a_body_nested_deeper_than_1024_levels_and_bad_json_say_why() -> None:
    with pytest.raises(Unreadable) as info:
        parse_body(b"[" * 1025 + b"]" * 1025)
    assert (info.value.code, info.value.message, info.value.field) == (
        "too_deep", "the body is nested more than 1024 levels deep", None)  # fmt: skip
    assert str(info.value) == "the body is nested more than 1024 levels deep"
    inner = parse_body(b"[" * 1024 + b"]" * 1024)  # 1,024 levels parse
    for _ in range(1023):
        inner = inner[0]
    assert inner == []
    with pytest.raises(Unreadable) as bad:
        parse_body(b"{nope")
    assert bad.value.message == (
        "the body is not valid JSON: unexpected character, expected a string key: line 1 column 2 (char 1)")


def test_sizes_and_ids_exactly_at_their_limits_are_accepted() -> None:
    event = {"type": "track", "userId": "U" * 128, "messageId": "m", "event": "E", "properties": {"x": ""}}
    filler = MAX_EVENT_BYTES - len(orjson.dumps(event))
    at_limit = {**event, "properties": {"x": "y" * filler}}
    assert len(orjson.dumps(at_limit)) == MAX_EVENT_BYTES
    m = read(at_limit)
    assert (m.user_id, len(m.payload["x"])) == ("U" * 128, filler)
    over = {**event, "properties": {"x": "y" * (filler + 1)}}
    assert refused(over, None, "batch[0]") == ("event_too_large", "batch[0]")
    assert refused(over) == ("event_too_large", "body")


def test_each_timestamp_field_is_read_in_the_zone_and_refused_by_name() -> None:
    track = {"type": "track", "userId": "U", "messageId": "m", "event": "E"}
    # naive times are Tokyo's: sentAt 12:05 in Tokyo is 03:05 UTC, five minutes after the event
    m = read({**track, "timestamp": "2026-01-15T03:00:00Z", "sentAt": "2026-01-15T12:05:00"})
    assert m.timestamp == AT - timedelta(minutes=5)
    assert m.timestamp.tzinfo is UTC  # stored in UTC, whatever the zone of the server
    assert read({**track, "timestamp": "2026-01-15T10:00:00+09:00"}).timestamp.tzinfo is UTC
    # originalTimestamp, naive (Tokyo's 09:00 is 00:00 UTC), and corrected by sentAt like timestamp
    assert read({**track, "originalTimestamp": "2026-01-14T09:00:00"}).timestamp == datetime(2026, 1, 14, tzinfo=UTC)
    skewed = read({**track, "originalTimestamp": "2026-01-15T15:00:00Z", "sentAt": "2026-01-15T15:05:00Z"})
    assert skewed.timestamp == AT - timedelta(minutes=5)
    # a proxy's receivedAt is checked, then Kizuna's own arrival time is kept
    kept = read({**track, "timestamp": "2026-01-15T02:00:00Z", "receivedAt": "2026-01-15T02:30:00"})
    assert (kept.timestamp, kept.received_at) == (AT - timedelta(hours=1), AT)
    for key in ("originalTimestamp", "receivedAt"):
        assert refused({**track, key: "later"}, None, "batch[3]") == ("invalid_timestamp", f"batch[3].{key}")
        with pytest.raises(Bad) as info:
            read({**track, key: "1850-06-01T00:00:00Z"}, None, "batch[3]")
        assert (info.value.code, info.value.message, info.value.field) == (
            "date_out_of_range", "1850-06-01 is outside the accepted range 1900-01-01 … 2200-12-31",
            f"batch[3].{key}")  # fmt: skip
    # what is shown of a value that is not text: the number itself, or 40 characters of the rest, quoted
    with pytest.raises(Bad) as shown:
        read({**track, "timestamp": list(range(30))})
    assert shown.value.message == f"not an ISO 8601 date and time: {str(list(range(30)))[:40]!r}"
    with pytest.raises(Bad) as number:
        read({**track, "timestamp": 1.5})
    assert number.value.message == "not an ISO 8601 date and time: 1.5"


def test_a_correction_past_the_end_of_the_calendar_is_refused_not_a_crash() -> None:
    # a server clock at 9999-12-30 and a client 126 years behind: received − (sent − timestamp)
    # would be after 9999-12-31 (Python's last day); refused, not stored uncorrected
    late = datetime(9999, 12, 30, tzinfo=UTC)
    obj = {"type": "track", "userId": "U", "messageId": "m", "event": "E", "timestamp": "2026-01-01T00:00:00Z",
           "sentAt": "1900-01-01T00:00:00Z"}  # fmt: skip
    with pytest.raises(Bad) as info:
        read_message(obj, None, "", source="src", received_at=late, zone=TOKYO)
    assert (info.value.code, info.value.field) == ("timestamp_out_of_range", "timestamp")


def test_more_fields_named_in_refusals() -> None:
    assert refused({"type": "group", "userId": "U", "groupId": 1.5}, None, "batch[1]") == (
        "invalid_value", "batch[1].groupId")  # fmt: skip
    assert refused({"type": "page", "userId": "U", "properties": "x"}, None, "batch[1]") == (
        "invalid_value", "batch[1].properties")  # fmt: skip
    with pytest.raises(Bad) as info:
        read({"userId": "U", "traits": {"email": "x@"}}, "identify", "batch[1]")
    assert (info.value.message, info.value.field) == ("not an email address: 'x@'", "batch[1].traits.email")


def test_single_calls_and_batches_keep_the_source_and_read_naive_times_in_the_zone() -> None:
    call = {"type": "track", "userId": "U", "messageId": "a", "event": "E", "timestamp": "2026-01-15T11:00:00"}
    msgs, _problems = read_request("track", call, source="web", received_at=AT, zone=TOKYO)
    assert [(m.source, m.timestamp) for m in msgs] == [("web", AT - timedelta(hours=1))]
    # a batch without sentAt: the event's own time (02:00 UTC), uncorrected; with a naive sentAt,
    # Tokyo's 12:30 (03:30 UTC) is 90 minutes after the event: 03:00 − 1:30
    for sent, expected in ((None, AT - timedelta(hours=1)), ("2026-01-15T12:30:00", AT - timedelta(minutes=90))):
        batch = {"batch": [call, {"type": "track", "event": "E"}], **({"sentAt": sent} if sent else {})}
        msgs, problems = read_request("batch", batch, source="app", received_at=AT, zone=TOKYO,
                                      body=orjson.dumps(batch))  # fmt: skip
        assert [(m.source, m.timestamp) for m in msgs] == [("app", expected)]
        assert problems == [Problem("missing_user", "userId or anonymousId is required", "batch[1].userId")]
    with pytest.raises(Unreadable) as info:
        read_request("batch", {"batch": [], "sentAt": "soon"}, source="s", received_at=AT, zone=TOKYO)
    assert info.value.message == "not an ISO 8601 date and time: 'soon'"
    assert str(info.value) == "not an ISO 8601 date and time: 'soon'"
