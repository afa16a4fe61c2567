"""The price of a planned charging session under one OCPI 2.2.1 Tariff.

Money is exact inside (fractions of Decimal inputs); only ``total_excl_vat`` and
``total_incl_vat`` are rounded, to 2 decimals, half up. Lines and dimension totals keep full
precision, so they may not add up to the rounded totals to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from subgraphs.locations.pricing.clock import instant, seconds_of
from subgraphs.locations.pricing.errors import PricingError
from subgraphs.locations.pricing.scenario import ChargingScenario
from subgraphs.locations.pricing.simulation import Activity, Period, Phase, periods
from subgraphs.locations.pricing.tariff import (
    Dimension,
    Price,
    ReservationKind,
    Tariff,
    TariffElement,
    parse_tariff,
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class PriceLine:
    """One period priced by one Price Component, like a row of the spec's breakdowns."""

    dimension: Dimension
    reservation: bool
    """Part of the reservation before the session (CDR total_reservation_cost)."""
    start: datetime
    end: datetime
    quantity: Decimal
    """Billed, after step_size: kWh (ENERGY), hours (TIME, PARKING_TIME) or 1 (FLAT)."""
    price: Decimal
    vat: Decimal | None
    excl_vat: Decimal
    incl_vat: Decimal
    """``excl_vat`` when the component has no VAT ("no VAT is applicable")."""


@dataclass(frozen=True)
class DimensionTotal:
    quantity: Decimal
    excl_vat: Decimal
    incl_vat: Decimal


@dataclass(frozen=True)
class PriceEstimate:
    currency: str
    total_excl_vat: Decimal
    total_incl_vat: Decimal | None
    """None when no Price Component of the tariff states a VAT, or when a min/max_price
    without ``incl_vat`` bounded the total (its VAT is then unknown)."""
    charging_end: datetime
    session_end: datetime
    """After parking."""
    energy_kwh: Decimal
    """Delivered (not billed)."""
    min_price_applied: bool
    max_price_applied: bool
    lines: tuple[PriceLine, ...]

    def _total(self, dimensions: set[Dimension], reservation: bool) -> DimensionTotal:
        chosen = [
            line
            for line in self.lines
            if line.dimension in dimensions and line.reservation is reservation
        ]
        return DimensionTotal(
            quantity=sum((line.quantity for line in chosen), Decimal(0)),
            excl_vat=sum((line.excl_vat for line in chosen), Decimal(0)),
            incl_vat=sum((line.incl_vat for line in chosen), Decimal(0)),
        )

    @property
    def energy(self) -> DimensionTotal:
        return self._total({Dimension.ENERGY}, reservation=False)

    @property
    def time(self) -> DimensionTotal:
        """Charging time, in hours."""
        return self._total({Dimension.TIME}, reservation=False)

    @property
    def parking(self) -> DimensionTotal:
        return self._total({Dimension.PARKING_TIME}, reservation=False)

    @property
    def flat(self) -> DimensionTotal:
        return self._total({Dimension.FLAT}, reservation=False)

    @property
    def reservation(self) -> DimensionTotal:
        """Reserved hours billed; the amounts include a reservation FLAT fee, as the CDR's
        total_reservation_cost does."""
        time = self._total({Dimension.TIME}, reservation=True)
        flat = self._total({Dimension.FLAT}, reservation=True)
        return DimensionTotal(
            time.quantity, time.excl_vat + flat.excl_vat, time.incl_vat + flat.incl_vat
        )


