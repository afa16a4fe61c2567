"""The probe endpoint over real HTTP: a sound trace (GPX or JSON) is matched and measured;
a malformed, implausible, off-map or hostile one is refused with its HTTP status and JSON
error code, and the live traffic stays exactly as it was."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from incar.maps import MapManifest
from subgraphs.routing.engine.running import engine_for
from subgraphs.routing.traffic import probes
from subgraphs.routing.traffic.store import LiveSpeeds
from tests.routing.graph import until_ready
from tests.routing.traffic_support import Served, served, stamp

#: Along Vaduz's Äulestrasse, town hall towards the stadium: eight fixes 10 s apart.
STREET = [(47.1396 + 0.0001 * i, 9.5226 - 0.0004 * i) for i in range(8)]


@pytest.fixture(scope="module")
async def graph(liechtenstein: tuple[Path, MapManifest]) -> AsyncIterator[Served]:
    async with served(liechtenstein[0]) as running:
        probe = "{ routes(from: {coordinates: {latitude: 47.1396, longitude: 9.5226}}, to: {coordinates: {latitude: 47.1406, longitude: 9.5120}}) { map } }"  # noqa: E501
        await until_ready(running, probe)
        yield running


def store(graph: Served) -> LiveSpeeds:
    return engine_for(graph.runtime.settings).pool.traffic


def live(graph: Served) -> dict[int, Any]:
    pool = engine_for(graph.runtime.settings).pool
    return dict(store(graph).current(pool.manifest.id))


def points(fixes: list[tuple[float, float]], *, step_s: float = 10.0) -> list[dict[str, Any]]:
    start = time.time() - step_s * len(fixes)
    return [
        {"lat": lat, "lon": lon, "time": stamp(start + i * step_s)}
        for i, (lat, lon) in enumerate(fixes)
    ]


def trace(fixes: list[dict[str, Any]], vehicle: Any = "car-1") -> str:
    return json.dumps({"vehicle": vehicle, "points": fixes})


def gpx(fixes: list[dict[str, Any]], *, name: str = "car-9", doctype: str = "") -> str:
    body = "".join(
        f'<trkpt lat="{f["lat"]}" lon="{f["lon"]}"><time>{f["time"]}</time></trkpt>' for f in fixes
    )
    return (
        f'<?xml version="1.0"?>{doctype}<gpx version="1.1" creator="test" '
        f'xmlns="http://www.topografix.com/GPX/1/1"><trk><name>{name}</name><trkseg>'
        f"{body}</trkseg></trk></gpx>"
    )


async def test_a_json_and_a_gpx_trace_are_matched_into_speeds(graph: Served) -> None:
    answer = await graph.send(trace(points(STREET)), "application/json")
    assert answer.status_code == 202, answer.text
    report = answer.json()
    assert report["points"] == 8 and report["edges"] >= 1 and report["kept"] >= 1, report
    speeds = live(graph)
    assert speeds
    # About 40 m in 10 s between fixes: some 10 to 20 km/h, what the trace drove.
    assert all(3 < s.speed_kmh < 40 for s in speeds.values()), speeds
    answer = await graph.send(gpx(points(STREET)), "application/gpx+xml")
    assert answer.status_code == 202, answer.text
    assert answer.json()["vehicle"] == "car-9"


BILLION_LAUGHS = (
    '<!DOCTYPE gpx [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
)
EXTERNAL = '<!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
GOOD = points(STREET)


def _moved(index: int, lat: float, lon: float) -> list[dict[str, Any]]:
    fixes = [dict(f) for f in GOOD]
    fixes[index] = {**fixes[index], "lat": lat, "lon": lon}
    return fixes


def _retimed(index: int, text: str) -> list[dict[str, Any]]:
    fixes = [dict(f) for f in GOOD]
    fixes[index] = {**fixes[index], "time": text}
    return fixes


REFUSED = [
    ("not JSON", b"{points: [", "application/json", 400, "BAD_TRACE"),
    ("no points", json.dumps({"vehicle": "x"}), "application/json", 400, "BAD_TRACE"),
    ("one point", trace(GOOD[:1]), "application/json", 400, "TOO_FEW_POINTS"),
    (
        "too many points",
        trace([GOOD[0]] * (probes.MAX_POINTS + 1)),
        "application/json",
        413,
        "TOO_MANY_POINTS",
    ),
    ("too large", b" " * (probes.MAX_BYTES + 1), "application/json", 413, "TOO_LARGE"),
    ("a vehicle that is a list", trace(GOOD, vehicle=[1]), "application/json", 400, "BAD_TRACE"),
    ("a latitude NaN", trace(_moved(2, float("nan"), 9.52)), "application/json", 400, "BAD_TRACE"),
    ("latitude 95", trace(_moved(2, 95.0, 9.52)), "application/json", 400, "BAD_TRACE"),
    ("a point in Zurich", trace(_moved(3, 47.3769, 8.5417)), "application/json", 400, "OFF_MAP"),
    (
        "a jump of a kilometre in 10 s",
        trace(_moved(4, 47.1490, 9.5226)),
        "application/json",
        400,
        "IMPLAUSIBLE_SPEED",
    ),
    (
        "time going back",
        trace(_retimed(5, GOOD[1]["time"])),
        "application/json",
        400,
        "BAD_TRACE",
    ),
    (
        "a time without offset",
        trace(_retimed(0, "2026-12-02T10:00:00")),
        "application/json",
        400,
        "BAD_TRACE",
    ),
    (
        "a time in the future",
        trace(_retimed(7, stamp(time.time() + 3600))),
        "application/json",
        400,
        "BAD_TRACE",
    ),
    (
        "billion laughs",
        gpx(GOOD, doctype=BILLION_LAUGHS),
        "application/gpx+xml",
        400,
        "HOSTILE_XML",
    ),
    (
        "an external entity",
        gpx(GOOD, name="&x;", doctype=EXTERNAL),
        "application/gpx+xml",
        400,
        "HOSTILE_XML",
    ),
    ("broken XML", gpx(GOOD)[:-20], "application/gpx+xml", 400, "BAD_TRACE"),
    ("not GPX", "<kml><trkpt/></kml>", "application/xml", 400, "BAD_TRACE"),
    ("GPX without a name", gpx(GOOD, name=""), "application/gpx+xml", 400, "BAD_TRACE"),
    ("CSV", "lat,lon,time", "text/csv", 415, "UNSUPPORTED_MEDIA_TYPE"),
]


@pytest.mark.parametrize(
    ("body", "kind", "status", "code"),
    [case[1:] for case in REFUSED],
    ids=[case[0] for case in REFUSED],
)
async def test_bad_traces_are_refused_and_change_nothing(
    graph: Served, body: bytes | str, kind: str, status: int, code: str
) -> None:
    before = live(graph)
    answer = await graph.send(body, kind)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["code"] == code, error
    assert error["message"]
    assert live(graph) == before


@pytest.mark.parametrize("token", [None, "Token someone-else"])
async def test_probes_need_credentials(graph: Served, token: str | None) -> None:
    before = live(graph)
    answer = await graph.send(trace(GOOD), "application/json", token=token)
    assert answer.status_code == 401, answer.text
    assert answer.json()["code"] == "UNAUTHENTICATED"
    assert live(graph) == before


async def test_an_old_trace_is_taken_but_measures_no_live_speed(graph: Served) -> None:
    before = live(graph)
    old = [
        {**f, "time": stamp(time.time() - store(graph).ttl - 600 + i * 10)}
        for i, f in enumerate(GOOD)
    ]
    answer = await graph.send(trace(old), "application/json")
    assert answer.status_code == 202, answer.text
    assert answer.json()["kept"] == 0
    assert live(graph) == before
