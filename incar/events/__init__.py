"""The platform's event bus: one event per committed change, for subscriptions and KPIs.

``create_bus`` picks the carrier from ``Settings.event_bus``: ``memory`` for the embedded
single-process deployment, ``postgres`` (LISTEN/NOTIFY) when several processes share one
PostgreSQL database. Both keep the rule of ``bus.EventBus``: delivered iff the transaction commits.
"""

from __future__ import annotations

from incar.events.bus import BusNotRunning, EventBus, NotInTransaction
from incar.events.event import MAX_EVENT_BYTES, Event, EventTooLarge
from incar.events.fanout import Subscription
from incar.events.memory import MemoryBus
from incar.events.postgres import PostgresBus
from incar.events.publishing import NoBusAttached, attach, attach_factory, bus_of, publish

__all__ = [
    "MAX_EVENT_BYTES",
    "BusNotRunning",
    "Event",
    "EventBus",
    "EventTooLarge",
    "MemoryBus",
    "NoBusAttached",
    "NotInTransaction",
    "PostgresBus",
    "Subscription",
    "attach",
    "attach_factory",
    "bus_of",
    "create_bus",
    "publish",
]


def create_bus(kind: str, database_url: str) -> EventBus:
    """``kind`` is ``Settings.event_bus``; the postgres bus needs a PostgreSQL ``database_url``."""
    if kind == "memory":
        return MemoryBus()
    if kind == "postgres":
        return PostgresBus(database_url)
    raise ValueError(f"unknown event bus {kind!r}: expected 'memory' or 'postgres'")
