"""The locations subgraph's DataLoaders: each kind of row in one query per request batch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, tuple_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from strawberry.dataloader import DataLoader

from incar.documents import Document
from subgraphs.bookings import service as bookings
from subgraphs.common.context import GraphContext
from subgraphs.common.keys import ObjectKey, object_key
from subgraphs.locations.models import Location, Tariff

DocKey = ObjectKey  # country_code, party_id, object_id; upper-cased


@dataclass(frozen=True, slots=True)
class Doc:
    """A stored document and its key, as the graph's types read it."""

    pk: int
    country_code: str
    party_id: str
    object_id: str
    data: Mapping[str, Any]


def _documents(table: type[Document]) -> Select[int, str, str, str, Mapping[str, Any]]:
    # Plain columns, not ORM objects: their identity map and state were a third of the cost
    # of loading a page of documents, and nothing here writes them.
    return select_columns(
        col(table.pk),
        col(table.country_code),
        col(table.party_id),
        col(table.object_id),
        col(table.data),
    )


def _by_key(table: type[Document], context: GraphContext) -> DataLoader[DocKey, Doc | None]:
    async def load(keys: list[DocKey]) -> Sequence[Doc | None]:
        async with context.runtime.db.transaction() as tx:
            rows = await tx.execute(
                _documents(table).where(
                    tuple_(col(table.country_code), col(table.party_id), col(table.object_id)).in_(
                        list(set(keys))
                    )
                )
            )
            found = {(r[1], r[2], r[3]): Doc(*r) for r in rows.all()}
        return [found.get(key) for key in keys]

    return DataLoader(load)


async def locations_of(tx: AsyncSession, pks: Iterable[int]) -> dict[int, Doc]:
    """Location documents by primary key (a page of search hits, in the search's own
    transaction)."""
    rows = await tx.execute(_documents(Location).where(col(Location.pk).in_(list(set(pks)))))
    return {row[0]: Doc(*row) for row in rows.all()}


def locations_by_key(context: GraphContext) -> DataLoader[DocKey, Doc | None]:
    return context.loader("locations.by_key", lambda c: _by_key(Location, c))


def tariffs_by_key(context: GraphContext) -> DataLoader[DocKey, Doc | None]:
    return context.loader("tariffs.by_key", lambda c: _by_key(Tariff, c))


doc_key = object_key


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
