"""The price of a planned charging session under one OCPI 2.2.1 Tariff.

Money is exact inside (fractions of Decimal inputs); only ``total_excl_vat`` and
``total_incl_vat`` are rounded, half up, to the currency's minor unit (2 decimals for EUR).
Lines and dimension totals keep full precision, so they may not add up to the rounded totals
to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from subgraphs.locations.pricing.bill import (
    Breakdown,
    DimensionTotal,
    PriceLine,
    bounded_total,
    check_in_force,
    exact,
    price_line,
    reservation_elements,
    rounded,
    session_elements,
)
from subgraphs.locations.pricing.clock import instant, seconds_of
from subgraphs.locations.pricing.currency import decimals
from subgraphs.locations.pricing.scenario import ChargingScenario
from subgraphs.locations.pricing.simulation import Activity, Phase, periods
from subgraphs.locations.pricing.tariff import Tariff, parse_tariff

__all__ = ["DimensionTotal", "PriceEstimate", "PriceLine", "estimate"]


@dataclass(frozen=True)
class PriceEstimate(Breakdown):
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
                elements=reservation_elements(tariff, scenario.reservation.expired),
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
            elements=session_elements(tariff),
            zone=scenario.zone,
        )
    )
    return phases, charging


def estimate(tariff: Mapping[str, Any], scenario: ChargingScenario) -> PriceEstimate:
    """The price of ``scenario`` under ``tariff`` (an OCPI 2.2.1 Tariff as the hub stores it).

    Raises PricingError for a tariff that cannot be priced or is not in force at the start.
    """
    parsed = parse_tariff(tariff)
    reservation = scenario.reservation
    start = scenario.start.astimezone(UTC)
    check_in_force(parsed, start - (reservation.duration if reservation else timedelta(0)))
    phases, charging = _phases(parsed, scenario)
    lines: list[PriceLine] = []
    amounts: list[tuple[Fraction, Fraction]] = []
    for phase in phases:
        reserved = phase.stretches[0][0] is Activity.RESERVED
        for period in periods(phase):
            line, line_excl, line_incl = price_line(
                period, origin=phase.origin, reservation=reserved
            )
            lines.append(line)
            amounts.append((line_excl, line_incl))
    total = bounded_total(parsed, amounts)
    places = decimals(parsed.currency)
    charging_end = instant(start, charging)
    return PriceEstimate(
        currency=parsed.currency,
        total_excl_vat=rounded(total.excl_vat, places),
        total_incl_vat=None if total.vat_unknown else rounded(total.incl_vat, places),
        charging_end=charging_end,
        session_end=charging_end + scenario.parking,
        energy_kwh=exact(Fraction(scenario.power_kw) * charging / 3600),
        min_price_applied=total.min_price_applied,
        max_price_applied=total.max_price_applied,
        lines=tuple(lines),
    )
