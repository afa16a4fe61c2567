"""The locations subgraph's DataLoaders: each kind of row in one query per request batch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import col, select
from strawberry.dataloader import DataLoader

from incar.documents import Document
from subgraphs.bookings import service as bookings
from subgraphs.common.context import GraphContext
from subgraphs.locations.models import Location, Tariff

DocKey = tuple[str, str, str]  # country_code, party_id, object_id; upper-cased


@dataclass(frozen=True, slots=True)
class Doc:
    """A stored document and its key, as the graph's types read it."""

    pk: int
    country_code: str
    party_id: str
    object_id: str
    data: Mapping[str, Any]


def _doc(row: Document) -> Doc:
    assert row.pk is not None
    return Doc(row.pk, row.country_code, row.party_id, row.object_id, row.data)


def _by_key(table: type[Document], context: GraphContext) -> DataLoader[DocKey, Doc | None]:
    async def load(keys: list[DocKey]) -> Sequence[Doc | None]:
        async with context.runtime.db.transaction() as tx:
            rows = (
                await tx.execute(
                    select(table).where(
                        tuple_(
                            col(table.country_code), col(table.party_id), col(table.object_id)
                        ).in_(list(set(keys)))
                    )
                )
            ).scalars()
            found = {(r.country_code, r.party_id, r.object_id): _doc(r) for r in rows}
        return [found.get(key) for key in keys]

    return DataLoader(load)


def _locations_by_pk(context: GraphContext) -> DataLoader[int, Doc | None]:
    async def load(pks: list[int]) -> Sequence[Doc | None]:
        async with context.runtime.db.transaction() as tx:
            rows = (
                await tx.execute(select(Location).where(col(Location.pk).in_(list(set(pks)))))
            ).scalars()
            found = {r.pk: _doc(r) for r in rows}
        return [found.get(pk) for pk in pks]

    return DataLoader(load)


def locations_by_pk(context: GraphContext) -> DataLoader[int, Doc | None]:
    return context.loader("locations.by_pk", _locations_by_pk)


def locations_by_key(context: GraphContext) -> DataLoader[DocKey, Doc | None]:
    return context.loader("locations.by_key", lambda c: _by_key(Location, c))


def tariffs_by_key(context: GraphContext) -> DataLoader[DocKey, Doc | None]:
    return context.loader("tariffs.by_key", lambda c: _by_key(Tariff, c))


def doc_key(country_code: str, party_id: str, object_id: str) -> DocKey:
    return country_code.upper(), party_id.upper(), object_id.upper()


EvseKey = tuple[str, str, str, str]


def _booked(context: GraphContext) -> DataLoader[EvseKey, bool]:
    async def load(keys: list[EvseKey]) -> Sequence[bool]:
        async with context.runtime.db.transaction() as tx:
            held = await bookings.holding_for(tx, keys, context.now())
        return [key in held for key in keys]

    return DataLoader(load)


def booked_evses(context: GraphContext) -> DataLoader[EvseKey, bool]:
    """Whether a booking holds each EVSE now (the bookings service's answer, batched)."""
    return context.loader("locations.booked", _booked)
