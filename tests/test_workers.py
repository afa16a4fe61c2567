"""Several hub processes on one PostgreSQL database: ``incar serve --workers N`` behind one
address, and separate ``incar serve`` processes on their own ports (as several machines would
be, on loopback). Real processes, real PostgreSQL, real HTTP; run on PostgreSQL whatever the
suite's database, since the embedded SQLite hub is one process (and refuses ``--workers``)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import orjson
from starlette.responses import Response

from incar.settings import Settings
from incar_cli.workers import refusal
from tests.peers.strict.peer import Received, StrictPeer, ocpi, running_peer
from tests.support.graphql_ws import until
from tests.support.hub_process import (
    INCAR,
    HubProcess,
    free_port,
    hub_process,
    incar_env,
    onboard,
    register_at,
    run_incar,
)
from tests.support.serve import platform
from tests.test_graph_across_processes import pg_url  # noqa: F401 (a fixture)
from tests.test_platform import alive, children, closed

CPO = ("FI", "CPW")
EMSP = ("FI", "EMW")


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


async def _versions(url: str, token: str) -> int:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        answer = await client.get(f"{url}/ocpi/versions", headers=_auth(token))
    return answer.status_code


@contextlib.asynccontextmanager
async def two_hubs(pg: str, tmp_path: Path, **extra: str) -> AsyncIterator[list[HubProcess]]:
    """Two ``incar serve --hub-only`` processes on their own ports, one database."""
    ports = [free_port(), free_port()]
    async with contextlib.AsyncExitStack() as stack:
        hubs = [
            await stack.enter_async_context(
                hub_process(
                    incar_env(pg, tmp_path / f"data{i}", port, INCAR_EVENT_BUS="postgres", **extra),
                    port,
                    tmp_path / f"hub{i}.log",
                )
            )
            for i, port in enumerate(ports)
        ]
        yield hubs


@contextlib.asynccontextmanager
async def registered(pg: str, hub: HubProcess) -> AsyncIterator[tuple[StrictPeer, StrictPeer]]:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_at(cpo, hub.url, await onboard(pg, "CPO", CPO))
        await register_at(emsp, hub.url, await onboard(pg, "EMSP", EMSP))
        yield cpo, emsp


def test_workers_need_postgresql() -> None:
    assert refusal(Settings(database_url="sqlite+aiosqlite:///x.db"), 2) is not None
    assert refusal(Settings(database_url="sqlite+aiosqlite:///x.db"), 1) is None
    assert refusal(Settings(database_url="postgresql+asyncpg://h/db"), 4) is None
    assert refusal(Settings(database_url="postgresql+asyncpg://h/db"), 0) is not None


async def test_serve_workers_on_sqlite_is_a_one_line_error(tmp_path: Path) -> None:
    env = incar_env(f"sqlite+aiosqlite:///{tmp_path}/hub.db", tmp_path, free_port())
    done = await run_incar("serve", "--workers", "2", env=env)
    assert done.returncode == 2
    assert len(done.stderr_lines) == 1
    assert "needs PostgreSQL" in done.stderr_lines[0]
    assert not (tmp_path / "hub.db").exists()  # refused before anything was done


async def test_workers_share_one_address_and_a_dead_worker_stops_them_all(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    port = free_port()
    env = incar_env(pg_url, tmp_path, port)  # the memory bus asked for: workers force postgres
    log = (tmp_path / "serve.log").open("w")
    process = await asyncio.create_subprocess_exec(
        INCAR, "serve", "--hub-only", "--workers", "2", env=env, stdout=log, stderr=log
    )
    try:
        token_a = await onboard(pg_url, "CPO", CPO)
        for _ in range(600):
            if len(children(process.pid)) == 2 and await _up(port):
                break
            await asyncio.sleep(0.1)
        workers = children(process.pid)
        assert len(workers) == 2
        # Many connections, each answered by one of the workers accepting on the socket.
        statuses = await asyncio.gather(
            *(_versions(f"http://127.0.0.1:{port}", token_a) for _ in range(40))
        )
        assert set(statuses) == {200}
        os.kill(workers[0], signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), 40) == 1
        assert alive(workers) == []
        assert "stopped by itself" in (tmp_path / "serve.log").read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        log.close()


async def test_workers_with_the_subgraphs_and_the_gateway_once_beside_them(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with platform(tmp_path, "--workers", "2", database_url=pg_url) as p:
        workers = [pid for pid in children(p.process.pid) if _is_worker(pid)]
        assert len(workers) == 2, p.output()
        async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
            answer = await client.post(
                p.gateway,
                json={
                    "query": "{ stations(near: {latitude: 60.17, longitude: 24.94}) "
                    "{ totalCount } }"
                },
            )
            assert answer.json() == {"data": {"stations": {"totalCount": 0}}}, answer.text
            assert (await client.get(f"{p.hub}/ocpi/versions")).status_code == 401
        p.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(p.process.wait(), 60) == 0, p.output()[-3000:]
        assert alive(workers) == []
        for url in (p.gateway, p.subgraphs, p.hub):
            assert await closed(url), url


def _is_worker(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return b"incar_cli.worker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


async def _up(port: int) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            await client.get(f"http://127.0.0.1:{port}/ocpi/versions")
    except httpx.TransportError:
        return False
    return True


async def test_a_rotated_token_is_refused_by_every_process_at_once(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with (
        two_hubs(pg_url, tmp_path) as (one, other),
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
    ):
        await register_at(cpo, one.url, await onboard(pg_url, "CPO", CPO))
        old = cpo.token_c
        assert old is not None
        for hub in (one, other):  # both cache the token now
            assert await _versions(hub.url, old) == 200
        rotated = await cpo.call(
            "PUT",
            f"{one.url}/ocpi/2.2.1/credentials",
            json={"token": cpo.token_b, "url": cpo.versions_url, "roles": cpo.roles()},
            routing=False,
        )
        assert rotated.json()["status_code"] == 1000, rotated.text
        new = rotated.json()["data"]["token"]
        # Right after the answer, well inside the cache's 2 s fallback bound.
        assert await _versions(other.url, old) == 401
        assert await _versions(one.url, old) == 401
        assert await _versions(other.url, new) == 200


async def test_a_burst_across_processes_reaches_the_receiver_once_each_in_order(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from tests.conformance.support import location

    # A slow receiver keeps each copy in flight while the other process has the next one, and
    # a short poll hands every process the copies the other holds.
    async with (
        two_hubs(pg_url, tmp_path, INCAR_OWED_POLL="0.2") as hubs,
        registered(pg_url, hubs[0]) as (cpo, emsp),
    ):

        async def slowly(_: Received) -> Response:
            await asyncio.sleep(0.1)
            return ocpi()

        emsp.on("PATCH", "/locations/receiver", slowly)
        url = "/ocpi/2.2.1/locations/receiver/FI/CPW/X1"
        put = await cpo.call("PUT", hubs[0].url + url, to=emsp.hub_party, json=location(*CPO, "X1"))
        assert put.json()["status_code"] == 1000, put.text
        stamps = [f"2026-06-01T00:{i // 60:02d}:{i % 60:02d}Z" for i in range(40)]
        status = ["CHARGING", "AVAILABLE"]
        for i, stamp in enumerate(stamps):  # one after the other, alternately at each process
            patch = await cpo.call(
                "PATCH",
                f"{hubs[i % 2].url}{url}/X1-E1",
                to=emsp.hub_party,
                json={"status": status[i % 2], "last_updated": stamp},
            )
            assert patch.json()["status_code"] == 1000, patch.text

        def got() -> list[str]:
            return [
                orjson.loads(r.body)["last_updated"]
                for r in emsp.requests("PATCH", "/locations/receiver/FI/CPW/X1/X1-E1")
            ]

        await until(lambda: len(got()) >= len(stamps), f"{len(stamps)} copies", seconds=60)
        await asyncio.sleep(2.0)  # a copy sent twice would arrive by now
        assert got() == stamps
        # The one location PUT too, once.
        assert len(emsp.requests("PUT", "/locations/receiver/FI/CPW/X1")) == 1


async def answer_at_the_other(
    cpo: StrictPeer,
    emsp: StrictPeer,
    forwarded: list[Received],
    *,
    one_url: str,
    other_url: str,
    result_path: str,
) -> None:
    """The CPO answers the hub's response_url of the one forwarded request at the process
    that did not send it; the result reaches the eMSP's own response_url once."""
    assert len(forwarded) == 1
    hub_url = orjson.loads(forwarded[0].body)["response_url"]
    assert hub_url.startswith(one_url)
    answer = await cpo.call(
        "POST", other_url + hub_url[len(one_url) :], to=EMSP, json={"result": "ACCEPTED"}
    )
    assert answer.json()["status_code"] == 1000, answer.text
    arrived = emsp.requests("POST", result_path)
    assert [orjson.loads(r.body) for r in arrived] == [{"result": "ACCEPTED"}]


