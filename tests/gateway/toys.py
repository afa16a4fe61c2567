"""Two toy subgraphs for the gateway's tests: ``stations`` owns Station (keyed like an OCPI
Location: country code, party id, id) and streams ticks; ``status`` extends Station with a field.

Each field that reports ``seenBy`` echoes the Authorization the subgraph received, so a test can
tell whether the gateway passed the client's token on (HTTP header or WebSocket init payload).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import strawberry
from strawberry.federation import Schema

from subgraphs.common.app import federation_schema
from tests.gateway.caller import authorization


@strawberry.federation.type(keys=["countryCode partyId id"])
class Station:
    country_code: str
    party_id: str
    id: strawberry.ID
    name: str

    @strawberry.field
    def neighbours(self) -> list[Station]:
        """A list of lists of lists, so a test can build an expensive query."""
        return [station(f"{self.id}.{n}") for n in range(1, 3)]

    @classmethod
    def resolve_reference(cls, **representation: str) -> Station:
        return station(representation["id"])


def station(id: str) -> Station:
    return Station(country_code="FI", party_id="ICR", id=strawberry.ID(id), name=f"Station {id}")


@strawberry.type
class Node:
    """A recursive type, so a test can ask for any depth."""

    @strawberry.field
    def child(self) -> Node:
        return Node()

    @strawberry.field
    def leaf(self) -> int:
        return 1


@strawberry.type
class Tick:
    n: int
    station: Station
    seen_by: str | None

    @strawberry.field
    def boom(self) -> str | None:
        """Fails on the second tick: an error while an event is executed."""
        if self.n == 2:
            raise RuntimeError("a secret of the second tick")
        return "fine"


class Gathering:
    """Open ``ticks`` subscriptions, so each can wait for the others: a test of many concurrent
    subscriptions must see them open at the same time, not one after another."""

    def __init__(self) -> None:
        self.open = 0
        self.changed = asyncio.Condition()

    async def join(self, together: int) -> None:
        async with self.changed:
            self.open += 1
            self.changed.notify_all()
            await asyncio.wait_for(self.changed.wait_for(lambda: self.open >= together), 20)

    async def leave(self) -> None:
        async with self.changed:
            self.open -= 1


GATHERING = Gathering()


@strawberry.type(name="Query")
class StationsQuery:
    @strawberry.field
    def stations(self, first: int = 3) -> list[Station]:
        return [station(str(n)) for n in range(1, first + 1)]

    @strawberry.field
    def seen_by(self, info: strawberry.Info) -> str | None:
        return authorization(info.context)

    @strawberry.field
    def count(self, values: list[int]) -> int:
        """A field whose argument can be any number of tokens long."""
        return len(values)

    @strawberry.field
    def node(self) -> Node:
        return Node()

    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError("a secret the client must not see")


@strawberry.type(name="Subscription")
class StationsSubscription:
    @strawberry.subscription
    async def ticks(
        self, info: strawberry.Info, count: int, together: int = 1
    ) -> AsyncGenerator[Tick]:
        seen_by = authorization(info.context)
        await GATHERING.join(together)
        try:
            for n in range(1, count + 1):
                yield Tick(n=n, station=station(str(n)), seen_by=seen_by)
                await asyncio.sleep(0.01)
        finally:
            await GATHERING.leave()

    @strawberry.subscription
    async def breaking(self, count: int) -> AsyncGenerator[Tick]:
        """Ticks ``count`` times, then its source fails: an error between events."""
        for n in range(1, count + 1):
            yield Tick(n=n, station=station(str(n)), seen_by=None)
        raise RuntimeError("a secret of the event source")


@strawberry.federation.type(name="Station", keys=["countryCode partyId id"])
class StatusStation:
    country_code: str
    party_id: str
    id: strawberry.ID

    @strawberry.field
    def status(self) -> str:
        return "AVAILABLE"

    @strawberry.field
    def status_seen_by(self, info: strawberry.Info) -> str | None:
        return authorization(info.context)


@strawberry.type(name="Query")
class StatusQuery:
    @strawberry.field
    def status_version(self) -> str:
        return "1"


def stations_schema() -> Schema:
    return federation_schema(query=StationsQuery, subscription=StationsSubscription)


def status_schema() -> Schema:
    return federation_schema(query=StatusQuery, types=[StatusStation])
