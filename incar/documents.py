"""OCPI objects kept as the owner sent them, with a few indexed columns.

The hub serves these back in GET All and the graph is built on them, so a pushed object is
stored as its exact text (the owner's ``last_updated`` included) and served as that text; the
columns exist to find and page them. Services read ``data`` as a dict (an ``ExactObject``); a
document they compose (a merged PATCH) is written by the exact writer, and never deeper than
``exactjson.MAX_DEPTH``. Several contexts keep documents (locations, tariffs, sessions, tokens,
CDRs): the table shape and the upsert/page rules live here, once.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Table, Text, bindparam, cast, func, update
from sqlalchemy import delete as sa_delete
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlmodel import Field, SQLModel, col, select

from incar import direct, exactjson
from incar.columns import ExactJson, UtcDateTime


class Document(SQLModel):
    """Columns every document table has; subclasses add a table name and their unique key."""

    pk: int | None = Field(default=None, primary_key=True)
    country_code: str = Field(max_length=2, index=True)
    party_id: str = Field(max_length=3, index=True)
    object_id: str = Field(max_length=36, index=True)
    last_updated: datetime = Field(sa_type=UtcDateTime, index=True)
    data: dict[str, Any] = Field(sa_type=ExactJson)


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    STALE = "stale"  # older than what is stored: an out-of-order delivery, not applied
    UNCHANGED = "unchanged"  # the very object stored already (a repeat): nothing to apply
    UNKNOWN = "unknown"  # a change to an object the hub never stored (a PATCH before any PUT)
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Page:
    items: list[str]  # each document's JSON text, exactly as stored
    total: int


def key(country_code: str, party_id: str, object_id: str) -> dict[str, str]:
    """A document's key. OCPI ids and parties are CiStrings (case-insensitive): "loc9" and
    "LOC9" of one owner are one object, so the key is kept upper-cased; the document keeps the
    owner's spelling."""
    return {
        "country_code": country_code.upper(),
        "party_id": party_id.upper(),
        "object_id": object_id.upper(),
    }


def key_filter(table: type[Document], key: dict[str, Any]) -> list[ColumnElement[bool]]:
    return [col(getattr(table, column)) == value for column, value in key.items()]


LOCKED = "incar.documents.locked"


@dataclass(slots=True)
class Stored:
    """A document's row as a read-modify-write holds it, locked: kept up to date by ``upsert``
    within the transaction."""

    pk: int
    last_updated: datetime
    data: dict[str, Any]


async def find[D: Document](tx: AsyncSession, table: type[D], *, key: dict[str, Any]) -> D | None:
    """The document with this key, unlocked (a read that changes nothing)."""
    params = {f"k_{column}": value for column, value in key.items()}
    return (await tx.execute(_find_query(table, tuple(key)), params)).scalars().first()


@functools.cache
def _find_query(table: type[Document], columns: tuple[str, ...]) -> Any:
    """The statement of ``find``, built once per table and key: a read made anew per call
    cost more in SQLAlchemy's construction than the database spent on it."""
    return select(table).where(
        *(col(getattr(table, column)) == bindparam(f"k_{column}") for column in columns)
    )


async def locked(tx: AsyncSession, table: type[Document], *, key: dict[str, Any]) -> Stored | None:
    """The document with this key, locked until the transaction ends (read-modify-write).

    Its read, and ``upsert``'s UPDATE, run on the driver connection (``incar.direct``): they
    are the hot path of EVSE PATCHes. Within one transaction (a ``tx`` of
    ``Database.transaction``) a second read of the key, as ``upsert`` makes after a service
    read the document to merge into it, is answered from the row already held, which cannot
    have changed.
    """
    held = _held(tx)
    found = held.get(_ident(table, key))
    if found is not None:
        return found
    params = {f"k_{column}": value for column, value in key.items()}
    rows = (await direct.execute(tx, _locked_query(table, tuple(sorted(key))), params)).rows
    if not rows:
        return None
    pk, last_updated, data = rows[0]
    held[_ident(table, key)] = found = Stored(pk, last_updated, data)
    return found


async def data_of(
    tx: AsyncSession, table: type[Document], *, key: dict[str, Any], for_update: bool = False
) -> dict[str, Any] | None:
    """The stored document's data; ``for_update`` locks it until the transaction ends."""
    if for_update:
        held = await locked(tx, table, key=key)
        return held.data if held else None
    row = await find(tx, table, key=key)
    return row.data if row else None


