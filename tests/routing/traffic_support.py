"""The routing subgraph with its probe endpoint, served for the traffic tests: a party's
credentials token is known (as the hub knows its platforms'), and traces are made by driving
along a route's own shape at a chosen speed."""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.catalog import subgraphs
from subgraphs.common.auth import Authenticator
from subgraphs.routing import geometry
from subgraphs.server import create_app
from tests.routing import graph
from tests.support.databases import fresh_database
from tests.support.servers import serve

TOKEN = "Token fleet-of-vaduz"


async def _parties(authorization: str) -> list[tuple[str, str, str]] | None:
    return [("LI", "FLT", "EMSP")] if authorization == TOKEN else None


@dataclass
class Served(graph.Served):
    @property
    def probes(self) -> str:
        return f"{self.url}/routing/probes"

    async def send(
        self, body: bytes | str, content_type: str, *, token: str | None = TOKEN
    ) -> httpx.Response:
        headers = {"Content-Type": content_type}
        if token:
            headers["Authorization"] = token
        content = body.encode() if isinstance(body, str) else body
        async with httpx.AsyncClient(timeout=60) as client:
            return await client.post(self.probes, content=content, headers=headers)


@contextlib.asynccontextmanager
async def served(data_dir: Path) -> AsyncIterator[Served]:
    async with fresh_database() as url:
        runtime = Runtime.create(Settings(database_url=url, data_dir=data_dir))
        await runtime.start()
        try:
            app = create_app(
                runtime, [subgraphs()["routing"]], authenticator=Authenticator(parties=_parties)
            )
            async with serve(lambda _url: app) as running:
                yield Served(running.url, runtime)
        finally:
            await runtime.close()


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (b[0] - a[0]) * 111_195
    dx = (b[1] - a[1]) * 111_195 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


def drive(polyline6: str, *, step_m: float = 25.0) -> list[tuple[float, float]]:
    """Points every ``step_m`` along the shape, as (lat, lon)."""
    points = geometry.decode(polyline6)
    out = [points[0]]
    carry = 0.0
    for a, b in itertools.pairwise(points):
        length = _metres(a, b)
        at = step_m - carry
        while at <= length:
            f = at / length
            out.append((a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1])))
            at += step_m
        carry = length - (at - step_m)
    out.append(points[-1])
    return out


def stretches(
    points: list[tuple[float, float]], *, kmh: float, ending: float, vehicles: int
) -> list[dict[str, Any]]:
    """The points cut into ``vehicles`` consecutive traces (JSON form), each a vehicle
    crawling at ``kmh`` and reaching its last point at ``ending`` (Unix seconds)."""
    size = math.ceil(len(points) / vehicles)
    traces = []
    for number in range(vehicles):
        part = points[number * size : (number + 1) * size + 1]
        if len(part) < 2:
            continue
        times = [0.0]
        for a, b in itertools.pairwise(part):
            times.append(times[-1] + _metres(a, b) / (kmh / 3.6))
        shift = ending - times[-1]
        traces.append(
            {
                "vehicle": f"car-{number}",
                "points": [
                    {"lat": lat, "lon": lon, "time": stamp(t + shift)}
                    for (lat, lon), t in zip(part, times, strict=True)
                ],
            }
        )
    return traces


def stamp(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat()
