"""The price of a CDR under the tariffs it names: its ChargingPeriods priced as they are.

The estimate simulates the periods of a planned session; a CDR states them. Each
ChargingPeriod is priced by the tariff its ``tariff_id`` names, judged once at its start (a
CPO "SHALL at least start a ChargingPeriod every moment/event that has relevance for the total
costs", mod_cdrs), and the periods then go through the same step_size, lines, min/max price
and VAT as an estimate's. docs/pricing.md, "Pricing a CDR", has the rules chosen where the
spec is silent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from subgraphs.locations.pricing.bill import (
    Breakdown,
    PriceLine,
    Total,
    bounded_total,
    check_in_force,
    price_line,
    reservation_elements,
    rounded,
    session_elements,
)
from subgraphs.locations.pricing.clock import instant, seconds_between
from subgraphs.locations.pricing.currency import decimals
from subgraphs.locations.pricing.errors import PricingError
from subgraphs.locations.pricing.restrictions import Moment
from subgraphs.locations.pricing.simulation import Period, apply_step_size, first_applying
from subgraphs.locations.pricing.tariff import (
    Dimension,
    Tariff,
    TariffElement,
    number,
    parse_tariff,
    timestamp,
)

# CdrDimensionType volumes a Tariff prices, and the TariffDimensionType pricing each. A
# reservation's duration is the TIME of its elements (TariffRestrictions.reservation).
SESSION_VOLUMES = (
    ("ENERGY", Dimension.ENERGY),
    ("TIME", Dimension.TIME),
    ("PARKING_TIME", Dimension.PARKING_TIME),
)
RESERVATION_VOLUMES = (("RESERVATION_TIME", Dimension.TIME),)
ZERO = Fraction(0)


@dataclass(frozen=True)
class ChargingPeriod:
    """A CDR's ChargingPeriod, with the end the next one's start gives it."""

    index: int
    start: datetime
    end: datetime
    tariff_id: str | None
    """Upper-cased: tariff ids are CiStrings."""
    volumes: dict[str, Fraction] = field(default_factory=dict)

    def volume(self, kind: str) -> Fraction:
        return self.volumes.get(kind, ZERO)

    @cached_property
    def reserved(self) -> bool:
        return bool(self.volume("RESERVATION_TIME"))

    @cached_property
    def charging(self) -> bool:
        return bool(self.volume("TIME") or self.volume("ENERGY"))

    @cached_property
    def in_session(self) -> bool:
        """Part of the charging session (not only of the reservation before it)."""
        return not self.reserved or any(self.volume(kind) for kind, _ in SESSION_VOLUMES)

    def _middle(self, low: str, high: str) -> Fraction | None:
        given = [self.volumes[kind] for kind in (low, high) if kind in self.volumes]
        return sum(given, Fraction(0)) / len(given) if given else None

    @cached_property
    def power_kw(self) -> Fraction | None:
        """While charging: the energy over the charging time (or the period's length), else
        the middle of MIN_POWER and MAX_POWER; zero while nothing is charged."""
        if not self.charging:
            return Fraction(0)
        hours = self.volume("TIME") or seconds_between(self.start, self.end) / 3600
        if "ENERGY" in self.volumes and hours > 0:
            return self.volume("ENERGY") / hours
        return self._middle("MIN_POWER", "MAX_POWER")

    @cached_property
    def current_a(self) -> Fraction | None:
        """While charging: the middle of MIN_CURRENT and MAX_CURRENT (sums over all phases)."""
        if not self.charging:
            return Fraction(0)
        return self._middle("MIN_CURRENT", "MAX_CURRENT")


@dataclass(frozen=True)
class CdrPrice(Breakdown):
    """What the CDR's periods cost under its tariffs; a credit CDR's totals are negative."""

    currency: str
    credit: bool
    total_excl_vat: Decimal
    total_incl_vat: Decimal | None
    """None when a tariff that priced the CDR states no VAT, or a min/max_price without
    ``incl_vat`` bounded it."""
    min_price_applied: bool
    max_price_applied: bool
    tariff_ids: tuple[str, ...]
    lines: tuple[PriceLine, ...]
    notes: tuple[str, ...] = ()
    """Periods a price component changes within: priced as at their start, as they must be
    (a CPO starts a period wherever another component applies), but a likely cause of a
    total that differs."""


def _where(index: int) -> str:
    return f"charging_periods[{index}]"


def _volumes(item: Mapping[str, Any], index: int) -> dict[str, Fraction]:
    dimensions = item.get("dimensions")
    if not isinstance(dimensions, list) or not dimensions:
        raise PricingError(f"cdr: {_where(index)}.dimensions must be a non-empty list")
    volumes: dict[str, Fraction] = {}
    for j, dimension in enumerate(dimensions):
        where = f"{_where(index)}.dimensions[{j}]"
        if not isinstance(dimension, Mapping) or not isinstance(dimension.get("type"), str):
            raise PricingError(f"cdr: {where}.type is missing")
        kind = dimension["type"]
        # Two of one type in a period are read as their sum.
        volumes[kind] = volumes.get(kind, Fraction(0)) + Fraction(
            number(dimension.get("volume"), f"{where}.volume", of="cdr")
        )
    return volumes


def charging_periods(cdr: Mapping[str, Any]) -> list[ChargingPeriod]:
    """The CDR's periods in order of their start; the last ends at ``end_date_time``."""
    end = timestamp(cdr.get("end_date_time"), "end_date_time", of="cdr")
    items = cdr.get("charging_periods")
    if end is None:
        raise PricingError("cdr: end_date_time is missing")
    if not isinstance(items, list) or not items:
        raise PricingError("cdr: charging_periods must be a non-empty list")
    starts: list[tuple[datetime, int, Mapping[str, Any]]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise PricingError(f"cdr: {_where(index)} is not an object")
        start = timestamp(item.get("start_date_time"), f"{_where(index)}.start_date_time", of="cdr")
        if start is None:
            raise PricingError(f"cdr: {_where(index)}.start_date_time is missing")
        starts.append((start, index, item))
    starts.sort(key=lambda entry: (entry[0], entry[1]))
    found: list[ChargingPeriod] = []
    for position, (start, index, item) in enumerate(starts):
        until = starts[position + 1][0] if position + 1 < len(starts) else end
        if until < start:
            raise PricingError(f"cdr: {_where(index)} starts after the CDR's end_date_time")
        tariff_id = item.get("tariff_id")
        if tariff_id is not None and not isinstance(tariff_id, str):
            raise PricingError(f"cdr: {_where(index)}.tariff_id is not a string")
        found.append(
            ChargingPeriod(
                index=index,
                start=start,
                end=until,
                tariff_id=tariff_id.upper() if tariff_id else None,
                volumes=_volumes(item, index),
            )
        )
    return found


def named_tariffs(cdr: Mapping[str, Any]) -> set[str]:
    """The (upper-cased) ids of the tariffs the CDR's periods name."""
    return {p.tariff_id for p in charging_periods(cdr) if p.tariff_id}


def reads_local_time(tariffs: Mapping[str, Mapping[str, Any]]) -> bool:
    """Whether any of these tariffs has a time, date or day-of-week restriction (a tariff
    that cannot be parsed does not: pricing it will say what is wrong)."""
    for data in tariffs.values():
        try:
            tariff = parse_tariff(data)
        except PricingError:
            continue
        if any(e.restrictions.local for e in tariff.elements):
            return True
    return False


def _parsed(
    tariffs: Mapping[str, Mapping[str, Any]], named: set[str], currency: str
) -> dict[str, Tariff]:
    parsed: dict[str, Tariff] = {}
    for tariff_id in sorted(named):
        data = tariffs.get(tariff_id)
        if data is None:
            raise PricingError(f"tariff {tariff_id} is unknown")
        try:
            tariff = parse_tariff(data)
        except PricingError as error:
            raise PricingError(f"tariff {tariff_id}: {error}") from None
        if tariff.currency.upper() != currency.upper():
            raise PricingError(f"tariff {tariff_id} is in {tariff.currency}, the CDR in {currency}")
        parsed[tariff_id] = tariff
    return parsed


@dataclass
class _Phase:
    """The reservation, or the session: periods priced against one origin."""

    reservation: bool
    origin: datetime
    found: list[Period] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    """The tariff of each found period."""
    notes: list[str] = field(default_factory=list)


JUST_BEFORE = Fraction(1, 10**6)
"""A microsecond: how long before its end a period is judged again, for ``notes``."""


def _at_end(period: ChargingPeriod, moment: Moment, start: Fraction, end: Fraction) -> Moment:
    """The period's state a microsecond before it ends (energy spread evenly over it)."""
    length = end - start
    energy = period.volume("ENERGY") * (length - JUST_BEFORE) / length
    return Moment(
        local=instant(period.start, length - JUST_BEFORE).astimezone(moment.local.tzinfo),
        seconds=end - JUST_BEFORE,
        kwh=moment.kwh + energy,
        power_kw=moment.power_kw,
        current_a=moment.current_a,
    )


def _crossing(
    elements: Sequence[TariffElement],
    dimension: Dimension,
    applying: tuple[int, Any] | None,
    last: Moment | None,
) -> bool:
    """Whether another component (or none) prices ``dimension`` at the period's end."""
    if last is None:
        return False
    later = first_applying(elements, dimension, last)
    return (later and later[0]) != (applying and applying[0])


def _price_phase(
    phase: _Phase,
    periods: Sequence[ChargingPeriod],
    tariffs: Mapping[str, Tariff],
    default: str | None,
    *,
    zone: ZoneInfo,
    expired: bool,
) -> None:
    volumes = RESERVATION_VOLUMES if phase.reservation else SESSION_VOLUMES
    flat_charged = False
    kwh = Fraction(0)
    for period in periods:
        tariff_id = period.tariff_id or default
        if tariff_id is not None:
            tariff = tariffs[tariff_id]
            elements = (
                reservation_elements(tariff, expired)
                if phase.reservation
                else session_elements(tariff)
            )
            start = seconds_between(phase.origin, period.start)
            end = seconds_between(phase.origin, period.end)
            moment = Moment(
                local=period.start.astimezone(zone),
                seconds=start,
                kwh=kwh,
                power_kw=period.power_kw,
                current_a=period.current_a,
            )
            try:
                # FLAT is a fee per session (or reservation), charged once, as in an estimate.
                applying = (
                    None if flat_charged else first_applying(elements, Dimension.FLAT, moment)
                )
                if applying is not None:
                    index, component = applying
                    phase.found.append(
                        Period(Dimension.FLAT, index, component, start, start, Fraction(1))
                    )
                    phase.owners.append(tariff_id)
                    flat_charged = True
                last = _at_end(period, moment, start, end) if end - start > JUST_BEFORE else None
                for kind, dimension in volumes:
                    quantity = period.volume(kind)
                    applying = first_applying(elements, dimension, moment) if quantity else None
                    if quantity and _crossing(elements, dimension, applying, last):
                        phase.notes.append(
                            f"{_where(period.index)} ({period.start.isoformat()}) runs across "
                            f"a change of its {dimension} price (tariff {tariff_id}): priced "
                            "as at its start"
                        )
                    if applying is not None:
                        index, component = applying
                        phase.found.append(
                            Period(dimension, index, component, start, end, quantity)
                        )
                        phase.owners.append(tariff_id)
            except PricingError as error:
                raise PricingError(f"cdr: {_where(period.index)}: {error}") from None
        kwh += period.volume("ENERGY")
    phase.found = apply_step_size(phase.found)


def price_cdr(
    cdr: Mapping[str, Any],
    tariffs: Mapping[str, Mapping[str, Any]],
    *,
    zone: ZoneInfo | None,
) -> CdrPrice:
    """The price of ``cdr`` (an OCPI 2.2.1 CDR) under ``tariffs`` (Tariff objects by their
    upper-cased id), in the Location's time ``zone`` (None: unknown).

    Raises PricingError when it cannot be priced: a tariff it names is not given or cannot be
    priced, or restrictions need what the CDR does not state (the local time, a power).
    """
    currency = cdr.get("currency")
    if not isinstance(currency, str) or not currency:
        raise PricingError("cdr: currency is missing")
    session_start = timestamp(cdr.get("start_date_time"), "start_date_time", of="cdr")
    if session_start is None:
        raise PricingError("cdr: start_date_time is missing")
    periods = charging_periods(cdr)
    named = {p.tariff_id for p in periods if p.tariff_id}
    default = None
    if not named:
        # Policy: a CDR that names no tariff in its periods but carries exactly one is priced
        # by that one; with none or several there is nothing to tell which applied.
        if len(tariffs) != 1:
            raise PricingError("no charging period names a tariff (tariff_id)")
        default = next(iter(tariffs))
        named = {default}
    parsed = _parsed(tariffs, named, currency)
    for tariff_id, tariff in parsed.items():
        try:
            check_in_force(tariff, session_start)
        except PricingError as error:
            raise PricingError(f"tariff {tariff_id}: {error}") from None
    local = [
        t for t, tariff in parsed.items() if any(e.restrictions.local for e in tariff.elements)
    ]
    if zone is None and local:
        raise PricingError(
            f"tariff {local[0]} restricts by local time and the Location's time_zone is unknown"
        )
    expired = not any(p.volume(kind) for p in periods for kind, _ in SESSION_VOLUMES)
    reserved = [p for p in periods if p.reserved]
    in_session = [p for p in periods if p.in_session]
    phases = [
        _Phase(reservation=True, origin=reserved[0].start) if reserved else None,
        _Phase(reservation=False, origin=in_session[0].start) if in_session else None,
    ]
    amounts: dict[str, list[tuple[Fraction, Fraction]]] = {t: [] for t in parsed}
    lines: list[PriceLine] = []
    notes: list[str] = []
    for phase in filter(None, phases):
        _price_phase(
            phase,
            reserved if phase.reservation else in_session,
            parsed,
            default,
            zone=zone or ZoneInfo("UTC"),
            expired=expired,
        )
        for period, owner in zip(phase.found, phase.owners, strict=True):
            line, excl, incl = price_line(
                period, origin=phase.origin.astimezone(UTC), reservation=phase.reservation
            )
            lines.append(line)
            amounts[owner].append((excl, incl))
        notes += phase.notes
    totals = [bounded_total(parsed[t], amounts[t]) for t in sorted(parsed)]
    return _priced(cdr, currency, tuple(sorted(parsed)), lines, totals, notes=notes)


def _priced(
    cdr: Mapping[str, Any],
    currency: str,
    tariff_ids: tuple[str, ...],
    lines: list[PriceLine],
    totals: list[Total],
    *,
    notes: list[str],
) -> CdrPrice:
    # A credit CDR "will contain all the data of the original CDR. Only the values in the
    # total_cost field SHALL contain the negative amounts" (mod_cdrs, Credit CDRs): its totals
    # are negated, its lines (the original's breakdown) are not.
    credit = cdr.get("credit") is True
    sign = -1 if credit else 1
    excl = sign * sum((t.excl_vat for t in totals), Fraction(0))
    incl = sign * sum((t.incl_vat for t in totals), Fraction(0))
    places = decimals(currency)
    return CdrPrice(
        currency=currency,
        credit=credit,
        total_excl_vat=rounded(excl, places),
        # A tariff that priced nothing (free) leaves the VAT of the total known.
        total_incl_vat=None
        if any(t.vat_unknown and t.excl_vat for t in totals)
        else rounded(incl, places),
        min_price_applied=any(t.min_price_applied for t in totals),
        max_price_applied=any(t.max_price_applied for t in totals),
        tariff_ids=tariff_ids,
        lines=tuple(lines),
        notes=tuple(notes),
    )
