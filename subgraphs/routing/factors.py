"""What a route costs in money and CO2, per travel mode: the one table of factors, with sources.

Every figure the routing subgraph multiplies a distance or an energy by is here, each with
where it comes from (docs/routing.md explains them and what they leave out). Prices are in
euros (every extract the platform ships is in the euro area or, for Liechtenstein, beside
it; a region in another currency needs its own prices here first).

Scope of the CO2 figures: the energy a trip uses, not the making of the vehicle. For an
electric car that is the electricity's generation (the grid's average intensity times the
energy drawn), for a combustion car what its exhaust emits (tank to wheel), and for walking and
cycling nothing (food energy and the bicycle's manufacture are outside this scope, as the
cars' manufacture is).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

CURRENCY = "EUR"


class Mode(StrEnum):
    ELECTRIC_CAR = "ELECTRIC_CAR"
    COMBUSTION_CAR = "COMBUSTION_CAR"
    BICYCLE = "BICYCLE"
    WALKING = "WALKING"


#: An electric car's consumption from the socket, kWh per km: the real-world average of 342
#: battery-electric cars on sale in Europe, 21 +- 4 kWh/100 km (Weiss, Helmers et al., "Energy
#: Consumption of Electric Vehicles in Europe", Sustainability 2024, 16(17), 7529,
#: doi:10.3390/su16177529). Certified (WLTP) figures average 19 kWh/100 km.
EV_KWH_PER_KM = 0.21

#: A new petrol car's exhaust CO2, grams per km: the EEA's average for new petrol cars
#: registered in the EU in 2017, 121.6 g CO2/km (EEA indicator "Average CO2 emissions from
#: motor vehicles", assessment of 2018; type-approval values, which real driving exceeds).
#: Petrol is the most sold combustion fuel in the EEA's figures; the newest per-fuel average
#: the EEA states on the page.
COMBUSTION_G_CO2_PER_KM = 121.6

#: CO2 per litre of petrol burnt: 0.74 kg of fuel per litre, 87 % of it carbon by mass, each
#: kg of carbon becoming 44/12 kg of CO2: 0.74 * 0.87 * 44 / 12 = 2.36 kg.
PETROL_G_CO2_PER_LITRE = 2360.0

#: Petrol's pump price, euros per litre: the EU average consumer price of Euro-super 95 with
#: taxes in 2024, about 1.75 EUR/l (European Commission, Weekly Oil Bulletin).
PETROL_EUR_PER_LITRE = 1.75
PETROL_SOURCE = "European Commission Weekly Oil Bulletin, EU Euro-super 95 with taxes, 2024"

#: Electricity's price where the destination's tariff is not known, euros per kWh: the EU
#: average household price with taxes in the second half of 2024, 28.72 EUR per 100 kWh
#: (Eurostat, nrg_pc_204). Public charging usually costs more; the destination's own tariff
#: takes precedence where the route goes to a charger (``subgraphs/routing/tariffs.py``).
ELECTRICITY_EUR_PER_KWH = 0.2872
ELECTRICITY_SOURCE = "Eurostat nrg_pc_204, EU household average with taxes, 2024-S2"

#: The electricity grid's carbon intensity, gCO2eq per kWh, per ISO 3166-1 alpha-2 country:
#: the per-country figures the codecarbon package ships (codecarbon/data/private_infra/
#: global_energy_mix.json, "carbon_intensity", from Our World in Data's 2023 energy data):
#: Finland 79.158, Portugal 165.553. Liechtenstein is not in that table: its grid is part
#: of the Swiss control area and most of its electricity is imported from Switzerland, so
#: Switzerland's figure (34.843) stands for it.
GRID_G_CO2_PER_KWH: dict[str, float] = {
    "FI": 79.158,
    "PT": 165.553,
    "LI": 34.843,
    "CH": 34.843,
}
#: Elsewhere: the world average codecarbon falls back to (carbon_intensity_per_source.json,
#: "world_average", from the IEA's Global Energy & CO2 Status Report 2019).
GRID_DEFAULT_G_CO2_PER_KWH = 475.0


@dataclass(frozen=True, slots=True)
class EnergyPrice:
    """What a kWh of an electric car's trip is costed at (in ``CURRENCY``), and whence: the
    destination's tariff (``tariff_id``) or the default, in words for the driver."""

    per_kwh: float
    source: str
    tariff_id: str | None = None


def default_electricity(why: str | None = None) -> EnergyPrice:
    """The table's price; ``why`` says why no tariff priced the trip, where one was looked at."""
    said = f"default {ELECTRICITY_EUR_PER_KWH} {CURRENCY}/kWh ({ELECTRICITY_SOURCE})"
    return EnergyPrice(ELECTRICITY_EUR_PER_KWH, f"{said}: {why}" if why else said)


@dataclass(frozen=True, slots=True)
class TripFootprint:
    """What one trip costs: money (euros), CO2 (grams) and, for an electric car, energy;
    ``cost_source`` says which price the money is from."""

    cost_eur: float
    co2_g: float
    energy_kwh: float | None = None
    fuel_litres: float | None = None
    cost_source: str = "nothing to pay for energy or fuel"
    tariff_id: str | None = None


def grid_intensity(country: str | None) -> float:
    return GRID_G_CO2_PER_KWH.get((country or "").upper(), GRID_DEFAULT_G_CO2_PER_KWH)


def ev_energy_kwh(distance_km: float) -> float:
    return distance_km * EV_KWH_PER_KM


def footprint(
    mode: Mode,
    distance_km: float,
    *,
    country: str | None,
    electricity: EnergyPrice | None = None,
) -> TripFootprint:
    """The trip's cost and CO2 by its mode and length, in the map's country; an electric
    car's energy at ``electricity`` (the destination's tariff), else at the default price."""
    if mode is Mode.ELECTRIC_CAR:
        energy = ev_energy_kwh(distance_km)
        price = electricity or default_electricity()
        return TripFootprint(
            cost_eur=energy * price.per_kwh,
            co2_g=energy * grid_intensity(country),
            energy_kwh=energy,
            cost_source=price.source,
            tariff_id=price.tariff_id,
        )
    if mode is Mode.COMBUSTION_CAR:
        co2 = distance_km * COMBUSTION_G_CO2_PER_KM
        litres = co2 / PETROL_G_CO2_PER_LITRE
        return TripFootprint(
            cost_eur=litres * PETROL_EUR_PER_LITRE,
            co2_g=co2,
            fuel_litres=litres,
            cost_source=f"default {PETROL_EUR_PER_LITRE} {CURRENCY}/l ({PETROL_SOURCE})",
        )
    return TripFootprint(cost_eur=0.0, co2_g=0.0)
