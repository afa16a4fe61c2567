"""A map is built beside the active one and switched to only when complete and answering."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from incar import maps
from incar.maps import MapManifest
from subgraphs.routing.engine.build import import_map, region_of
from subgraphs.routing.engine.pbf import MapInputError
from tests.routing.conftest import VADUZ, extract
from tests.routing.pbf_files import LIECHTENSTEIN_HEADER_END, first_blocks


def test_the_imported_map_is_active_with_its_manifest(
    liechtenstein: tuple[Path, MapManifest],
) -> None:
    data_dir, manifest = liechtenstein
    assert maps.read_active(data_dir) == manifest
    assert manifest.region == "liechtenstein"
    assert manifest.source_name == "liechtenstein.osm.pbf"
    assert manifest.source_bytes == extract("liechtenstein.osm.pbf").stat().st_size
    assert all(manifest.contains(point["lat"], point["lon"]) for point in VADUZ)
    assert manifest.tiles_bytes > 500_000
    # The tile set keeps its source: the simulator places stations from it.
    source = maps.source_pbf(data_dir, manifest)
    assert source.read_bytes() == extract("liechtenstein.osm.pbf").read_bytes()


def test_the_tiles_carry_the_maps_time_zone(liechtenstein: tuple[Path, MapManifest]) -> None:
    """Valhalla reads a departure's local time in Vaduz's zone (as it names it: Vaduz is a
    link to Zurich in its list) and says so in its answer; the builder's input is gone."""
    import valhalla

    from subgraphs.routing.engine.tileset import config_file

    data_dir, manifest = liechtenstein
    assert manifest.time_zone == "Europe/Zurich"
    assert manifest.id.endswith("-tz")  # a tile set from before time zones is not reused
    folder = maps.tileset_dir(data_dir, manifest.id)
    assert not (folder / "timezones.sqlite").exists()
    actor = valhalla.Actor(str(config_file(folder)))
    request = {"locations": list(VADUZ), "costing": "auto", "directions_type": "none",
               "date_time": {"type": 1, "value": "2026-07-01T08:30"}}  # fmt: skip
    start = json.loads(actor.route(json.dumps(request)))["trip"]["locations"][0]
    assert (start["date_time"], start["time_zone_name"], start["time_zone_offset"]) == (
        "2026-07-01T08:30",
        "Europe/Zurich",
        "+02:00",  # summer time
    )


def test_importing_the_same_extract_again_takes_no_rebuild(
    liechtenstein: tuple[Path, MapManifest],
) -> None:
    data_dir, manifest = liechtenstein
    said = io.StringIO()
    again = import_map(data_dir, extract("liechtenstein.osm.pbf"), stream=said)
    assert again == manifest  # same built_at: the tiles were not built again
    assert "built already" in said.getvalue()


def test_an_extract_without_ways_is_refused_and_the_map_stays(
    liechtenstein: tuple[Path, MapManifest], tmp_path: Path
) -> None:
    data_dir, manifest = liechtenstein
    data = extract("liechtenstein.osm.pbf").read_bytes()
    for count, name in ((1, "header-only.osm.pbf"), (2, "nodes-only.osm.pbf")):
        path = tmp_path / name
        path.write_bytes(first_blocks(data, count))
        assert count > 1 or len(path.read_bytes()) == LIECHTENSTEIN_HEADER_END
        with pytest.raises(MapInputError, match=r": no routable ways"):
            import_map(data_dir, path)
        assert maps.read_active(data_dir) == manifest
    assert not list(maps.maps_dir(data_dir).glob(".building-*"))


@pytest.mark.parametrize("bad", ["truncated", "text"])
def test_a_bad_file_changes_nothing(
    bad: str, liechtenstein: tuple[Path, MapManifest], tmp_path: Path
) -> None:
    data_dir, manifest = liechtenstein
    before = sorted(path.name for path in maps.maps_dir(data_dir).iterdir())
    path = tmp_path / f"{bad}.osm.pbf"
    data = extract("liechtenstein.osm.pbf").read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3] if bad == "truncated" else b"<osm>\n</osm>\n")
    with pytest.raises(MapInputError):
        import_map(data_dir, path)
    assert maps.read_active(data_dir) == manifest
    assert sorted(path.name for path in maps.maps_dir(data_dir).iterdir()) == before


def test_a_region_is_named_after_its_file() -> None:
    assert region_of(Path("liechtenstein-latest.osm.pbf")) == "liechtenstein"
    assert region_of(Path("/x/Helsinki.osm.pbf")) == "helsinki"
    assert region_of(Path("Île de France.pbf")) == "le-de-france"
    assert region_of(Path(".osm.pbf")) == "map"


def test_a_region_given_by_name_cannot_leave_the_maps_folder(
    liechtenstein: tuple[Path, MapManifest],
) -> None:
    data_dir, manifest = liechtenstein
    named = import_map(data_dir, extract("liechtenstein.osm.pbf"), region="../../Vaduz area")
    assert named.region == "vaduz-area"
    assert maps.tileset_dir(data_dir, named.id).parent == maps.maps_dir(data_dir)
    back = import_map(data_dir, extract("liechtenstein.osm.pbf"))
    assert back == manifest  # the previous tile set was kept: no rebuild
