"""The toy graph behind a real Hive Gateway, started once per test module."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL

from gateway.compose import SubgraphSpec, compose
from gateway.process import GatewayProcess
from subgraphs.common.app import federation_sdl, subgraph_app
from tests.gateway.toys import stations_schema, status_schema
from tests.support.servers import serve


class CountingWebSockets:
    """Counts the WebSocket connections an app accepted: the gateway's to the subgraph."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.opened = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            self.opened += 1
        await self.app(scope, receive, send)


@dataclass
class Graph:
    gateway: GatewayProcess
    stations_url: str
    status_url: str
    stations_app: GraphQL[Any, Any]
    stations_sockets: CountingWebSockets

    @property
    def url(self) -> str:
        return self.gateway.url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def subgraph_config(app: ASGIApp) -> uvicorn.Config:
    # Strawberry's ASGI app speaks no lifespan protocol.
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", loop="none")


@pytest.fixture(scope="module")
async def graph(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Graph]:
    folder = tmp_path_factory.mktemp("graph")
    stations, status = stations_schema(), status_schema()
    stations_app = subgraph_app(stations)
    counting = CountingWebSockets(stations_app)
    async with AsyncExitStack() as stack:
        served_stations = await stack.enter_async_context(
            serve(lambda _url: counting, configure=subgraph_config)
        )
        served_status = await stack.enter_async_context(
            serve(lambda _url: subgraph_app(status), configure=subgraph_config)
        )
        specs = []
        for name, schema, served in (
            ("stations", stations, served_stations),
            ("status", status, served_status),
        ):
            sdl_path = folder / f"{name}.graphql"
            sdl_path.write_text(federation_sdl(schema))
            specs.append(SubgraphSpec(name=name, url=f"{served.url}/graphql", sdl_path=sdl_path))
        supergraph = folder / "supergraph.graphql"
        supergraph.write_text(compose(specs))
        gateway = await stack.enter_async_context(GatewayProcess(supergraph, port=free_port()))
        yield Graph(
            gateway=gateway,
            stations_url=f"{served_stations.url}/graphql",
            status_url=f"{served_status.url}/graphql",
            stations_app=stations_app,
            stations_sockets=counting,
        )
