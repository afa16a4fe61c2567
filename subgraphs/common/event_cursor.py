"""Subscriptions that resume: a client's ``after`` cursor is a position in the event log
(``incar.events.log.Position``), and each event it is sent carries its own as ``cursor``.

A cursor the log no longer reaches (retention deleted what follows it) ends the subscription
with CURSOR_UNAVAILABLE, on subscribing or later: the client is told to re-read the current
state and subscribe anew, never left with a gap.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager

from incar.events import CursorExpired, Event, EventBus, Position, Subscription
from subgraphs.common.errors import Code, bad_input, error

AFTER = "The `cursor` of the last event received, to resume after it (a reconnect, a restart)."


def resume_point(after: str | None) -> Position | None:
    if after is None:
        return None
    try:
        return Position.parse(after)
    except ValueError:
        raise bad_input("`after` is not a cursor this subscription sent") from None


def cursor_of(event: Event) -> str:
    """The cursor of an event the bus delivered (each has its position)."""
    assert event.position is not None, "only delivered events have a cursor"
    return event.position.cursor()


@asynccontextmanager
async def events_after(
    bus: EventBus, topics: Collection[str], after: str | None
) -> AsyncIterator[Subscription]:
    """The bus's events of ``topics`` after the client's cursor (live ones without it)."""
    point = resume_point(after)
    try:
        async with bus.subscribe(topics, after=point) as events:
            yield events
    except CursorExpired:
        raise error(
            Code.CURSOR_UNAVAILABLE,
            "the events after this cursor are no longer kept: read the current state and "
            "subscribe again without `after`",
        ) from None
