"""GatewayProcess: Hive Gateway as a child of the platform, started, watched and stopped."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import httpx
import pytest

from gateway.compose import SubgraphSpec, compose
from gateway.process import GatewayError, GatewayProcess
from subgraphs.common.app import federation_sdl
from tests.gateway.conftest import free_port
from tests.gateway.toys import stations_schema


@pytest.fixture(scope="module")
def supergraph(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A supergraph whose one subgraph is not running: the gateway still starts and serves."""
    folder = tmp_path_factory.mktemp("supergraph")
    sdl = folder / "stations.graphql"
    sdl.write_text(federation_sdl(stations_schema()))
    path = folder / "supergraph.graphql"
    spec = SubgraphSpec(
        name="stations", url=f"http://127.0.0.1:{free_port()}/graphql", sdl_path=sdl
    )
    path.write_text(compose([spec]))
    return path


async def test_a_killed_gateway_is_reported_as_crashed(supergraph: Path) -> None:
    async with GatewayProcess(supergraph, port=free_port()) as gateway:
        crash = asyncio.create_task(gateway.crashed())
        await asyncio.sleep(0.2)
        assert not crash.done()
        assert gateway.pid is not None
        os.kill(gateway.pid, signal.SIGKILL)
        assert await asyncio.wait_for(crash, 10) == -signal.SIGKILL


async def test_a_stopped_gateway_is_not_a_crash_and_is_gone(
    supergraph: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="incar.gateway")
    gateway = GatewayProcess(supergraph, port=free_port())
    async with gateway:
        crash = asyncio.create_task(gateway.crashed())
        async with httpx.AsyncClient() as client:
            answer = await client.post(gateway.url, json={"query": "{ __typename }"})
        assert answer.json() == {"data": {"__typename": "Query"}}
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(crash, 10)
    assert gateway.child is not None and gateway.child.returncode is not None
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as client:
            await client.get(f"{gateway.base_url}/healthcheck")
    # Its log reached Python logging, one record a line.
    assert any(r.getMessage().startswith("Listening on http://127.0.0.1:") for r in caplog.records)


async def test_a_gateway_that_cannot_start_raises(tmp_path: Path) -> None:
    broken = tmp_path / "supergraph.graphql"
    broken.write_text("type Query {")
    with pytest.raises(GatewayError):
        async with GatewayProcess(broken, port=free_port(), ready_timeout=30):
            pass
