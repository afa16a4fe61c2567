from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from incar.events.event import MAX_EVENT_BYTES, Event, EventTooLarge, encode


def test_json_round_trip_keeps_every_field() -> None:
    event = Event("locations.evse.status", {"evse_uid": "BE*BEC*E041503001", "status": "CHARGING"})

    back = Event.from_json(event.to_json())

    assert back == event
    assert uuid.UUID(back.id).version == 4
    assert back.occurred_at.tzinfo is UTC


def test_each_event_gets_its_own_id() -> None:
    assert Event("t", {}).id != Event("t", {}).id


def test_occurred_at_is_normalised_to_utc() -> None:
    helsinki = timezone(timedelta(hours=3))
    event = Event("t", {}, occurred_at=datetime(2026, 5, 1, 15, 0, tzinfo=helsinki))

    assert event.occurred_at == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Event("t", {}, occurred_at=datetime(2026, 5, 1, 12, 0))


def test_payload_must_be_json_safe() -> None:
    with pytest.raises(TypeError):
        Event("t", {"kwh": Decimal("1.5")}).to_json()


def test_payload_arrives_as_json_values() -> None:
    when = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

    back = Event.from_json(Event("t", {"at": when, "ids": ("a", "b")}).to_json())

    assert back.payload == {"at": "2026-05-01T12:00:00+00:00", "ids": ["a", "b"]}


@pytest.mark.parametrize(
    "data",
    [
        b"[]",
        b'{"topic": "t"}',
        b'{"topic": "t", "id": "x", "occurred_at": "nope", "payload": {}}',
        b'{"topic": 1, "id": "x", "occurred_at": "2026-05-01T12:00:00+00:00", "payload": {}}',
        b'{"topic": "t", "id": "x", "occurred_at": "2026-05-01T12:00:00+00:00", "payload": []}',
        b"not json",
    ],
)
def test_malformed_json_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        Event.from_json(data)


def _event_of_size(size: int) -> Event:
    event = Event("t", {"pad": ""})
    overhead = len(event.to_json())
    return Event("t", {"pad": "x" * (size - overhead)}, id=event.id, occurred_at=event.occurred_at)


def test_encode_accepts_the_limit_and_refuses_one_byte_more() -> None:
    at_limit = _event_of_size(MAX_EVENT_BYTES)
    assert len(encode(at_limit)) == MAX_EVENT_BYTES

    with pytest.raises(EventTooLarge, match="not whole documents"):
        encode(_event_of_size(MAX_EVENT_BYTES + 1))


def test_limit_counts_utf8_bytes_not_characters() -> None:
    with pytest.raises(EventTooLarge):
        encode(Event("t", {"name": "ä" * (MAX_EVENT_BYTES // 2)}))
