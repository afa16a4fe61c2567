"""Totals of a CDR search: by period (day, ISO week, month) and by location, per currency.

Amounts of different currencies are never added: every total is for one currency. Sums are
exact decimal sums of the figures as the CPOs wrote them (2.1 + 0.2 is 2.3, not
2.3000000000000003). Periods are calendar periods in one time zone: the Location's when the
search names one Location (whose ``time_zone`` the hub knows), UTC otherwise, and the result
says which. A CDR falls into the period its charging started in (the search's own field).

OCPI's ``total_time`` is the whole session, ``total_parking_time`` its part not charging: the
charging time is the difference. ``incl_vat`` is optional in OCPI; a total including VAT adds
the CDRs that give it and counts those that do not, so a gap is seen, never papered over.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar.db import Database
from subgraphs.accounting import search
from subgraphs.accounting.models import Cdr, PriceCheckStatus
from subgraphs.locations import service as locations
from subgraphs.locations.opening import zone

ZERO = Decimal(0)


class Period(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"  # ISO weeks: Monday to Sunday
    MONTH = "MONTH"


def period_start(moment: datetime, period: Period, calendar: tzinfo) -> date:
    """The first day of the period ``moment`` falls in, on the calendar of a zone."""
    day = moment.astimezone(calendar).date()
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def _decimal(value: float | None) -> Decimal:
    # repr is the shortest text that reads back as the same float: the literal the CPO sent.
    return ZERO if value is None else Decimal(repr(value))


@dataclass
class Sums:
    count: int = 0
    energy_kwh: Decimal = ZERO
    session_hours: Decimal = ZERO
    parking_hours: Decimal = ZERO
    cost_excl_vat: Decimal = ZERO
    cost_incl_vat: Decimal = ZERO
    without_incl_vat: int = 0  # CDRs whose total_cost gives no incl_vat
    # The hub's price check (docs/pricing.md): CDRs it found mispriced, or could not price.
    mismatched: int = 0
    unpriceable: int = 0

    def add(self, row: Sequence[Any]) -> None:
        energy, hours, parking, excl, incl, checked = row
        self.count += 1
        if checked == PriceCheckStatus.MISMATCH:
            self.mismatched += 1
        elif checked == PriceCheckStatus.UNPRICEABLE:
            self.unpriceable += 1
        self.energy_kwh += _decimal(energy)
        self.session_hours += _decimal(hours)
        self.parking_hours += _decimal(parking)
        self.cost_excl_vat += _decimal(excl)
        if incl is None:
            self.without_incl_vat += 1
        else:
            self.cost_incl_vat += _decimal(incl)

    @property
    def charging_hours(self) -> Decimal:
        return self.session_hours - self.parking_hours


type PeriodKey = tuple[date, str]  # the period's first day, the currency
type LocationKey = tuple[str, str, str, str]  # CPO country code, party id, location, currency


@dataclass
class Totals:
    time_zone: str
    period: Period
    by_period: dict[PeriodKey, Sums] = field(default_factory=dict)
    by_location: dict[LocationKey, Sums] = field(default_factory=dict)

    def period_starts(self, day: date) -> datetime:
        """The instant the period of ``day`` starts, in the totals' zone."""
        local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.time_zone))
        return local.astimezone(UTC)


async def time_zone_of(tx: AsyncSession, location: search.LocationRef | None) -> str:
    """The zone periods are counted in: the Location's, if one is named and known with a
    valid ``time_zone``; UTC otherwise."""
    if location is None:
        return "UTC"
    found = await locations.get_location(
        tx,
        country_code=location.country_code,
        party_id=location.party_id,
        location_id=location.location_id,
    )
    name = (found or {}).get("time_zone")
    return name if isinstance(name, str) and zone(name) is not None else "UTC"


COLUMNS = select(
    col(Cdr.start_date_time),
    col(Cdr.pk),
    col(Cdr.currency),
    col(Cdr.country_code),
    col(Cdr.party_id),
    col(Cdr.location_id),
    col(Cdr.total_energy),
    col(Cdr.total_time),
    col(Cdr.total_parking_time),
    col(Cdr.cost_excl_vat),
    col(Cdr.cost_incl_vat),
    col(Cdr.price_check),
)


def add_up(totals: Totals, rows: Iterable[Sequence[Any]]) -> None:
    calendar = ZoneInfo(totals.time_zone)
    for start, _pk, currency, cc, pid, location_id, *figures in rows:
        money = currency or ""
        day = period_start(start, totals.period, calendar)
        totals.by_period.setdefault((day, money), Sums()).add(figures)
        place = (cc, pid, location_id or "", money)
        totals.by_location.setdefault(place, Sums()).add(figures)


async def totals(
    db: Database, *, audience: search.Audience, filter: search.CdrFilter, period: Period
) -> Totals:
    """The totals of the CDRs the search finds, read a page of columns at a time."""
    async with db.transaction() as tx:
        time_zone = await time_zone_of(tx, filter.location)
    found = Totals(time_zone=time_zone, period=period)
    async for rows in search.walk(db, COLUMNS, audience=audience, filter=filter):
        add_up(found, rows)
    return found
