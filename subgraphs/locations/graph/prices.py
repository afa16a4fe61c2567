"""Price estimates and tariff texts in the graph, from the one tariff calculator."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

import strawberry

from subgraphs.common.errors import bad_input
from subgraphs.locations import pricing
from subgraphs.locations.graph.loaders import Doc


@strawberry.type(description="The cost of one part of a session (energy, time, parking, flat).")
class PriceLineOut:
    dimension: str = strawberry.field(description="ENERGY, TIME, PARKING_TIME or FLAT.")
    reservation: bool = strawberry.field(description="Part of a reservation before charging.")
    start: datetime = strawberry.field(description="When this part begins (UTC).")
    end: datetime = strawberry.field(description="When it ends (UTC).")
    quantity: Decimal = strawberry.field(
        description="Billed after step sizes: kWh (ENERGY), hours (TIME, PARKING_TIME), 1 (FLAT)."
    )
    price: Decimal = strawberry.field(description="Price per unit, excluding VAT.")
    excl_vat: Decimal = strawberry.field(description="Cost excluding VAT.")
    incl_vat: Decimal = strawberry.field(description="Cost including VAT, where a VAT applies.")


@strawberry.type(description="What a session would cost under one tariff (an estimate).")
class PriceEstimateOut:
    tariff_id: str = strawberry.field(description="The tariff it was computed from.")
    currency: str = strawberry.field(description="ISO 4217 currency.")
    total_excl_vat: Decimal = strawberry.field(description="Total excluding VAT, 2 decimals.")
    total_incl_vat: Decimal | None = strawberry.field(
        description="Total including VAT, 2 decimals; null when the tariff states no VAT."
    )
    energy_kwh: Decimal = strawberry.field(description="Energy delivered.")
    charging_end: datetime = strawberry.field(description="When charging would end (UTC).")
    min_price_applied: bool = strawberry.field(description="The tariff's minimum price applied.")
    max_price_applied: bool = strawberry.field(description="The tariff's maximum price applied.")
    lines: list[PriceLineOut] = strawberry.field(description="The parts, as in a CDR.")


def _decimal(name: str, value: float | None) -> Decimal | None:
    if value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise bad_input(f"{name}: not a number") from None
    if not number.is_finite() or number < 0:
        raise bad_input(f"{name}: a number of at least 0")
    return number


def estimate_under(
    tariff: Doc,
    *,
    start: datetime,
    time_zone: str,
    evse_max_power_kw: float,
    car_max_power_kw: float,
    energy_kwh: float | None,
    duration_minutes: float | None,
    parking_minutes: float,
) -> PriceEstimateOut:
    """One tariff's estimate for a session at constant power (the lesser of the car's and the
    EVSE's maximum); bad input is BAD_USER_INPUT, nothing else is assumed."""
    try:
        scenario = pricing.ChargingScenario(
            start=start,
            time_zone=time_zone,
            car_max_power_kw=_decimal("carMaxPowerKw", car_max_power_kw) or Decimal(0),
            evse_max_power_kw=Decimal(str(evse_max_power_kw)),
            energy_kwh=_decimal("energyKwh", energy_kwh),
            duration=timedelta(minutes=duration_minutes) if duration_minutes is not None else None,
            parking=timedelta(minutes=parking_minutes),
        )
        result = pricing.estimate(tariff.data, scenario)
    except (pricing.PricingError, OverflowError) as problem:
        raise bad_input(str(problem)) from None
    return PriceEstimateOut(
        tariff_id=str(tariff.data.get("id", tariff.object_id)),
        currency=result.currency,
        total_excl_vat=result.total_excl_vat,
        total_incl_vat=result.total_incl_vat,
        energy_kwh=result.energy_kwh,
        charging_end=result.charging_end,
        min_price_applied=result.min_price_applied,
        max_price_applied=result.max_price_applied,
        lines=[
            PriceLineOut(
                dimension=line.dimension.value,
                reservation=line.reservation,
                start=line.start,
                end=line.end,
                quantity=line.quantity,
                price=line.price,
                excl_vat=line.excl_vat,
                incl_vat=line.incl_vat,
            )
            for line in result.lines
        ],
    )
