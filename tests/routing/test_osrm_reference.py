"""The routing benchmark's OSRM comparison (bench.routing_reference) on the Liechtenstein
extract: OSRM's data prepared once, and both engines answering the same questions with
answers that agree. Speed is not checked here (bench/README.md has the figures)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench import osrm_reference
from bench.osrm_reference import Osrm, OsrmError
from bench.routing_reference import (
    REGIONS,
    Maps,
    actor_of,
    compare_matching,
    compare_routes,
    compare_tables,
    pairs_of,
    prepared_maps,
)
from tests.routing.conftest import VADUZ


@pytest.fixture(scope="module")
def li_maps(tmp_path_factory: pytest.TempPathFactory) -> Maps:
    return prepared_maps("liechtenstein", tmp_path_factory.mktemp("bench-data"))


def test_osrm_data_is_prepared_once_per_extract(li_maps: Maps) -> None:
    assert set(li_maps.osrm.seconds) == {"extract", "partition", "customize", "contract"}
    folder = li_maps.osrm.base.parent
    for suffix in (".hsgr", ".mldgr", ".partition", ".cells"):  # CH's and MLD's own files
        assert (folder / f"graph.osrm{suffix}").is_file()


def test_a_prepared_folder_is_reused_and_an_unfinished_one_redone(
    li_maps: Maps, tmp_path: Path
) -> None:
    source = REGIONS["liechtenstein"]
    cache = li_maps.osrm.base.parent.parent
    reused = osrm_reference.prepare(source, cache)
    assert reused.seconds == {} and reused.base == li_maps.osrm.base
    # A folder without its marker (an interrupted preparation) is prepared from scratch.
    fresh = tmp_path / "osrm"
    first = osrm_reference.prepare(source, fresh)
    (first.base.parent / osrm_reference.MARKER).unlink()
    (first.base.parent / "graph.osrm.hsgr").write_bytes(b"truncated")
    redone = osrm_reference.prepare(source, fresh)
    assert redone.seconds and (redone.base.parent / osrm_reference.MARKER).is_file()
    assert Osrm(redone, "CH").route(*VADUZ)[0].distance_m > 0


@pytest.mark.parametrize("algorithm", ["CH", "MLD"])
def test_both_engines_route_vaduz_alike(li_maps: Maps, algorithm: osrm_reference.Algorithm) -> None:
    actor = actor_of(li_maps.valhalla_config)
    summary = actor.route({"locations": list(VADUZ), "costing": "auto"})["trip"]["summary"]
    legs = Osrm(li_maps.osrm, algorithm).route(*VADUZ, alternatives=2)
    assert 1 <= len(legs) <= 3
    # Town hall to stadium, about 1 km: the same streets, each engine its own speeds.
    assert legs[0].distance_m == pytest.approx(summary["length"] * 1000, rel=0.15)
    assert legs[0].snap_m < 200  # the stadium's point lies some 90 m off a car road


def test_a_point_far_from_any_road_is_refused_as_osrm_error(li_maps: Maps) -> None:
    with pytest.raises(OsrmError, match="NoSegment"):
        Osrm(li_maps.osrm, "CH").route({"lat": 0.0, "lon": 0.0}, VADUZ[1])


def test_the_comparison_gives_each_engine_side_by_side_and_agreeing(li_maps: Maps) -> None:
    args = argparse.Namespace(routes=30, seed=8)
    pairs = pairs_of(li_maps, args)
    assert len(pairs) >= 10
    actor = actor_of(li_maps.valhalla_config)
    engines = {a: Osrm(li_maps.osrm, a) for a in osrm_reference.ALGORITHMS}

    routes = compare_routes(actor, engines, pairs[:10])
    for case in ("route_2_alternatives", "route_2_alternatives_with_directions", "route_plain"):
        assert set(routes[case]) == {"valhalla", "CH", "MLD"}
        assert routes[case]["valhalla"]["p50_ms"] > 0
        assert routes[case]["CH"]["p50_vs_valhalla"] > 0
    assert routes["osrm_no_route"] == {"CH": 0, "MLD": 0}
    for name in engines:
        assert routes["compared_near_roads"][name] >= 8
        assert 0.9 <= routes["best_route_distance_osrm_over_valhalla"][name]["median"] <= 1.1

    tables = compare_tables(actor, engines, pairs[0][0], matrices=1, seed=8)
    assert tables["cells_found"]["valhalla"] >= 90 and tables["cells_found"]["CH"] >= 90
    assert tables["cells_compared_near_roads"]["CH"] >= 80
    # OSRM's car speeds are not Valhalla's: the times agree within a factor, not exactly.
    assert 0.5 <= tables["cell_time_osrm_over_valhalla"]["CH"]["median"] <= 2.0

    matched = compare_matching(actor, engines, pairs, count=2)
    assert matched["traces"] == 2 and matched["fixes_p50"] > 10
    for engine in ("valhalla", "CH", "MLD"):
        assert 0.9 <= matched["matched_length_over_trace_length"][engine]["median"] <= 1.1
