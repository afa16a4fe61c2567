"""The platform's event bus: one event per committed change, for subscriptions and KPIs.

Every event is a row of the durable log (``log``), written in its change's transaction, with a
position subscribers resume from. ``create_bus`` picks how readers are woken from
``Settings.event_bus``: ``memory`` within the one process of the embedded deployment,
``postgres`` (LISTEN/NOTIFY) when several processes share one PostgreSQL database. Both keep the
rule of ``bus.EventBus``: delivered iff the transaction commits, never with a silent gap.
"""

from __future__ import annotations

from incar.events.bus import BusNotRunning, EventBus, NotInTransaction
from incar.events.event import MAX_EVENT_BYTES, Event, EventTooLarge
from incar.events.fanout import Subscription
from incar.events.log import CursorExpired, Position, Retention
from incar.events.memory import MemoryBus
from incar.events.postgres import PostgresBus
from incar.events.publishing import (
    NoBusAttached,
    attach,
    attach_factory,
    bus_of,
    publish,
    publish_all,
)

__all__ = [
    "MAX_EVENT_BYTES",
    "BusNotRunning",
    "CursorExpired",
    "Event",
    "EventBus",
    "EventTooLarge",
    "MemoryBus",
    "NoBusAttached",
    "NotInTransaction",
    "Position",
    "PostgresBus",
    "Retention",
    "Subscription",
    "attach",
    "attach_factory",
    "bus_of",
    "create_bus",
    "publish",
    "publish_all",
]


def create_bus(kind: str, database_url: str, retention: Retention | None = None) -> EventBus:
    """``kind`` is ``Settings.event_bus``; the postgres bus needs a PostgreSQL ``database_url``."""
    if kind == "memory":
        return MemoryBus(database_url, retention=retention)
    if kind == "postgres":
        return PostgresBus(database_url, retention=retention)
    raise ValueError(f"unknown event bus {kind!r}: expected 'memory' or 'postgres'")
