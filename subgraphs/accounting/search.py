"""Finding CDRs: who may see which, the filters of a search, and keyset pages over them.

A search's CDRs come in the order of their ``start_date_time`` (then the row's key, so two
CDRs that started in the same instant keep one order), and its date range applies to the
same field: an accountant's period is when the charging happened, not when the CPO last
touched the record. Pages are keyset pages (a cursor is the last row's start and key), so a
page costs the same at row ten million as at row ten, and an export walks the whole result
without holding it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Select,
    exists,
    false,
    literal,
    or_,
    select,
    true,
    tuple_,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar.columns import UtcDateTime
from incar.db import Database
from subgraphs.accounting.models import Cdr, CdrTariff, PriceCheckStatus

MAX_PAGE: Final = 100
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
type Party = tuple[str, str]


class SearchError(ValueError):
    """A search the platform will not run (a malformed cursor, an empty range); nothing is
    read."""


@dataclass(frozen=True, slots=True)
class Audience:
    """Whose CDRs a reader may see: a party (as CPO its own locations', as eMSP its
    customers'), a driver (their eMSP's CDRs of their token), or the hub's operator (all,
    from the command line, which has the database anyway)."""

    party: Party | None = None
    token_uid: str | None = None
    everything: bool = False

    @classmethod
    def hub(cls) -> Audience:
        return cls(everything=True)

    def roles(self) -> list[ColumnElement[bool]]:
        """What the audience sees, as conditions any one of which admits a CDR: a party's
        two (as CPO, as eMSP), each of which an index reads in (start, pk) order."""
        if self.everything:
            return [true()]
        if self.party is None:
            return [false()]
        cc, pid = self.party
        as_emsp = (col(Cdr.emsp_country_code) == cc) & (col(Cdr.emsp_party_id) == pid)
        if self.token_uid is not None:
            return [as_emsp & (col(Cdr.token_uid) == self.token_uid)]
        as_cpo = (col(Cdr.country_code) == cc) & (col(Cdr.party_id) == pid)
        return [as_cpo, as_emsp]

    def condition(self) -> ColumnElement[bool]:
        return or_(*self.roles())

    def sees(self, row: Cdr) -> bool:
        """``condition`` for a row already read (an entity resolved by its key)."""
        if self.everything:
            return True
        if self.party is None:
            return False
        emsp = (row.emsp_country_code, row.emsp_party_id) == self.party
        if self.token_uid is not None:
            return emsp and row.token_uid == self.token_uid
        return emsp or (row.country_code, row.party_id) == self.party


@dataclass(frozen=True, slots=True)
class LocationRef:
    country_code: str
    party_id: str
    location_id: str


@dataclass(frozen=True, slots=True)
class CdrFilter:
    """Every filter given must hold; ids are matched case-insensitively (CiStrings)."""

    #: The CDR started at or after ``start_from`` and before ``start_to`` (UTC instants).
    start_from: datetime | None = None
    start_to: datetime | None = None
    location: LocationRef | None = None
    evse_uid: str | None = None  # within ``location`` if one is given
    token_uid: str | None = None  # the cdr_token's uid
    tariff_id: str | None = None  # a tariff the CDR carries or its periods name
    cpo: Party | None = None
    emsp: Party | None = None
    #: The hub's price check of the CDR is one of these (a CDR stored unchecked, before
    #: migration 0010, matches none).
    price_check: frozenset[PriceCheckStatus] | None = None

    def check(self) -> None:
        if self.start_from and self.start_to and self.start_from >= self.start_to:
            raise SearchError("startFrom must be before startTo")
        if self.price_check is not None and not self.price_check:
            raise SearchError("priceCheck: name at least one status")

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [col(Cdr.start_date_time).is_not(None)]
        if self.start_from is not None:
            found.append(col(Cdr.start_date_time) >= self.start_from)
        if self.start_to is not None:
            found.append(col(Cdr.start_date_time) < self.start_to)
        if self.location is not None:
            found += [
                col(Cdr.country_code) == self.location.country_code.upper(),
                col(Cdr.party_id) == self.location.party_id.upper(),
                col(Cdr.location_id) == self.location.location_id.upper(),
            ]
        if self.evse_uid is not None:
            found.append(col(Cdr.evse_uid) == self.evse_uid.upper())
        if self.token_uid is not None:
            found.append(col(Cdr.token_uid) == self.token_uid.upper())
        if self.cpo is not None:
            found += [
                col(Cdr.country_code) == self.cpo[0].upper(),
                col(Cdr.party_id) == self.cpo[1].upper(),
            ]
        if self.emsp is not None:
            found += [
                col(Cdr.emsp_country_code) == self.emsp[0].upper(),
                col(Cdr.emsp_party_id) == self.emsp[1].upper(),
            ]
        if self.price_check is not None:
            found.append(col(Cdr.price_check).in_(sorted(self.price_check)))
        if self.tariff_id is not None:
            found.append(
                exists().where(
                    col(CdrTariff.cdr_pk) == col(Cdr.pk),
                    col(CdrTariff.tariff_id) == self.tariff_id.upper(),
                )
            )
        return found


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ends: its last row's start and key."""

    start: datetime
    pk: int

    def cursor(self) -> str:
        micros = (self.start - EPOCH) // timedelta(microseconds=1)
        return base64.urlsafe_b64encode(f"{micros}:{self.pk}".encode()).decode()

    @classmethod
    def of(cls, cursor: str) -> Position:
        try:
            micros, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
            return cls(EPOCH + timedelta(microseconds=int(micros)), int(pk))
        except (binascii.Error, UnicodeError, ValueError, OverflowError):
            raise SearchError("after: not a cursor of a CDR search") from None