def _decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def _to_cents(value: Fraction) -> Decimal:
    """Exactly ROUND_HALF_UP (away from zero on a half) to 2 decimals, from the exact value."""
    sign = -1 if value < 0 else 1
    cents = int(abs(value) * 100 + Fraction(1, 2))
    return (Decimal(sign * cents) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _reservation_elements(tariff: Tariff, expired: bool) -> tuple[TariffElement, ...]:
    """The elements of a reservation, in order of precedence.

    A used reservation is priced by the RESERVATION elements only. An expired one also by the
    RESERVATION_EXPIRES elements, and those come first: "the time based cost of an expired
    reservation will be calculated based on the RESERVATION_EXPIRES Tariff Element" (mod_tariffs,
    ReservationRestrictionType), while example 17 still bills its RESERVATION time when expired.
    """

    def of(kind: ReservationKind) -> tuple[TariffElement, ...]:
        return tuple(e for e in tariff.elements if e.restrictions.reservation is kind)

    used = of(ReservationKind.RESERVATION)
    return of(ReservationKind.RESERVATION_EXPIRES) + used if expired else used


def _phases(tariff: Tariff, scenario: ChargingScenario) -> tuple[list[Phase], Fraction]:
    """The reservation phase (if any) and the session phase, and the charging seconds."""
    power = Fraction(scenario.power_kw)
    current = Fraction(scenario.charging_current_a)
    phases: list[Phase] = []
    # Elapsed time is added in UTC: Python adds a timedelta to the wall clock of a datetime's
    # own zone, which is an hour off across a DST change.
    start = scenario.start.astimezone(UTC)
    if scenario.reservation is not None:
        phases.append(
            Phase(
                origin=start - scenario.reservation.duration,
                stretches=((Activity.RESERVED, seconds_of(scenario.reservation.duration)),),
                power_kw=power,
                current_a=current,
                elements=_reservation_elements(tariff, scenario.reservation.expired),
                zone=scenario.zone,
            )
        )
    if not scenario.charges:
        return phases, Fraction(0)
    limits: list[Fraction] = []
    if scenario.energy_kwh is not None:
        limits.append(Fraction(scenario.energy_kwh) * 3600 / power)
    if scenario.duration is not None:
        limits.append(seconds_of(scenario.duration))
    charging = min(limits)  # charging stops at whichever limit comes first
    parking = seconds_of(scenario.parking)
    stretches = ((Activity.CHARGING, charging),) + (
        ((Activity.PARKING, parking),) if parking else ()
    )
    phases.append(
        Phase(
            origin=start,
            stretches=stretches,
            power_kw=power,
            current_a=current,
            # Elements with a reservation restriction "describe reservation costs" only.
            elements=tuple(e for e in tariff.elements if e.restrictions.reservation is None),
            zone=scenario.zone,
        )
    )
    return phases, charging


def _line(phase: Phase, period: Period) -> tuple[PriceLine, Fraction, Fraction]:
    component = period.component
    excl = period.quantity * Fraction(component.price)
    incl = excl if component.vat is None else excl * (1 + Fraction(component.vat) / 100)
    line = PriceLine(
        dimension=period.dimension,
        reservation=phase.stretches[0][0] is Activity.RESERVED,
        start=instant(phase.origin, period.start),
        end=instant(phase.origin, period.end),
        quantity=_decimal(period.quantity),
        price=component.price,
        vat=component.vat,
        excl_vat=_decimal(excl),
        incl_vat=_decimal(incl),
    )
    return line, excl, incl


def _bound(total: Fraction, bound: Price | None, excl: bool, below: bool) -> tuple[Fraction, bool]:
    """The total kept on the right side of a min (``below`` false) or max price."""
    if bound is None:
        return total, False
    limit = bound.excl_vat if excl else bound.incl_vat
    if limit is None:
        return total, False
    value = Fraction(limit)
    crossed = total > value if below else total < value
    return (value if crossed else total), crossed


def _check_in_force(tariff: Tariff, accepted: datetime) -> None:
    # A driver accepts the tariff valid when they start (mod_tariffs, note on start_date_time
    # and end_date_time); the reservation's start when there is one.
    if tariff.start_date_time is not None and accepted < tariff.start_date_time:
        raise PricingError(f"the tariff is in force from {tariff.start_date_time.isoformat()}")
    if tariff.end_date_time is not None and accepted > tariff.end_date_time:
        raise PricingError(f"the tariff was in force until {tariff.end_date_time.isoformat()}")


def estimate(tariff: Mapping[str, Any], scenario: ChargingScenario) -> PriceEstimate:
    """The price of ``scenario`` under ``tariff`` (an OCPI 2.2.1 Tariff as the hub stores it).

    Raises PricingError for a tariff that cannot be priced or is not in force at the start.
    """
    parsed = parse_tariff(tariff)
    reservation = scenario.reservation
    start = scenario.start.astimezone(UTC)
    _check_in_force(parsed, start - (reservation.duration if reservation else timedelta(0)))
    phases, charging = _phases(parsed, scenario)
    lines: list[PriceLine] = []
    excl = incl = Fraction(0)
    for phase in phases:
        for period in periods(phase):
            line, line_excl, line_incl = _line(phase, period)
            lines.append(line)
            excl += line_excl
            incl += line_incl
    # min_price and max_price bound excl. and incl. VAT each on its own (mod_tariffs, notes).
    excl, min_excl = _bound(excl, parsed.min_price, excl=True, below=False)
    excl, max_excl = _bound(excl, parsed.max_price, excl=True, below=True)
    incl, min_incl = _bound(incl, parsed.min_price, excl=False, below=False)
    incl, max_incl = _bound(incl, parsed.max_price, excl=False, below=True)
    vat_unknown = not parsed.states_vat or any(
        applied and bound is not None and bound.incl_vat is None
        for applied, bound in ((min_excl, parsed.min_price), (max_excl, parsed.max_price))
    )
    charging_end = instant(start, charging)
    return PriceEstimate(
        currency=parsed.currency,
        total_excl_vat=_to_cents(excl),
        total_incl_vat=None if vat_unknown else _to_cents(incl),
        charging_end=charging_end,
        session_end=charging_end + scenario.parking,
        energy_kwh=_decimal(Fraction(scenario.power_kw) * charging / 3600),
        min_price_applied=min_excl or min_incl,
        max_price_applied=max_excl or max_incl,
        lines=tuple(lines),
    )
