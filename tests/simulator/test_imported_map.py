"""The simulator places its fleet on the active map: here Liechtenstein, imported by the
routing engine, not the Helsinki default."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from incar import maps
from incar.maps import MapManifest
from simulator.fleet import assign_sites, build_location
from simulator.map import load_sites
from simulator.protocol import PartyRef
from subgraphs.routing.engine.build import import_map
from tests.routing.conftest import extract

CPO = PartyRef("LI", "CPL")
STATIONS = 20


@pytest.fixture(scope="module")
def liechtenstein(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MapManifest]:
    data_dir = tmp_path_factory.mktemp("data")
    return data_dir, import_map(data_dir, extract("liechtenstein.osm.pbf"))


def test_stations_are_placed_within_the_imported_map(
    liechtenstein: tuple[Path, MapManifest],
) -> None:
    data_dir, manifest = liechtenstein
    sites = load_sites(data_dir)
    assert len(sites) > 100
    assert all(manifest.contains(site.lat, site.lon) for site in sites)
    placed = assign_sites(sites, [CPO], STATIONS, seed=3)[CPO]
    assert len(placed) == STATIONS
    rng, now = random.Random(3), datetime.now(UTC)
    for site in placed:
        location = build_location(CPO, "Simulated CPO", site, rng, now)
        latitude = float(location["coordinates"]["latitude"])
        longitude = float(location["coordinates"]["longitude"])
        assert manifest.contains(latitude, longitude), location["coordinates"]
    # Liechtenstein's own towns, not the Helsinki default's.
    assert {"Vaduz", "Schaan"} <= {site.city for site in sites}


def test_the_sites_are_extracted_from_the_map_the_tile_set_keeps(
    liechtenstein: tuple[Path, MapManifest],
) -> None:
    data_dir, manifest = liechtenstein
    cached = data_dir / "simulator"
    assert cached.is_dir()
    source = maps.source_pbf(data_dir, manifest)
    assert source.read_bytes() == extract("liechtenstein.osm.pbf").read_bytes()
