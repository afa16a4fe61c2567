"""Fan-out of delivered events to the subscribers of one process, never blocking the sender.

Each subscriber has a bounded buffer. When it is full the subscriber's oldest event is dropped
and counted: a subscriber that stops reading costs at most ``capacity`` events of memory and never
slows publishers or other subscribers. Live consumers (an EVSE status on a dashboard) care about
the newest state most, which is why the oldest goes. Delivery is synchronous and must happen on
the event loop that owns the subscriptions.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Collection

from incar.events.event import Event


class Subscription:
    """One subscriber's events, in delivery order, as an async iterator.

    ``dropped`` counts the events this subscriber lost for reading too slowly. Iteration ends
    once the bus is closed and the buffer is drained.
    """

    def __init__(self, topics: Collection[str] | None, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a subscription holds at least one event")
        self.topics = None if topics is None else frozenset(topics)
        self.capacity = capacity
        self.dropped = 0
        self._buffer: deque[Event] = deque()
        self._ready = asyncio.Event()
        self._ended = False

    @property
    def pending(self) -> int:
        """Events delivered to this subscriber and not yet read."""
        return len(self._buffer)

    def offer(self, event: Event) -> bool:
        """Buffers ``event`` if wanted; returns True if an older event had to be dropped."""
        if self._ended or (self.topics is not None and event.topic not in self.topics):
            return False
        overflow = len(self._buffer) >= self.capacity
        if overflow:
            self._buffer.popleft()
            self.dropped += 1
        self._buffer.append(event)
        self._ready.set()
        return overflow

    def end(self) -> None:
        self._ended = True
        self._ready.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while not self._buffer:
            if self._ended:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._buffer.popleft()


class Fanout:
    """The live subscriptions of one bus; ``dropped`` totals drops over all of them."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.dropped = 0
        self._subscriptions: list[Subscription] = []

    def add(self, topics: Collection[str] | None, capacity: int | None = None) -> Subscription:
        subscription = Subscription(topics, self.capacity if capacity is None else capacity)
        self._subscriptions.append(subscription)
        return subscription

    def discard(self, subscription: Subscription) -> None:
        subscription.end()
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def deliver(self, event: Event) -> None:
        for subscription in self._subscriptions:
            if subscription.offer(event):
                self.dropped += 1

    def end_all(self) -> None:
        for subscription in self._subscriptions:
            subscription.end()
        self._subscriptions.clear()
