"""The bus rides along with each database transaction (``tx``), so services publish with only a tx.

Wiring, once per process::

    bus = create_bus(settings.event_bus, settings.database_url)
    await bus.start()
    attach_factory(db.factory, bus)

then in a service::

    async with db.transaction() as tx:
        ...  # the change
        await events.publish(tx, "locations.evse.status", {"evse_uid": uid, ...})
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from incar.events.bus import EventBus
from incar.events.event import Event

_BUS = "incar.events.bus"


class NoBusAttached(LookupError):
    """A service published through a tx that no bus was attached to."""


def attach(tx: AsyncSession, bus: EventBus) -> None:
    """Attaches ``bus`` to one tx."""
    tx.info[_BUS] = bus


def attach_factory(sessions: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
    """Attaches ``bus`` to every tx ``factory`` makes from now on (``Database.factory``)."""
    info: dict[Any, Any] = dict(sessions.kw.get("info") or {})
    info[_BUS] = bus
    sessions.configure(info=info)


def bus_of(tx: AsyncSession) -> EventBus:
    bus: EventBus | None = tx.info.get(_BUS)
    if bus is None:
        raise NoBusAttached("no event bus is attached to this tx (see incar.events.attach)")
    return bus


async def publish(tx: AsyncSession, topic: str, payload: dict[str, Any]) -> Event:
    """Publishes a new event through the tx's bus, delivered once its transaction commits."""
    (event,) = await publish_all(tx, [(topic, payload)])
    return event


async def publish_all(
    tx: AsyncSession, published: Sequence[tuple[str, dict[str, Any]]]
) -> list[Event]:
    """Publishes several (topic, payload) events at once, in this order: what one change
    publishes costs one statement."""
    events = [Event(topic=topic, payload=payload) for topic, payload in published]
    if events:
        await bus_of(tx).publish(tx, *events)
    return events
