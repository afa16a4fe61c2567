"""From priced periods to money: lines, the breakdown by dimension, min/max price and rounding.

Shared by the estimate of a planned session (``estimate``) and the price of a CDR (``cdr``):
both find their periods (simulated, or the CDR's ChargingPeriods), and bill them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from subgraphs.locations.pricing.clock import instant
from subgraphs.locations.pricing.errors import PricingError
from subgraphs.locations.pricing.simulation import Period
from subgraphs.locations.pricing.tariff import (
    Dimension,
    Price,
    ReservationKind,
    Tariff,
    TariffElement,
)


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


class Breakdown:
    """The lines of a price summed by dimension, as a CDR's total_*_cost fields sum them."""

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


def exact(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def rounded(value: Fraction, places: int = 2) -> Decimal:
    """Exactly ROUND_HALF_UP (away from zero on a half) to ``places`` decimals, from the
    exact value (a Decimal division first could round twice)."""
    sign = -1 if value < 0 else 1
    scale: int = 10**places
    units = int(abs(value) * scale + Fraction(1, 2))
    quantum = Decimal(f"1e-{places}")
    return (Decimal(sign * units) / scale).quantize(quantum, rounding=ROUND_HALF_UP)


def price_line(
    period: Period, *, origin: datetime, reservation: bool
) -> tuple[PriceLine, Fraction, Fraction]:
    """The line of a period, with its exact amounts excl. and incl. VAT."""
    component = period.component
    excl = period.quantity * Fraction(component.price)
    incl = excl if component.vat is None else excl * (1 + Fraction(component.vat) / 100)
    line = PriceLine(
        dimension=period.dimension,
        reservation=reservation,
        start=instant(origin, period.start),
        end=instant(origin, period.end),
        quantity=exact(period.quantity),
        price=component.price,
        vat=component.vat,
        excl_vat=exact(excl),
        incl_vat=exact(incl),
    )
    return line, excl, incl


@dataclass(frozen=True)
class Total:
    """A tariff's total after min_price and max_price, exact."""

    excl_vat: Fraction
    incl_vat: Fraction
    vat_unknown: bool
    """No component states a VAT, or a bound without incl_vat moved the total excl. VAT."""
    min_price_applied: bool
    max_price_applied: bool


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


def bounded_total(tariff: Tariff, amounts: Iterable[tuple[Fraction, Fraction]]) -> Total:
    """The sum of (excl, incl) amounts priced by ``tariff``, within its min and max price.

    min_price and max_price bound excl. and incl. VAT each on its own (mod_tariffs, notes)."""
    excl = incl = Fraction(0)
    for line_excl, line_incl in amounts:
        excl += line_excl
        incl += line_incl
    excl, min_excl = _bound(excl, tariff.min_price, excl=True, below=False)
    excl, max_excl = _bound(excl, tariff.max_price, excl=True, below=True)
    incl, min_incl = _bound(incl, tariff.min_price, excl=False, below=False)
    incl, max_incl = _bound(incl, tariff.max_price, excl=False, below=True)
    vat_unknown = not tariff.states_vat or any(
        applied and bound is not None and bound.incl_vat is None
        for applied, bound in ((min_excl, tariff.min_price), (max_excl, tariff.max_price))
    )
    return Total(excl, incl, vat_unknown, min_excl or min_incl, max_excl or max_incl)


def reservation_elements(tariff: Tariff, expired: bool) -> tuple[TariffElement, ...]:
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


def session_elements(tariff: Tariff) -> tuple[TariffElement, ...]:
    # Elements with a reservation restriction "describe reservation costs" only.
    return tuple(e for e in tariff.elements if e.restrictions.reservation is None)


def check_in_force(tariff: Tariff, accepted: datetime) -> None:
    # A driver accepts the tariff valid when they start (mod_tariffs, note on start_date_time
    # and end_date_time); the reservation's start when there is one.
    if tariff.start_date_time is not None and accepted < tariff.start_date_time:
        raise PricingError(f"the tariff is in force from {tariff.start_date_time.isoformat()}")
    if tariff.end_date_time is not None and accepted > tariff.end_date_time:
        raise PricingError(f"the tariff was in force until {tariff.end_date_time.isoformat()}")
