"""``incar serve`` runs the platform as an operator starts it: the hub, the subgraphs (one
process) and the Hive Gateway (a child), started and stopped together; GraphiQL and GraphQL
at the gateway's /graphql; a crashed gateway is reported and the platform stops, never
half-runs. ``incar subgraph NAME`` serves one subgraph alone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import httpx
import pytest
import websockets

from tests.support.databases import fresh_database
from tests.support.hub_process import INCAR, free_port, incar_env
from tests.support.serve import platform, until_up


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


async def closed(url: str) -> bool:
    async with httpx.AsyncClient(timeout=2) as client:
        try:
            await client.get(url)
        except httpx.ConnectError:
            return True
    return False


async def test_serve_runs_hub_subgraphs_and_gateway_and_stops_them_together(
    tmp_path: Path,
) -> None:
    async with platform(tmp_path) as p:
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                p.gateway,
                json={
                    "query": "{ stations(near: {latitude: 60.17, longitude: 24.94}) "
                    "{ totalCount } }"
                },
            )
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"data": {"stations": {"totalCount": 0}}}
            # GraphiQL for a browser at the same address.
            page = await client.get(p.gateway, headers={"accept": "text/html"})
            assert page.status_code == 200
            assert "<html" in page.text.lower()
            # The hub is there too, and each subgraph on its own path.
            assert (await client.get(f"{p.hub}/ocpi/versions")).status_code == 401
            direct = await client.post(
                f"{p.subgraphs}/graphql/bookings", json={"query": "{ _service { sdl } }"}
            )
            assert "type Booking" in direct.json()["data"]["_service"]["sdl"]
        # Their WebSockets refuse compression, which a client (the gateway's) offers.
        async with websockets.connect(
            f"{p.subgraphs.replace('http://', 'ws://')}/graphql/locations",
            subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        ) as socket:
            assert socket.request is not None and socket.response is not None
            assert "permessage-deflate" in socket.request.headers["Sec-WebSocket-Extensions"]
            assert "Sec-WebSocket-Extensions" not in socket.response.headers
        p.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(p.process.wait(), 60) == 0, p.output()[-3000:]
        for url in (p.gateway, p.subgraphs, p.hub):
            assert await closed(url), url


async def test_a_crashed_gateway_stops_the_platform(tmp_path: Path) -> None:
    async with platform(tmp_path) as p:
        gateways = [pid for pid in children(p.process.pid) if pid != p.process.pid]
        assert gateways, "the gateway runs as a child of incar serve"
        for pid in gateways:
            os.kill(pid, signal.SIGKILL)
        assert await asyncio.wait_for(p.process.wait(), 60) == 1
        assert "the gateway stopped by itself" in p.output()
        for url in (p.subgraphs, p.hub):
            assert await closed(url), url


async def test_a_killed_platform_takes_its_gateway_with_it(tmp_path: Path) -> None:
    """SIGKILL reaches no handler of incar serve's: the kernel ends the gateway (its parent
    death signal), so no orphan holds the port and answers for subgraphs that are gone."""
    async with platform(tmp_path) as p:
        gateways = [pid for pid in children(p.process.pid) if pid != p.process.pid]
        assert gateways
        p.process.kill()
        await p.process.wait()
        for _ in range(100):
            if not alive(gateways):
                break
            await asyncio.sleep(0.1)
        assert not alive(gateways), gateways
        assert await closed(p.gateway)


@pytest.mark.parametrize("name", ["nope"])
async def test_an_unknown_subgraph_is_a_one_line_error(tmp_path: Path, name: str) -> None:
    async with fresh_database() as url:
        env = incar_env(url, tmp_path, free_port())
        process = await asyncio.create_subprocess_exec(
            INCAR,
            "subgraph",
            name,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert len(err.decode().strip().splitlines()) == 1


async def test_one_subgraph_alone(tmp_path: Path) -> None:
    async with fresh_database() as url:
        port = free_port()
        env = incar_env(url, tmp_path, free_port())
        log = tmp_path / "subgraph.log"
        with log.open("w") as out:
            process = await asyncio.create_subprocess_exec(
                INCAR, "subgraph", "locations", "--port", str(port), env=env, stdout=out, stderr=out
            )
        try:
            await until_up(f"http://127.0.0.1:{port}/healthcheck", process, log)
            async with httpx.AsyncClient(timeout=10) as client:
                answer = await client.post(
                    f"http://127.0.0.1:{port}/graphql/locations",
                    json={"query": '{ location(countryCode: "FI", partyId: "X", id: "1") { id } }'},
                )
            assert answer.json() == {"data": {"location": None}}
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 60) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
