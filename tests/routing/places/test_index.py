"""The places index is built with the map's tiles, in the new tile set's folder, and on first
use for a map that has none (imported before the index existed, or of an older schema)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest

from incar import maps
from incar.maps import MapManifest
from subgraphs.routing.engine import pbf
from subgraphs.routing.engine.build import import_map
from subgraphs.routing.engine.pbf import MapInputError
from subgraphs.routing.places import (
    MapPlaces,
    PlaceError,
    PlaceErrorCode,
    PlaceKind,
    PoiClass,
    index_of,
    open_index,
)
from subgraphs.routing.places import index as places_index
from tests.routing.conftest import extract
from tests.routing.pbf_files import first_blocks


def test_an_import_builds_the_index_beside_the_tiles(
    liechtenstein: tuple[Path, MapManifest], tmp_path: Path
) -> None:
    data_dir, manifest = liechtenstein
    path = maps.tileset_dir(data_dir, manifest.id) / places_index.FILENAME
    assert path.is_file()
    places = index_of(data_dir)
    assert places.path == path
    assert places.bbox == manifest.bbox
    assert places.counts["addresses"] > 900 and places.counts["streets"] > 900
    # The import says so among its phases.
    said = io.StringIO()
    import_map(tmp_path, extract("liechtenstein.osm.pbf"), stream=said)
    assert "indexing addresses, places and points of interest ... " in said.getvalue()


async def test_a_map_without_an_index_gets_one_on_first_use(
    liechtenstein: tuple[Path, MapManifest],
) -> None:
    data_dir, manifest = liechtenstein
    path = maps.tileset_dir(data_dir, manifest.id) / places_index.FILENAME
    path.unlink()
    places = await open_index(data_dir)
    assert path.is_file()
    found = await places.geocode("Städtle 43, Vaduz")
    assert found[0].kind is PlaceKind.ADDRESS


def test_an_index_of_another_schema_is_built_again(
    liechtenstein: tuple[Path, MapManifest],
) -> None:
    data_dir, manifest = liechtenstein
    path = maps.tileset_dir(data_dir, manifest.id) / places_index.FILENAME
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '0' WHERE key = 'schema'")
    db.close()
    assert index_of(data_dir).counts["addresses"] > 900
    with sqlite3.connect(path) as db:
        assert places_index.read_meta(db)["schema"] == places_index.SCHEMA_VERSION
    db.close()


def test_no_map_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(PlaceError) as raised:
        index_of(tmp_path)
    assert raised.value.code is PlaceErrorCode.INDEX_UNAVAILABLE


def test_a_damaged_block_is_one_line_and_no_index(tmp_path: Path) -> None:
    """Framing intact (``engine.pbf`` passes it), a data block's zlib stream spoilt."""
    data = extract("liechtenstein.osm.pbf").read_bytes()
    damaged = bytearray(first_blocks(data, 3))
    start = len(first_blocks(data, 2)) + 200
    damaged[start : start + 60] = bytes(byte ^ 0xFF for byte in damaged[start : start + 60])
    source = tmp_path / "damaged.osm.pbf"
    source.write_bytes(bytes(damaged))
    assert pbf.inspect(source).data_blocks == 2
    target = tmp_path / "out" / places_index.FILENAME
    target.parent.mkdir()
    with pytest.raises(MapInputError, match=r"damaged.osm.pbf: damaged \(failed to uncompress"):
        places_index.build(source, target, bbox=(0, 0, 1, 1))
    assert list(target.parent.iterdir()) == []  # nothing half-written left behind


async def test_map_places_follow_the_active_map(tmp_path: Path) -> None:
    places = MapPlaces(tmp_path, recheck=0.0)
    with pytest.raises(PlaceError) as raised:
        await places.geocode("Städtle 43")
    assert raised.value.code is PlaceErrorCode.INDEX_UNAVAILABLE
    import_map(tmp_path, extract("liechtenstein.osm.pbf"))
    assert (await places.geocode("Städtle 43"))[0].city == "Vaduz"
    with pytest.raises(PlaceError) as raised:
        await places.reverse(60.1725449, 24.937381)  # Helsinki is off this map
    assert raised.value.code is PlaceErrorCode.OFF_MAP
    source = maps.default_source()
    assert source is not None
    import_map(tmp_path, source, region=maps.DEFAULT_REGION)
    here = await places.reverse(60.1725449, 24.937381)
    assert here is not None and here.label == "Töölönlahdenkatu 2, 00100 Helsinki"
    assert [p for p in await places.geocode("Städtle 43") if p.city == "Vaduz"] == []
    taxis = await places.pois((24.93, 60.16, 24.96, 60.18), classes=[PoiClass.TAXI])
    assert len(taxis) == 17
