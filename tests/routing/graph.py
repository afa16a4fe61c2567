"""The routing subgraph served for tests: over real HTTP on loopback with the locations
subgraph beside it (as ``incar serve`` runs them), on a fresh database holding a few charging
stations in Vaduz, and on a data directory whose map the test chose."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.catalog import subgraphs
from subgraphs.common.auth import Authenticator
from subgraphs.locations import service
from subgraphs.server import create_app
from tests.gateway.clients import post
from tests.support.databases import fresh_database
from tests.support.servers import serve

STAMP = "2026-11-01T00:00:00Z"
#: (id, latitude, longitude, status): charging stations on Vaduz's and its neighbours' streets.
STATIONS = (
    ("HALL", 47.13955, 9.52250, "AVAILABLE"),  # the town hall
    ("PARK", 47.14060, 9.51220, "CHARGING"),  # the Rheinpark stadium
    ("SCHAAN", 47.16540, 9.50980, "AVAILABLE"),
    ("TRIESEN", 47.10790, 9.52770, "AVAILABLE"),
    ("BALZERS", 47.06640, 9.50280, "AVAILABLE"),  # 8 km south, beyond a 6 km radius
)


def station(lid: str, lat: float, lon: float, status: str) -> dict[str, Any]:
    return {
        "country_code": "LI",
        "party_id": "LKW",
        "id": lid,
        "publish": True,
        "address": "Städtle 1",
        "city": "Vaduz",
        "country": "LIE",
        "coordinates": {"latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}"},
        "time_zone": "Europe/Vaduz",
        "evses": [
            {
                "uid": f"{lid}-1",
                "status": status,
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2_COMBO",
                        "format": "CABLE",
                        "power_type": "DC",
                        "max_voltage": 400,
                        "max_amperage": 125,
                        "max_electric_power": 50_000,
                        "last_updated": STAMP,
                    }
                ],
                "last_updated": STAMP,
            }
        ],
        "last_updated": STAMP,
    }


@dataclass
class Served:
    url: str
    runtime: Runtime

    @property
    def routing(self) -> str:
        return f"{self.url}/graphql/routing"

    @property
    def locations(self) -> str:
        return f"{self.url}/graphql/locations"

    async def query(self, query: str, **variables: Any) -> dict[str, Any]:
        return await post(self.routing, query, variables=variables)


@contextlib.asynccontextmanager
async def served(data_dir: Path, **settings: Any) -> AsyncIterator[Served]:
    """The routing and locations subgraphs in one app, as ``incar serve`` runs them (the
    routing engine started by the app's background work)."""
    async with fresh_database() as url:
        runtime = Runtime.create(Settings(database_url=url, data_dir=data_dir, **settings))
        await runtime.start()
        try:
            async with runtime.db.transaction(write=True) as tx:
                for body in STATIONS:
                    await service.put_location(tx, data=station(*body))
            catalog = subgraphs()
            app = create_app(
                runtime, [catalog["routing"], catalog["locations"]], authenticator=Authenticator()
            )
            async with serve(lambda _url: app) as running:
                yield Served(running.url, runtime)
        finally:
            await runtime.close()


def codes(result: dict[str, Any]) -> list[str]:
    errors = result.get("errors")
    assert isinstance(errors, list), result
    return [error.get("extensions", {}).get("code") for error in errors]


async def until_ready(graph: Served, probe: str) -> dict[str, Any]:
    """Asks ``probe`` until the engine answers it (not ROUTING_NOT_READY), for 3 minutes."""
    for _ in range(1800):
        result = await graph.query(probe)
        if "ROUTING_NOT_READY" not in (codes(result) if result.get("errors") else []):
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"routing never became ready: {result}")
