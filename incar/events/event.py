"""The event value every bus carries, and its one stored form (JSON through orjson).

Payloads carry keys and the fields that changed (``{"location_id": ..., "evse_uid": ...,
"status": "CHARGING"}``), never whole OCPI documents: a subscriber that needs the document reads
it from its service. Every event is a row of the log (``incar.events.log``) that each process
reads back, so events stay small: under the limit PostgreSQL's NOTIFY once set for them, which
every bus still enforces alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import orjson

from incar import exactjson

if TYPE_CHECKING:
    from incar.events.log import Position

# PostgreSQL refuses NOTIFY payloads of 8000 bytes or more (server encoding UTF-8); events
# carried them before the log, and the bound keeps each row of the log small.
MAX_EVENT_BYTES = 7999


class EventTooLarge(ValueError):
    """The encoded event exceeds MAX_EVENT_BYTES; publish keys and changed fields instead."""


def _new_id() -> str:
    return str(uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One change, as published after its transaction commits.

    ``payload`` must be JSON-safe. Subscribers receive it as decoded from JSON (a datetime
    arrives as its ISO string), on every bus; they must treat it as read-only, since all
    subscribers of a process share one decoded copy.
    """

    topic: str
    payload: dict[str, Any]
    id: str = field(default_factory=_new_id)
    occurred_at: datetime = field(default_factory=_now)
    #: Where the event stands in the log, set on the events a bus delivers (None on one being
    #: published). Not part of its value: a delivered event equals the one published.
    position: Position | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.topic:
            raise ValueError("an event needs a topic")
        if not isinstance(self.payload, dict):
            raise TypeError(f"an event payload is a dict, got {type(self.payload).__name__}")
        offset = self.occurred_at.utcoffset()
        if offset is None:
            raise ValueError("occurred_at must be timezone-aware")
        if offset != timedelta(0) or self.occurred_at.tzinfo is not UTC:
            object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))

    def at(self, position: Position) -> Event:
        return replace(self, position=position)

    def to_json(self) -> bytes:
        """Raises TypeError (orjson.JSONEncodeError) if the payload is not JSON-safe.

        A number read from a document by the exact parser (a Session's ``kwh``) is written as
        its value: its float (null if not finite, as ``1E400``) or its int.
        """
        return exactjson.dumps_plain(
            {
                "id": self.id,
                "topic": self.topic,
                "occurred_at": self.occurred_at.isoformat(),
                "payload": self.payload,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Event:
        """Raises ValueError if ``data`` is not an event as ``to_json`` writes it."""
        raw = orjson.loads(data)
        if not isinstance(raw, dict):
            raise ValueError("an event is a JSON object")
        try:
            topic, payload, id_, occurred_at = (
                raw["topic"],
                raw["payload"],
                raw["id"],
                raw["occurred_at"],
            )
        except KeyError as missing:
            raise ValueError(f"event JSON lacks {missing}") from None
        if not (isinstance(topic, str) and isinstance(id_, str) and isinstance(occurred_at, str)):
            raise ValueError("event topic, id and occurred_at are strings")
        if not isinstance(payload, dict):
            raise ValueError("event payload is a JSON object")
        return cls(
            topic=topic, payload=payload, id=id_, occurred_at=datetime.fromisoformat(occurred_at)
        )


def encode(event: Event) -> bytes:
    """The event as a bus carries it; raises EventTooLarge past MAX_EVENT_BYTES."""
    data = event.to_json()
    if len(data) > MAX_EVENT_BYTES:
        raise EventTooLarge(
            f"event {event.topic!r} is {len(data)} bytes encoded, over the {MAX_EVENT_BYTES}-byte"
            " limit: publish keys and changed fields, not whole documents"
        )
    return data
