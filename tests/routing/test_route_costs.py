"""An electric car's route to a charger is costed at the charger's own tariff, over real HTTP
on the Liechtenstein map with the stations and tariffs stored as the hub stores them: the
EVSE's tariff, the cheapest of a Location's, the one of the arrival's time of day, and the
default price (with why) where no tariff prices energy in euros; the order by cost uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from incar.maps import MapManifest
from subgraphs.locations import service
from subgraphs.routing import factors
from tests.routing.graph import STAMP, Served, served, station, until_ready

ROUTES = """
query Routes($from: PlaceInput!, $to: PlaceInput!, $departAt: DateTime,
             $modes: [TravelMode!]! = [ELECTRIC_CAR], $optimizeFor: RouteCriterion! = DURATION) {
  routes(from: $from, to: $to, departAt: $departAt, modes: $modes, optimizeFor: $optimizeFor) {
    routes { mode distanceMeters energyKwh arrival cost { amount currency source tariffId } }
  }
}
"""
ROUTE_FROM = """
query RouteFrom($from: PlaceInput!) {
  _entities(representations: [{__typename: "Location", countryCode: "LI", partyId: "LKW",
                                id: "PRICED"}]) {
    ... on Location {
      routeFrom(from: $from) { routes { distanceMeters cost { amount source tariffId } } }
    }
  }
}
"""
#: North of Schaan to the Rheinpark stadium, some 9 km: costs of a few tens of cents.
SCHAAN_NORTH = {"coordinates": {"latitude": 47.22266, "longitude": 9.53281}}
STADIUM = (47.14060, 9.51220)


def tariff(tid: str, *components: dict[str, Any], currency: str = "EUR", **more: Any) -> Any:
    elements = more.pop("elements", None) or [{"price_components": list(components)}]
    return {"country_code": "LI", "party_id": "LKW", "id": tid, "currency": currency,
            "elements": elements, "last_updated": STAMP, **more}  # fmt: skip


def energy(price: float, vat: float | None = 20.0) -> dict[str, Any]:
    return {"type": "ENERGY", "price": price, "step_size": 1, **({"vat": vat} if vat else {})}


TARIFFS = (
    tariff("E40", energy(0.40)),  # 0.48 EUR/kWh with 20 % VAT
    tariff("E30", energy(0.30), {"type": "FLAT", "price": 1.0, "vat": 20.0, "step_size": 1}),
    tariff("E50", energy(0.50)),  # 0.60 with VAT: dearer per km than petrol
    tariff("TIME", {"type": "TIME", "price": 2.0, "vat": 20.0, "step_size": 60}),
    tariff("CHF", energy(0.20), currency="CHF"),
    # 0.25 from 22:00 to 06:00 local time, 0.45 otherwise, no VAT stated.
    tariff(
        "NIGHT",
        elements=[
            {
                "price_components": [energy(0.25, None)],
                "restrictions": {"start_time": "22:00", "end_time": "06:00"},
            },
            {"price_components": [energy(0.45, None)]},
        ],
    ),
)


def charger(lid: str, *evses: list[str]) -> dict[str, Any]:
    """A Location at the stadium with one EVSE per list of tariff ids (its one connector's)."""
    data = station(lid, *STADIUM, "AVAILABLE")
    [template] = data["evses"]
    data["evses"] = [
        {**template, "uid": f"{lid}-{n}",
         "connectors": [{**template["connectors"][0], "tariff_ids": ids}]}
        for n, ids in enumerate(evses, start=1)
    ]  # fmt: skip
    return data


LOCATIONS = (
    charger("PRICED", ["E40"], ["TIME", "E30"]),
    charger("DEAR", ["E50"]),
    charger("TIMED", ["TIME", "GONE"]),  # GONE: named, never sent
    charger("SWISS", ["CHF"]),
    charger("NIGHTLY", ["NIGHT"]),
)


@pytest.fixture(scope="module")
async def graph(liechtenstein: tuple[Path, MapManifest]) -> AsyncIterator[Served]:
    async with served(liechtenstein[0]) as running:
        async with running.runtime.db.transaction(write=True) as tx:
            for body in TARIFFS:
                await service.put_tariff(tx, data=body)
            for location in LOCATIONS:
                await service.put_location(tx, data=location)
        probe = "{ routes(from: {coordinates: {latitude: 47.1396, longitude: 9.5226}}, to: {coordinates: {latitude: 47.1406, longitude: 9.5120}}) { map } }"  # noqa: E501
        assert (await until_ready(running, probe))["data"]["routes"]["map"] == "liechtenstein"
        yield running


async def plan(graph: Served, to: Any, **variables: Any) -> list[dict[str, Any]]:
    result = await graph.query(ROUTES, **{"from": SCHAAN_NORTH, "to": to, **variables})
    assert "errors" not in result, result
    routes: list[dict[str, Any]] = result["data"]["routes"]["routes"]
    return routes


def evse(lid: str, n: int) -> dict[str, Any]:
    return {"evse": {"countryCode": "LI", "partyId": "LKW", "locationId": lid,
                     "uid": f"{lid}-{n}"}}  # fmt: skip


def location(lid: str) -> dict[str, Any]:
    return {"location": {"countryCode": "LI", "partyId": "LKW", "id": lid}}


def kwh(route: dict[str, Any]) -> float:
    return float(route["distanceMeters"]) / 1000 * factors.EV_KWH_PER_KM


async def test_the_evse_s_tariff_prices_the_energy(graph: Served) -> None:
    [route] = await plan(graph, evse("PRICED", 1))
    assert 7 < route["distanceMeters"] / 1000 < 15
    # E40: 0.40 EUR/kWh + 20 % VAT = 0.48 EUR/kWh, times the trip's 0.21 kWh/km.
    assert route["cost"]["amount"] == round(kwh(route) * 0.48, 2)
    assert route["cost"]["tariffId"] == "E40"
    assert route["cost"]["source"] == (
        "tariff E40 (EVSE PRICED-1, connector 1): 0.4800 EUR/kWh incl. VAT"
    )
    # The same point as coordinates: no charger, so the table's default price.
    [plain] = await plan(graph, {"coordinates": {"latitude": STADIUM[0], "longitude": STADIUM[1]}})
    assert plain["distanceMeters"] == route["distanceMeters"]
    assert plain["cost"]["amount"] == round(kwh(plain) * factors.ELECTRICITY_EUR_PER_KWH, 2)
    assert plain["cost"]["amount"] < route["cost"]["amount"]
    assert plain["cost"]["tariffId"] is None
    assert plain["cost"]["source"] == (
        "default 0.2872 EUR/kWh (Eurostat nrg_pc_204, EU household average with taxes, 2024-S2)"
    )


async def test_a_location_is_priced_at_its_cheapest_energy_tariff(graph: Served) -> None:
    [route] = await plan(graph, location("PRICED"))
    # E30's 0.36 with VAT beats E40's 0.48; its flat fee is the session's, not the energy's,
    # and TIME prices no energy at all.
    assert route["cost"]["amount"] == round(kwh(route) * 0.36, 2)
    assert route["cost"]["tariffId"] == "E30"
    assert route["cost"]["source"] == (
        "tariff E30 (EVSE PRICED-2, connector 1): 0.3600 EUR/kWh incl. VAT, "
        "the cheapest of 2 tariffs there"
    )
    # Location.routeFrom (as the gateway resolves it) goes there too, at the same price.
    result = await graph.query(ROUTE_FROM, **{"from": SCHAAN_NORTH})
    assert "errors" not in result, result
    [again] = result["data"]["_entities"][0]["routeFrom"]["routes"]
    assert again["cost"] == {k: route["cost"][k] for k in ("amount", "source", "tariffId")}


async def test_without_an_energy_price_in_euros_the_default_is_used_and_why(
    graph: Served,
) -> None:
    [timed] = await plan(graph, location("TIMED"))
    assert timed["cost"]["amount"] == round(kwh(timed) * factors.ELECTRICITY_EUR_PER_KWH, 2)
    assert timed["cost"]["tariffId"] is None
    assert timed["cost"]["source"].startswith("default 0.2872 EUR/kWh (Eurostat")
    assert timed["cost"]["source"].endswith(
        ": no tariff of the destination applies (tariff TIME: it prices no energy (time or "
        "flat fees only); tariff GONE: the hub holds no such tariff)"
    )
    [swiss] = await plan(graph, location("SWISS"))
    assert swiss["cost"]["currency"] == "EUR"
    assert swiss["cost"]["amount"] == timed["cost"]["amount"]
    assert swiss["cost"]["source"].endswith("(tariff CHF: in CHF, not EUR)")


async def test_the_tariff_element_of_the_arrival_time_applies(graph: Served) -> None:
    # 23:00 in Vaduz (CET) is in the night element; 10:00 is not. Neither states a VAT.
    [night] = await plan(graph, location("NIGHTLY"), departAt="2026-12-03T22:00:00Z")
    [day] = await plan(graph, location("NIGHTLY"), departAt="2026-12-03T09:00:00Z")
    assert night["cost"]["amount"] == round(kwh(night) * 0.25, 2)
    assert day["cost"]["amount"] == round(kwh(day) * 0.45, 2)
    assert night["cost"]["source"] == (
        "tariff NIGHT (EVSE NIGHTLY-1, connector 1): 0.2500 EUR/kWh "
        "(the tariff states no VAT on energy)"
    )


async def test_the_order_by_cost_uses_the_destination_s_tariff(graph: Served) -> None:
    modes = ["ELECTRIC_CAR", "COMBUSTION_CAR"]
    # At the default price the electric car is the cheaper (0.060 EUR/km against petrol's
    # 0.090); at E50's 0.60 EUR/kWh it costs 0.126 EUR/km and comes second.
    cheap = await plan(graph, location("PRICED"), modes=modes, optimizeFor="COST")
    dear = await plan(graph, location("DEAR"), modes=modes, optimizeFor="COST")
    assert [r["mode"] for r in cheap] == ["ELECTRIC_CAR", "COMBUSTION_CAR"]
    assert [r["mode"] for r in dear] == ["COMBUSTION_CAR", "ELECTRIC_CAR"]
    ev = dear[1]
    assert ev["cost"]["amount"] == round(kwh(ev) * 0.60, 2) > dear[0]["cost"]["amount"]
    assert dear[0]["cost"]["source"].startswith("default 1.75 EUR/l (European Commission")
    assert dear[0]["cost"]["tariffId"] is None
