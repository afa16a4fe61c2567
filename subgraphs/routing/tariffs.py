"""The price of electricity at a route's destination charger, from its tariffs, by the
platform's one tariff calculator (``subgraphs/locations/pricing``).

Which tariffs: those its connectors name (OCPI Connector.tariff_ids), of the EVSE the route
goes to, or of every EVSE of the Location (but removed ones) when it goes to a Location.
Each is priced by the calculator for the trip's energy, charged from the arrival on at the
connector's full power in the Location's time zone, so that the element a driver arriving
then meets is the one that prices it (time of day, day of week, kWh restrictions). Its price
per kWh is the ENERGY dimension's amount over the kWh it bills, with VAT as the calculator
reckons it (a component without one has "no VAT applicable": its price is what is paid). Time,
parking and flat fees are not the energy's price, so not the route's cost (they are the
session's: the locations subgraph's ``priceEstimates``).

The cheapest price per kWh is the one used, ties by the order of EVSEs and connectors: a
driver sent to a station by cost takes its cheapest connector (the car's plug is not known
to the route). A tariff is passed over, and named with why in the route's ``costSource``
when none is left and the default price is used: one in another currency than the factors'
(every route of a plan is costed in one currency, so an order by cost compares amounts of
one kind; there are no exchange rates here), one with no ENERGY component (time or flat fees
only), one not in force at the arrival or that the calculator cannot price, one the hub
does not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from subgraphs.locations import pricing
from subgraphs.locations.pricing import Dimension
from subgraphs.routing import factors
from subgraphs.routing.factors import EnergyPrice

#: The least energy a trip is priced for: a route of a few metres still has a price per kWh.
MIN_KWH = Decimal("0.001")


@dataclass(frozen=True, slots=True)
class Offer:
    """A tariff a connector of the destination names."""

    tariff_id: str
    tariff: Mapping[str, Any] | None  # None: named by the connector, not held by the hub
    evse_uid: str
    connector_id: str
    power_kw: float


@dataclass(frozen=True, slots=True)
class _Priced:
    per_kwh: Decimal
    with_vat: bool
    offer: Offer


@dataclass(frozen=True, slots=True)
class DestinationTariffs:
    """The tariffs at the charger a route goes to; ``price`` is a route's energy price."""

    time_zone: str
    offers: tuple[Offer, ...]

    def price(self, arrival: datetime, energy_kwh: float) -> EnergyPrice:
        if not self.offers:
            return factors.default_electricity("the destination's connectors name no tariff")
        priced: list[_Priced] = []
        passed: dict[str, str] = {}
        for offer in self.offers:
            try:
                priced.append(self._priced(offer, arrival, energy_kwh))
            except _PassedOver as why:
                passed.setdefault(offer.tariff_id, str(why))
        if not priced:
            reasons = "; ".join(f"tariff {tariff}: {why}" for tariff, why in passed.items())
            return factors.default_electricity(f"no tariff of the destination applies ({reasons})")
        best = min(priced, key=lambda p: p.per_kwh)  # min keeps the first of equals
        offer = best.offer
        count = len({p.offer.tariff_id for p in priced})
        vat = "incl. VAT" if best.with_vat else "(the tariff states no VAT on energy)"
        return EnergyPrice(
            per_kwh=float(best.per_kwh),
            source=f"tariff {offer.tariff_id} (EVSE {offer.evse_uid}, connector "
            f"{offer.connector_id}): {best.per_kwh:.4f} {factors.CURRENCY}/kWh {vat}"
            + (f", the cheapest of {count} tariffs there" if count > 1 else ""),
            tariff_id=offer.tariff_id,
        )

    def _priced(self, offer: Offer, arrival: datetime, energy_kwh: float) -> _Priced:
        if offer.tariff is None:
            raise _PassedOver("the hub holds no such tariff")
        currency = offer.tariff.get("currency")
        if currency != factors.CURRENCY:
            raise _PassedOver(f"in {currency}, not {factors.CURRENCY}")
        power = Decimal(str(offer.power_kw))
        try:
            result = pricing.estimate(
                offer.tariff,
                pricing.ChargingScenario(
                    start=arrival,
                    time_zone=self.time_zone,
                    car_max_power_kw=power,
                    evse_max_power_kw=power,
                    energy_kwh=max(Decimal(str(round(energy_kwh, 6))), MIN_KWH),
                ),
            )
        except pricing.PricingError as problem:
            raise _PassedOver(str(problem)) from None
        energy = result.energy
        if energy.quantity <= 0:
            raise _PassedOver("it prices no energy (time or flat fees only)")
        # The calculator's amount with VAT is the amount itself where the component states
        # none ("no VAT applicable", mod_tariffs): the price a driver pays either way.
        with_vat = any(
            line.vat is not None for line in result.lines if line.dimension is Dimension.ENERGY
        )
        return _Priced(energy.incl_vat / energy.quantity, with_vat, offer)


class _PassedOver(Exception):
    """Why one tariff does not price the route."""


def offers_of(
    location: Mapping[str, Any],
    evse_uid: str | None,
    tariffs: Mapping[str, Mapping[str, Any]],
    power_kw: Any,
) -> tuple[Offer, ...]:
    """The tariffs the connectors name, in their order: of the EVSE ``evse_uid`` (a CiString,
    matched without case), else of every EVSE of the Location that is not REMOVED.
    ``tariffs`` holds the documents by upper-cased id; ``power_kw`` gives a connector's."""
    offers = []
    for evse in _evses(location.get("evses"), evse_uid):
        for connector in evse.get("connectors") or []:
            if not isinstance(connector, dict):
                continue
            for tariff_id in connector.get("tariff_ids") or []:
                offers.append(
                    Offer(
                        tariff_id=str(tariff_id),
                        tariff=tariffs.get(str(tariff_id).upper()),
                        evse_uid=str(evse.get("uid", "")),
                        connector_id=str(connector.get("id", "")),
                        power_kw=float(power_kw(connector)),
                    )
                )
    return tuple(offers)


def _evses(items: Any, uid: str | None) -> Sequence[Mapping[str, Any]]:
    evses = [e for e in items or [] if isinstance(e, dict) and e.get("status") != "REMOVED"]
    if uid is None:
        return evses
    return [e for e in evses if str(e.get("uid", "")).upper() == uid.upper()]