async def test_a_command_result_sent_to_the_other_process_reaches_the_emsp(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from tests.conformance.support import token

    async with two_hubs(pg_url, tmp_path) as (one, other), registered(pg_url, one) as (cpo, emsp):
        results = f"{emsp.url}/commands/sender/results/7"
        sent = await emsp.call(
            "POST",
            f"{one.url}/ocpi/2.2.1/commands/receiver/START_SESSION",
            to=CPO,
            json={
                "response_url": results,
                "token": token(*EMSP, "012345678"),
                "location_id": "X1",
            },
        )
        assert sent.json()["status_code"] == 1000, sent.text
        forwarded = cpo.requests("POST", "/commands/receiver/START_SESSION")
        await answer_at_the_other(
            cpo,
            emsp,
            forwarded,
            one_url=one.url,
            other_url=other.url,
            result_path="/commands/sender/results/7",
        )


async def test_a_charging_profile_result_sent_to_the_other_process_reaches_the_emsp(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    async with two_hubs(pg_url, tmp_path) as (one, other), registered(pg_url, one) as (cpo, emsp):
        results = f"{emsp.url}/chargingprofiles/results/9"
        sent = await emsp.call(
            "PUT",
            f"{one.url}/ocpi/2.2.1/chargingprofiles/receiver/S1",
            to=CPO,
            json={
                "charging_profile": {"charging_rate_unit": "W", "min_charging_rate": 1000.0},
                "response_url": results,
            },
        )
        assert sent.json()["status_code"] == 1000, sent.text
        forwarded = cpo.requests("PUT", "/chargingprofiles/receiver/S1")
        await answer_at_the_other(
            cpo,
            emsp,
            forwarded,
            one_url=one.url,
            other_url=other.url,
            result_path="/chargingprofiles/results/9",
        )


async def test_one_process_checks_still_alive_and_another_takes_over_when_it_dies(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    period = 0.5
    extra = {"INCAR_STILL_ALIVE_CHECK_PERIOD": str(period), "INCAR_STILL_ALIVE_INTERVAL": "0"}
    ports = [free_port(), free_port()]
    envs = [
        incar_env(pg_url, tmp_path / f"d{i}", p, INCAR_EVENT_BUS="postgres", **extra)
        for i, p in enumerate(ports)
    ]
    async with (
        hub_process(envs[0], ports[0], tmp_path / "first.log") as first,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
    ):
        await register_at(cpo, first.url, await onboard(pg_url, "CPO", CPO))

        def pings() -> int:
            return len(cpo.requests("GET", "/versions"))

        async with hub_process(envs[1], ports[1], tmp_path / "second.log"):
            await asyncio.sleep(1.0)  # both run now
            before = pings()
            await asyncio.sleep(4.0)
            rounds = pings() - before
            # One checker: a ping a round (8 in 4 s); two would ping about twice as often.
            assert 4 <= rounds <= 10, rounds
            first.signal(signal.SIGKILL)
            await first.wait_exit()
            await asyncio.sleep(1.0)  # the lock is free; the next round of the other takes it
            before = pings()
            await asyncio.sleep(3.0)
            assert pings() - before >= 3


async def test_a_copy_a_living_process_sends_is_left_to_it_and_recovered_when_it_dies(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from tests.conformance.support import location

    async def rows() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
        try:
            return list(
                await connection.fetch("SELECT state, claimed_by FROM hub_owed_copy ORDER BY id")
            )
        finally:
            await connection.close()

    async def marks() -> int:
        connection = await asyncpg.connect(pg_url.replace("+asyncpg", ""))
        try:
            return int(await connection.fetchval("SELECT count(*) FROM hub_resync_mark"))
        finally:
            await connection.close()

    async with (
        two_hubs(pg_url, tmp_path, INCAR_OWED_POLL="0.2") as (one, _),
        registered(pg_url, one) as (cpo, emsp),
    ):
        arrived, release = asyncio.Event(), asyncio.Event()

        async def hang(_: Received) -> Response:
            arrived.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), 60)
            return ocpi()

        emsp.on("PUT", "/locations/receiver", hang)
        url = f"{one.url}/ocpi/2.2.1/locations/receiver/FI/CPW/X1"
        put = await cpo.call("PUT", url, to=emsp.hub_party, json=location(*CPO, "X1"))
        assert put.json()["status_code"] == 1000, put.text
        await asyncio.wait_for(arrived.wait(), 20)
        await asyncio.sleep(1.5)  # several polls of the other process
        held = await rows()
        assert [r["state"] for r in held] == ["sending"]
        assert held[0]["claimed_by"] is not None
        assert await marks() == 0
        one.signal(signal.SIGKILL)
        await one.wait_exit()
        for _ in range(100):  # the other's poll finds the copy's member gone
            if not await rows():
                break
            await asyncio.sleep(0.1)
        assert await rows() == []
        assert await marks() == 1  # its outcome unknown: the receiver is cued to resync
        assert len(emsp.requests("PUT", "/locations/receiver/FI/CPW/X1")) == 1
        release.set()