@dataclass(frozen=True, slots=True)
class CdrPage:
    rows: list[Cdr]
    has_next: bool

    def end(self) -> Position | None:
        if not self.rows:
            return None
        last = self.rows[-1]
        assert last.start_date_time is not None and last.pk is not None
        return Position(last.start_date_time, last.pk)


def after(position: Position | None) -> list[ColumnElement[bool]]:
    if position is None:
        return []
    # A row-value comparison: both databases read it as one range of the (start, pk) index.
    return [
        tuple_(col(Cdr.start_date_time), col(Cdr.pk))
        > tuple_(literal(position.start, UtcDateTime()), literal(position.pk))
    ]


def ordered[T: Select[*tuple[Any, ...]]](query: T) -> T:
    return query.order_by(col(Cdr.start_date_time), col(Cdr.pk))


def next_rows[T: Select[*tuple[Any, ...]]](
    query: T, *, audience: Audience, filter: CdrFilter, position: Position | None, limit: int
) -> T:
    """``query`` (a select of Cdr's columns) narrowed to the next ``limit`` CDRs after
    ``position``. A party's two roles are read as two ordered index scans of ``limit`` rows
    each whose keys the page then takes the first ``limit`` of: a single OR would make the
    database sort all of the party's CDRs for every page."""
    filter.check()
    conditions = [*filter.conditions(), *after(position)]
    roles = audience.roles()
    if len(roles) == 1:
        return ordered(query.where(roles[0], *conditions).limit(limit))
    scans = [
        ordered(select(col(Cdr.pk)).where(role, *conditions).limit(limit)).subquery()
        for role in roles
    ]
    keys = union(*(select(scan.c.pk) for scan in scans))
    return ordered(query.where(col(Cdr.pk).in_(keys)).limit(limit))


async def page(
    tx: AsyncSession,
    *,
    audience: Audience,
    filter: CdrFilter,
    first: int,
    after_cursor: str | None = None,
) -> CdrPage:
    """``first`` CDRs (1 to MAX_PAGE) after the cursor; one more is read to tell whether
    another page follows."""
    if not 1 <= first <= MAX_PAGE:
        raise SearchError(f"first: from 1 to {MAX_PAGE}")
    position = Position.of(after_cursor) if after_cursor else None
    query = next_rows(
        select(Cdr), audience=audience, filter=filter, position=position, limit=first + 1
    )
    found = list((await tx.execute(query)).scalars())
    return CdrPage(rows=found[:first], has_next=len(found) > first)


async def by_keys(
    tx: AsyncSession, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Cdr]:
    """CDRs by (country code, party id, CDR id), upper-cased."""
    if not keys:
        return {}
    query = select(Cdr).where(
        tuple_(col(Cdr.country_code), col(Cdr.party_id), col(Cdr.object_id)).in_(list(set(keys)))
    )
    return {
        (r.country_code, r.party_id, r.object_id): r for r in (await tx.execute(query)).scalars()
    }


async def by_sessions(
    tx: AsyncSession, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], list[Cdr]]:
    """CDRs by the (CPO country code, party id, session id) of their session, in start order
    (a session has one CDR, and credit CDRs after it)."""
    if not keys:
        return {}
    query = ordered(
        select(Cdr).where(
            tuple_(col(Cdr.country_code), col(Cdr.party_id), col(Cdr.session_id)).in_(
                list(set(keys))
            )
        )
    )
    found: dict[tuple[str, str, str], list[Cdr]] = {}
    for row in (await tx.execute(query)).scalars():
        assert row.session_id is not None
        found.setdefault((row.country_code, row.party_id, row.session_id), []).append(row)
    return found


async def walk(
    db: Database,
    columns: Select[*tuple[Any, ...]],
    *,
    audience: Audience,
    filter: CdrFilter,
    chunk: int = 1000,
) -> AsyncIterator[Sequence[Any]]:
    """Every matching row of ``columns`` (a select whose first two columns are Cdr's
    ``start_date_time`` and ``pk``), ``chunk`` at a time: keyset pages, so neither the
    database nor we ever hold more than a page. Each page is read in a transaction of its
    own, so a slow reader (an HTTP client downloading an export) holds no connection between
    pages; CDRs never change, so a row is the same whichever page reads it, and one stored
    meanwhile shows if it starts after the page being read."""
    position: Position | None = None
    while True:
        query = next_rows(columns, audience=audience, filter=filter, position=position, limit=chunk)
        async with db.transaction() as tx:
            found = (await tx.execute(query)).all()
        if not found:
            return
        yield found
        if len(found) < chunk:
            return
        start, pk = found[-1][0], found[-1][1]
        position = Position(start, pk)
