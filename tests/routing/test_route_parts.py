"""The parts of a route answer that need no engine: the order, the factors, the geometry, the
language and the map's region."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from incar.maps import MapManifest
from subgraphs.routing import factors, geometry, languages, regions, service
from subgraphs.routing.factors import Mode, TripFootprint
from subgraphs.routing.service import Criterion, PlannedRoute, Point, RouteQuery, order

NOON = datetime(2026, 12, 2, 12, tzinfo=UTC)


def route(mode: Mode, duration: float, km: float, rank: int = 0) -> PlannedRoute:
    return PlannedRoute(
        mode=mode,
        departure=NOON,
        arrival=NOON,
        duration_s=duration,
        distance_m=km * 1000,
        footprint=factors.footprint(mode, km, country="FI"),
        polyline6="",
        maneuvers=(),
        language="en-US",
        engine_rank=rank,
    )


def test_the_order_is_by_the_criterion_not_the_engines() -> None:
    engine = [
        route(Mode.ELECTRIC_CAR, 600, 9.0, 0),  # the engine's best: neither fastest nor shortest
        route(Mode.ELECTRIC_CAR, 540, 10.0, 1),
        route(Mode.ELECTRIC_CAR, 700, 8.0, 2),
        route(Mode.BICYCLE, 1800, 7.5, 0),
    ]
    by_time = order(engine, Criterion.DURATION)
    assert [(r.mode, r.engine_rank) for r in by_time] == [
        (Mode.ELECTRIC_CAR, 1),
        (Mode.ELECTRIC_CAR, 0),
        (Mode.ELECTRIC_CAR, 2),
        (Mode.BICYCLE, 0),
    ]
    # Money: the bicycle costs nothing; then the shortest drive uses the least energy.
    by_cost = order(engine, Criterion.COST)
    assert [(r.mode, r.engine_rank) for r in by_cost] == [
        (Mode.BICYCLE, 0),
        (Mode.ELECTRIC_CAR, 2),
        (Mode.ELECTRIC_CAR, 0),
        (Mode.ELECTRIC_CAR, 1),
    ]
    assert order(engine, Criterion.CO2) == by_cost


def test_equal_costs_are_ordered_by_duration() -> None:
    walk, bike = route(Mode.WALKING, 3600, 5.0), route(Mode.BICYCLE, 1200, 5.2)
    assert order([walk, bike], Criterion.COST) == [bike, walk]
    assert order([walk, bike], Criterion.CO2) == [bike, walk]


def test_the_factors_of_each_mode() -> None:
    ev = factors.footprint(Mode.ELECTRIC_CAR, 10.0, country="PT")
    assert ev.cost_eur == pytest.approx(10 * 0.21 * 0.2872)
    assert ev.co2_g == pytest.approx(10 * 0.21 * 165.553)
    assert ev.energy_kwh == pytest.approx(2.1)
    assert ev.fuel_litres is None
    # A destination's own tariff replaces the default price; the grid stays the country's.
    at_tariff = factors.footprint(
        Mode.ELECTRIC_CAR, 10.0, country="PT", electricity=factors.EnergyPrice(0.5, "T", "T1")
    )
    assert at_tariff.cost_eur == pytest.approx(1.05)
    assert at_tariff.co2_g == ev.co2_g
    assert (at_tariff.cost_source, at_tariff.tariff_id) == ("T", "T1")
    assert ev.tariff_id is None and ev.cost_source.startswith("default 0.2872 EUR/kWh")
    petrol = factors.footprint(Mode.COMBUSTION_CAR, 10.0, country="PT")
    assert petrol.co2_g == pytest.approx(1216.0)
    assert petrol.fuel_litres == pytest.approx(1216 / 2360)
    assert petrol.cost_eur == pytest.approx(1216 / 2360 * 1.75)
    for mode in (Mode.BICYCLE, Mode.WALKING):
        assert factors.footprint(mode, 10.0, country="PT") == TripFootprint(0.0, 0.0)
    # Where the table has no country, the world average.
    assert factors.grid_intensity("XX") == factors.grid_intensity(None) == 475.0
    assert factors.grid_intensity("fi") == 79.158


def test_the_region_of_each_extract() -> None:
    liechtenstein = (9.471078, 47.04774, 9.636217, 47.27128)
    assert regions.region_of(liechtenstein) == regions.Region("LI", "Europe/Vaduz")
    assert regions.region_at(60.17, 24.94) == regions.Region("FI", "Europe/Helsinki")
    assert regions.region_at(41.15, -8.61) == regions.Region("PT", "Europe/Lisbon")
    assert regions.region_at(0.0, 0.0) == regions.UNKNOWN
    assert not regions.UNKNOWN.known
    assert str(regions.region_at(47.14, 9.52).zone) == "Europe/Vaduz"


def test_a_polyline_round_trips_and_becomes_geojson() -> None:
    points = [(47.139926, 9.522031), (47.140001, 9.521), (47.139809, 9.512129), (-33.5, -70.25)]
    encoded = geometry.encode(points)
    assert geometry.decode(encoded) == points
    assert geometry.line_string(points[:2]) == {
        "type": "LineString",
        "coordinates": [[9.522031, 47.139926], [9.521, 47.140001]],
    }
    # Two legs share their meeting point once.
    first, second = geometry.encode(points[:2]), geometry.encode(points[1:3])
    assert geometry.joined([first, second]) == points[:3]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("fi-FI", "fi-FI"), ("FI-fi", "fi-FI"), ("fi", "fi-FI"), ("de-AT", "de-DE"), ("pt", "pt-PT")],
)
def test_a_language_tag_resolves_to_a_supported_locale(tag: str, expected: str) -> None:
    assert languages.resolve(tag) == expected


@pytest.mark.parametrize("tag", ["xx", "zz-ZZ", "", "fi_FI", "en US", "e"])
def test_an_unsupported_or_malformed_language_is_refused(tag: str) -> None:
    with pytest.raises(languages.UnsupportedLanguage):
        languages.resolve(tag)


def test_the_engine_reads_times_in_the_tiles_zone_or_utc_without_one() -> None:
    """The date_time value is the moment's wall clock in the zone Valhalla reads it in: the
    tiles' (built with the map's zone), or UTC for a tile set built without zones."""
    with_zone = MapManifest(
        id="helsinki-x-valhalla3.9.1-tz", region="helsinki", source_name="h.osm.pbf",
        source_sha256="0" * 64, source_bytes=1, bbox=(24.9, 60.1, 25.0, 60.2),
        built_at="2026-12-01T00:00:00+00:00", build_seconds=1.0, tiles_bytes=1,
        valhalla_version="3.9.1", time_zone="Europe/Helsinki",
    )  # fmt: skip
    before = dataclasses.replace(with_zone, id="helsinki-x-valhalla3.9.1", time_zone=None)
    query = RouteQuery(origin=Point(60.17, 24.94), destination=Point(60.16, 24.95))
    later = NOON + timedelta(hours=3)  # 15:00 UTC, 17:00 in Helsinki

    def value(manifest: MapManifest) -> str:
        request = service._request(
            "auto", query, language="en-US", moment=later, arriving=False,
            zone=service.engine_zone(manifest), now=NOON,
        )  # fmt: skip
        assert request["date_time"]["type"] == 1
        return str(request["date_time"]["value"])

    assert value(with_zone) == "2026-12-02T17:00"
    assert value(before) == "2026-12-02T15:00"