def _held(tx: AsyncSession) -> dict[tuple[Any, ...], Stored]:
    """The rows this transaction holds locked, by ``_ident``."""
    held: dict[tuple[Any, ...], Stored] = tx.info.setdefault(LOCKED, {})
    return held


def _ident(table: type[Document], key: dict[str, Any]) -> tuple[Any, ...]:
    return (table, *sorted(key.items()))


@functools.cache
def _locked_query(table: type[Document], columns: tuple[str, ...]) -> Any:
    rows = _table(table)
    return (
        sa_select(rows.c.pk, rows.c.last_updated, rows.c.data)
        .where(*(rows.c[column] == bindparam(f"k_{column}") for column in columns))
        .with_for_update()
    )


@functools.cache
def _update_query(table: type[Document]) -> Any:
    rows = _table(table)
    return update(rows).where(rows.c.pk == bindparam("b_pk"))


def _table(table: type[Document]) -> Table:
    rows: Table = table.__table__  # type: ignore[attr-defined]
    return rows


async def upsert(
    tx: AsyncSession,
    table: type[Document],
    *,
    key: dict[str, Any],
    last_updated: datetime,
    data: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> tuple[Outcome, Stored]:
    """Stores ``data`` unless what is stored is newer (last_updated decides, never the clock).

    Raises ``exactjson.TooDeep`` (nothing stored) if ``data`` nests deeper than the limit.
    """
    data = storable(data)
    row = await locked(tx, table, key=key)
    if row is None:
        created = table(**key, last_updated=last_updated, data=data, **(extra or {}))
        tx.add(created)
        await tx.flush()
        assert created.pk is not None
        row = Stored(created.pk, last_updated, data)
        _held(tx)[_ident(table, key)] = row
        return Outcome.CREATED, row
    if row.last_updated > last_updated:
        return Outcome.STALE, row
    values = {"last_updated": last_updated, "data": data, **(extra or {})}
    await direct.execute(tx, _update_query(table), {"b_pk": row.pk, **values})
    row.last_updated, row.data = last_updated, data
    # An object of this row the ORM loaded earlier in this transaction holds what was written.
    loaded = tx.sync_session.identity_map.get(identity_key(table, row.pk))
    if loaded is not None:
        for column, value in values.items():
            set_committed_value(loaded, column, value)
    return Outcome.UPDATED, row


async def delete(tx: AsyncSession, table: type[Document], *, key: dict[str, Any]) -> None:
    """Deletes the document of this key, which this transaction holds (``locked``)."""
    row = _held(tx).pop(_ident(table, key))
    rows = _table(table)
    await tx.execute(sa_delete(rows).where(rows.c.pk == row.pk))
    loaded = tx.sync_session.identity_map.get(identity_key(table, row.pk))
    if loaded is not None:
        tx.expunge(loaded)


def storable(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as it will be stored, with its exact text; raises ``exactjson.TooDeep`` if it
    nests deeper than a stored document may: what the hub stores, it must be able to serve (a
    body within the limit can still make a deeper document when merged into one an older
    version stored)."""
    return exactjson.storable(data)


async def page(
    tx: AsyncSession,
    table: type[Document],
    *,
    where: Sequence[ColumnElement[bool]] = (),
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> Page:
    """A page in creation order, which stays stable while a client walks the Links."""
    conditions = list(where)
    if date_from is not None:
        conditions.append(col(table.last_updated) >= date_from)
    if date_to is not None:
        conditions.append(col(table.last_updated) < date_to)
    total = (
        await tx.execute(select(func.count()).select_from(table).where(*conditions))
    ).scalar_one()
    # The stored text, unparsed: GET All puts it into the page as it is.
    rows = await tx.execute(
        select(cast(col(table.data), Text))
        .where(*conditions)
        .order_by(col(table.pk))
        .offset(offset)
        .limit(limit)
    )
    return Page(items=[r for (r,) in rows.all()], total=int(total))


def merge(document: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """OCPI PATCH: the fields present replace those stored; absent ones stay (no deletion)."""
    merged = dict(document)
    merged.update(patch)
    return merged
