"""Fan-out of the log's events to the subscribers of one process, never blocking the reader.

A subscriber is either live (handed each event as the process's reader reads it from the log)
or catching up (reading the log itself, from its own position). It starts catching up when it
asked to resume from a position, and falls back to it whenever its bounded buffer is full: a
subscriber that stops reading costs at most ``capacity`` events of memory, never slows the
reader or other subscribers, and loses nothing as long as the log still holds its position.
If retention has deleted events it has not read, its iteration raises ``CursorExpired``: it is
told, never left with a gap. Delivery is synchronous and on the event loop that owns the
subscriptions.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Collection
from typing import Protocol

from incar.events.event import Event
from incar.events.log import Page, Position


class Source(Protocol):
    """What a subscription reads from when it is not live: the process's log reader."""

    @property
    def position(self) -> Position:
        """The position of the last event handed to live subscribers."""

    async def read(self, after: Position, limit: int) -> Page:
        """The log's final events after ``after``; raises CursorExpired."""

    async def changed(self) -> None:
        """Returns once the reader has read further (or the bus closed)."""

    def go_live(self, subscription: Subscription) -> None: ...

    def leave_live(self, subscription: Subscription) -> None: ...


class Subscription:
    """One subscriber's events, in position order, as an async iterator.

    ``position`` is that of the last event iterated (or where it began); ``overflows`` counts
    the times its buffer filled and it went back to reading the log. Iteration ends once the
    bus is closed and the buffer is drained.
    """

    def __init__(
        self,
        source: Source,
        topics: Collection[str] | None,
        capacity: int,
        after: Position,
        skip: frozenset[Position] = frozenset(),
    ) -> None:
        if capacity < 1:
            raise ValueError("a subscription holds at least one event")
        self.topics = None if topics is None else frozenset(topics)
        self.capacity = capacity
        self.position = after
        self.overflows = 0
        self._source = source
        # Events after ``after`` committed before the subscription began (see LogReader).
        self._skip = skip
        # The position of the last event buffered or passed over: the log is read after it.
        self._tail = after
        self._buffer: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._live = False
        self._ended = False
        self._error: Exception | None = None

    @property
    def pending(self) -> int:
        """Events buffered for this subscriber and not yet read."""
        return len(self._buffer)

    @property
    def live(self) -> bool:
        return self._live

    def join_live(self) -> None:
        self._live = True

    def offer(self, event: Event) -> bool:
        """Takes a live ``event``; returns True if the buffer was full (the subscriber leaves
        the live stream then, and reads the log from its last event on)."""
        assert event.position is not None
        if self._ended or not self._live or event.position <= self._tail:
            return False
        if not self._wanted(event):
            self._tail = event.position
            return False
        if len(self._buffer) >= self.capacity:
            self._live = False
            self.overflows += 1
            self._source.leave_live(self)
            self._ready.set()
            return True
        self._tail = event.position
        self._buffer.append(event)
        self._ready.set()
        return False

    def _wanted(self, event: Event) -> bool:
        if event.position in self._skip:
            return False
        return self.topics is None or event.topic in self.topics

    def end(self, error: Exception | None = None) -> None:
        """Ends the iteration once the buffer is drained, raising ``error`` then if given."""
        self._ended = True
        self._error = self._error or error
        self._ready.set()

    def take_ready(self, limit: int) -> list[Event]:
        """Up to ``limit`` buffered events, without waiting for more (batching readers)."""
        taken: list[Event] = []
        while self._buffer and len(taken) < limit:
            taken.append(self._buffer.popleft())
        if taken:
            assert taken[-1].position is not None
            self.position = taken[-1].position
        return taken

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            if self._live:
                self._ready.clear()
                await self._ready.wait()
            else:
                await self._catch_up()
        event = self._buffer.popleft()
        assert event.position is not None
        self.position = event.position
        return event

    async def _catch_up(self) -> None:
        page = await self._source.read(self._tail, self.capacity)
        if self._ended:
            return
        for event in page.events:
            assert event.position is not None
            self._tail = event.position
            if self._wanted(event):
                self._buffer.append(event)
        if page.events:
            return
        # Nothing left that is final: join the live stream if the reader is not ahead of this
        # position (no await between the check and the join, so no event falls in between).
        if self._tail >= self._source.position:
            self._source.go_live(self)
            return
        await self._source.changed()


class Fanout:
    """The live subscriptions of one bus; ``overflows`` totals their fallbacks to the log."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.overflows = 0
        self._live: list[Subscription] = []
        self._all: set[Subscription] = set()

    def add(self, subscription: Subscription) -> None:
        self._all.add(subscription)

    def go_live(self, subscription: Subscription) -> None:
        if subscription in self._all and not subscription.live:
            subscription.join_live()
            self._live.append(subscription)

    def leave_live(self, subscription: Subscription) -> None:
        if subscription in self._live:
            self._live.remove(subscription)

    def discard(self, subscription: Subscription) -> None:
        subscription.end()
        self._all.discard(subscription)
        self.leave_live(subscription)

    def deliver(self, event: Event) -> None:
        for subscription in list(self._live):
            if subscription.offer(event):
                self.overflows += 1

    def fail_live(self, error: Exception) -> None:
        for subscription in self._live:
            subscription.end(error)
        self._live.clear()

    def end_all(self) -> None:
        for subscription in self._all:
            subscription.end()
        self._all.clear()
        self._live.clear()
