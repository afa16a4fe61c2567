"""No list costs one query per row: a 50-station search through the gateway, with each EVSE's
booking, session, connectors and tariffs, and the SQL statements each subgraph sent, counted
on its own database engine (each subgraph its own process in the distributed deployment)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from gateway.process import GatewayProcess
from incar.runtime import Runtime
from incar.settings import Settings
from incar_cli import platform
from subgraphs.catalog import subgraphs
from subgraphs.common.auth import Authenticator
from subgraphs.locations import service as locations
from subgraphs.server import create_app
from tests.conformance.support import location, tariff
from tests.gateway.clients import post
from tests.support.databases import fresh_database
from tests.support.hub_process import free_port
from tests.support.servers import serve

STATIONS = 60
EVSES = 3
ORIGIN = (60.17, 24.94)


@dataclass
class Graph:
    gateway: GatewayProcess
    statements: dict[str, list[str]]


def _station(n: int) -> dict[str, Any]:
    body = location("FI", "CPA", f"S{n:03d}")
    lat = ORIGIN[0] + math.degrees(10.0 * n / 6_371_008.8)
    body["coordinates"] = {"latitude": f"{lat:.6f}", "longitude": f"{ORIGIN[1]:.6f}"}
    template = body["evses"][0]
    body["evses"] = [
        {
            **template,
            "uid": f"S{n:03d}-E{e}",
            "capabilities": ["RESERVABLE"],
            "connectors": [{**template["connectors"][0], "tariff_ids": ["T1", "T2"]}],
        }
        for e in range(EVSES)
    ]
    return body


def _app_of(app: Any) -> Any:
    return lambda _url: app


@contextlib.asynccontextmanager
async def graph(folder: Path) -> AsyncIterator[Graph]:
    async with fresh_database() as url, contextlib.AsyncExitStack() as stack:
        statements: dict[str, list[str]] = {}
        at = []
        for subgraph in subgraphs().values():
            runtime = Runtime.create(Settings(database_url=url))
            await runtime.start()
            stack.push_async_callback(runtime.close)
            seen = statements[subgraph.name] = []

            def count(*args: Any, seen: list[str] = seen) -> None:
                seen.append(str(args[2]))

            event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", count)
            if subgraph.name == "locations":
                async with runtime.db.transaction(write=True) as tx:
                    for n in range(STATIONS):
                        await locations.put_location(tx, data=_station(n))
                    for tid in ("T1", "T2"):
                        await locations.put_tariff(tx, data=tariff("FI", "CPA", tid))
            # Without the bookings' expiry sweep: its statements are not the query's.
            quiet = dataclasses.replace(subgraph, background=())
            app = create_app(runtime, [quiet], authenticator=Authenticator())
            served = await stack.enter_async_context(serve(_app_of(app)))
            at.append((subgraph, f"{served.url}{subgraph.path}"))
        supergraph = await asyncio.to_thread(platform.supergraph, at, folder)
        gateway = await stack.enter_async_context(GatewayProcess(supergraph, port=free_port()))
        yield Graph(gateway, statements)


@pytest.fixture(scope="module")
async def cost_graph(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Graph]:
    async with graph(tmp_path_factory.mktemp("cost")) as g:
        yield g


QUERY = """
query ($near: NearInput!) { stations(near: $near, first: 50) { edges { node { id
  evses { uid status booked currentBooking { id } inUse activeSession { id }
          connectors { id tariffs { id currency } } }
} } } }
"""


async def test_fifty_stations_with_bookings_and_sessions_cost_a_few_statements_each(
    cost_graph: Graph,
) -> None:
    near = {"latitude": ORIGIN[0], "longitude": ORIGIN[1], "radiusMeters": 5000}
    for seen in cost_graph.statements.values():
        seen.clear()
    answer = await post(cost_graph.gateway.url, QUERY, variables={"near": near})
    assert "errors" not in answer, answer
    edges = answer["data"]["stations"]["edges"]
    assert len(edges) == 50
    assert all(len(e["node"]["evses"]) == EVSES for e in edges)
    assert edges[0]["node"]["evses"][0]["connectors"][0]["tariffs"] == [
        {"id": "T1", "currency": "EUR"},
        {"id": "T2", "currency": "EUR"},
    ]
    counts = {name: len(seen) for name, seen in cost_graph.statements.items()}
    # 150 EVSEs and 300 tariff references: locations reads the search rows, the page's
    # Locations, the tariffs and which EVSEs are booked (for their status) once each;
    # bookings and sessions each answer all 150 EVSEs of the gateway's one entity fetch with
    # one query; routing, accounting and kpis, asked nothing, read nothing.
    assert counts == {
        "locations": 4,
        "sessions": 1,
        "bookings": 1,
        "routing": 0,
        "accounting": 0,
        "kpis": 0,
    }, [(name, s[:60], s.count("?")) for name, seen in cost_graph.statements.items() for s in seen]
