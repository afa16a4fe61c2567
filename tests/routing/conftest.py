"""Fixtures of the routing tests: the OpenStreetMap extracts of shared/osm and a map built once
per module (a Liechtenstein build takes about two seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from incar.maps import MapManifest
from subgraphs.routing.engine.build import import_map
from tests.support.shared import OSM

#: Two points in Vaduz: the town hall and the Rheinpark stadium.
VADUZ = ({"lat": 47.1396, "lon": 9.5226}, {"lat": 47.1406, "lon": 9.5120})


def extract(name: str) -> Path:
    path = OSM / name
    if not path.is_file():
        pytest.fail(f"missing test extract {path}: the tests read shared/osm beside the checkout")
    return path


@pytest.fixture(scope="module")
def liechtenstein(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, MapManifest]:
    """A data directory whose active map is Liechtenstein, and its manifest."""
    data_dir = tmp_path_factory.mktemp("data")
    return data_dir, import_map(data_dir, extract("liechtenstein.osm.pbf"))
