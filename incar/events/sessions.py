"""The bus rides along with the database sessions, so services publish with only a session.

Wiring, once per process::

    bus = create_bus(settings.event_bus, settings.database_url)
    await bus.start()
    attach_factory(db.sessions, bus)

then in a service::

    async with db.transaction() as session:
        ...  # the change
        await events.publish(session, "locations.evse.status", {"evse_uid": uid, ...})
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from incar.events.bus import EventBus
from incar.events.event import Event

_BUS = "incar.events.bus"


class NoBusAttached(LookupError):
    """A service published through a session that no bus was attached to."""


def attach(session: AsyncSession, bus: EventBus) -> None:
    """Attaches ``bus`` to one session."""
    session.info[_BUS] = bus


def attach_factory(sessions: async_sessionmaker[AsyncSession], bus: EventBus) -> None:
    """Attaches ``bus`` to every session ``sessions`` makes from now on (``Database.sessions``)."""
    info: dict[Any, Any] = dict(sessions.kw.get("info") or {})
    info[_BUS] = bus
    sessions.configure(info=info)


def bus_of(session: AsyncSession) -> EventBus:
    bus: EventBus | None = session.info.get(_BUS)
    if bus is None:
        raise NoBusAttached("no event bus is attached to this session (see incar.events.attach)")
    return bus


async def publish(session: AsyncSession, topic: str, payload: dict[str, Any]) -> Event:
    """Publishes a new event through the session's bus, delivered once its transaction commits."""
    event = Event(topic=topic, payload=payload)
    await bus_of(session).publish(session, event)
    return event
