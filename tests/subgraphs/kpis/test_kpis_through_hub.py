"""KPIs as they are made: a CPO pushes over OCPI to a real hub (a Location, EVSE status
PATCHes, Sessions, CDRs), the kpis subgraph served over HTTP runs its consumer of the event
log, and the CPO reads its numbers from the graph. Stopped and started again, run twice at
once, or killed (``incar subgraph kpis`` in its own process), the consumer counts every event
exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from incar.events import log as event_log
from incar.events.consumer import stored_position
from incar_cli.platform import authenticator
from subgraphs.catalog import subgraphs
from subgraphs.kpis import service
from subgraphs.kpis.consumer import NAME, hour_of
from subgraphs.server import create_app
from tests.conformance.support import charging_session, location
from tests.gateway.clients import post
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.subgraphs.accounting.cdr_world import a_cdr
from tests.support.hub import HubUnderTest, running_hub
from tests.support.hub_process import free_port
from tests.support.servers import serve

CPO, EMSP = ("FI", "CPA"), ("DE", "EMA")

KPIS = """
query ($cc: String!, $pid: String!, $from: DateTime!, $to: DateTime!) {
  kpis(countryCode: $cc, partyId: $pid, from: $from, to: $to) {
    countryCode partyId
    hours { hour numbers { sessionsStarted } }
    totals { sessionsStarted cdrs energyKwh evseStatusChanges { status count } }
  }
}
"""


@dataclass
class World:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer

    async def push(self, method: str, path: str, body: Any, to: tuple[str, str]) -> None:
        url = f"{self.hub.url}/ocpi/2.2.1/{path}"
        answer = await self.cpo.call(method, url, to=to, json=body)
        assert answer.json()["status_code"] == 1000, answer.text

    async def location(self) -> None:
        await self.push("PUT", "locations/receiver/FI/CPA/L1", location(*CPO, "L1"), EMSP)

    async def status(self, status: str, stamp: str) -> None:
        body = {"status": status, "last_updated": stamp}
        await self.push("PATCH", "locations/receiver/FI/CPA/L1/L1-E1", body, EMSP)

    async def session(self, session_id: str, stamp: str) -> None:
        body = charging_session(CPO, session_id, EMSP, last_updated=stamp)
        await self.push("PUT", f"sessions/receiver/FI/CPA/{session_id}", body, EMSP)

    async def cdr(self, cdr_id: str, kwh: float) -> None:
        body = a_cdr(CPO, cdr_id, EMSP, uid="ALICE-1", location_id="L1",
                     start="2026-03-01T08:00:00Z", end="2026-03-01T09:00:00Z",
                     total_energy=kwh)  # fmt: skip
        await self.push("POST", "cdrs/receiver", body, EMSP)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub())
        cpo = await stack.enter_async_context(
            running_peer(role="CPO", country_code="FI", party_id="CPA")
        )
        emsp = await stack.enter_async_context(
            running_peer(role="EMSP", country_code="DE", party_id="EMA")
        )
        for peer in (cpo, emsp):
            await peer.register(hub)
        yield World(hub, cpo, emsp)


@contextlib.asynccontextmanager
async def kpis_served(world: World) -> AsyncIterator[str]:
    """The kpis subgraph alone, its consumer running while the block lasts; its URL."""
    hub = world.hub.hub
    app = create_app(hub.runtime, [subgraphs()["kpis"]], authenticator=authenticator(hub, None))
    async with serve(lambda _url: app) as served:
        yield f"{served.url}/graphql/kpis"


def _range() -> dict[str, str]:
    now = datetime.now(UTC)
    span = timedelta(hours=2)
    return {"from": (now - span).isoformat(), "to": (now + span).isoformat()}


async def ask(url: str, token: str | None, cc: str = CPO[0], pid: str = CPO[1], **span: str) -> Any:
    return await post(
        url, KPIS, variables={"cc": cc, "pid": pid, **(span or _range())}, token=token
    )


def expected(sessions: int, cdrs: int, kwh: float, **statuses: int) -> dict[str, Any]:
    return {
        "sessionsStarted": sessions,
        "cdrs": cdrs,
        "energyKwh": kwh,
        "evseStatusChanges": [{"status": s, "count": n} for s, n in sorted(statuses.items())],
    }


async def totals_become(world: World, url: str, want: dict[str, Any]) -> dict[str, Any]:
    """Waits until the CPO's totals are ``want`` (the consumer runs behind the commits)."""
    token = world.cpo.auth()["Authorization"]
    answer: Any = None
    for _ in range(100):
        answer = await ask(url, token)
        assert "errors" not in answer, answer
        if answer["data"]["kpis"]["totals"] == want:
            return dict(answer["data"]["kpis"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"totals stayed {answer['data']['kpis']['totals']}, not {want}")


async def caught_up(world: World) -> None:
    """The consumer's position is the log's head: every event so far is applied."""
    db = world.hub.hub.runtime.db
    for _ in range(100):
        async with db.transaction() as tx:
            if await stored_position(tx, NAME) == await event_log.head(tx):
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the KPI consumer did not reach the log's head")


async def test_hub_events_reach_the_cpos_kpis_over_http(world: World) -> None:
    began = datetime.now(UTC)
    async with kpis_served(world) as url:
        await world.location()  # L1-E1 AVAILABLE: its first status counts as a change
        await world.status("CHARGING", "2026-03-01T08:00:00Z")
        await world.session("S1", "2026-03-01T08:00:00Z")
        await world.session("S1", "2026-03-01T08:30:00Z")  # an update: no new session
        await world.cdr("C1", 10.5)
        await world.cdr("C2", 7.25)
        found = await totals_become(world, url, expected(1, 2, 17.75, AVAILABLE=1, CHARGING=1))
    assert (found["countryCode"], found["partyId"]) == CPO
    # The hour the hub committed them in (two, should the hour turn during the test).
    hours = {hour_of(began), hour_of(datetime.now(UTC))}
    assert {datetime.fromisoformat(h["hour"]) for h in found["hours"]} <= hours
    assert sum(h["numbers"]["sessionsStarted"] for h in found["hours"]) == 1


async def test_a_restarted_consumer_resumes_and_two_at_once_count_each_event_once(
    world: World,
) -> None:
    async with kpis_served(world) as url:
        await world.location()
        await world.cdr("C1", 10.5)
        await totals_become(world, url, expected(0, 1, 10.5, AVAILABLE=1))
    # Stopped: what is committed now waits in the log.
    await world.status("CHARGING", "2026-03-01T08:00:00Z")
    await world.session("S1", "2026-03-01T08:00:00Z")
    await world.cdr("C2", 7.25)
    async with kpis_served(world) as url:
        await totals_become(world, url, expected(1, 2, 17.75, AVAILABLE=1, CHARGING=1))
        await caught_up(world)
    # Two consumers at once (two processes serving kpis): each batch is applied by one.
    async with kpis_served(world) as url, kpis_served(world):
        for n in range(5):
            await world.status("AVAILABLE" if n % 2 == 0 else "CHARGING", f"2026-03-01T09:0{n}:00Z")
            await world.session(f"S{n + 2}", "2026-03-01T09:00:00Z")
        await caught_up(world)
        await totals_become(world, url, expected(6, 2, 17.75, AVAILABLE=4, CHARGING=3))
    async with world.hub.hub.runtime.db.transaction() as tx:
        rows = (await tx.execute(sa.text("SELECT COUNT(*) FROM kpi_hour"))).scalar_one()
    assert rows >= 5  # sessions, cdrs, energy and two statuses, per hour seen


async def test_only_the_cpo_sees_its_kpis_and_bad_ranges_are_refused(world: World) -> None:
    async with kpis_served(world) as url:
        cpo, emsp = world.cpo.auth()["Authorization"], world.emsp.auth()["Authorization"]

        async def code(token: str | None, **args: Any) -> str:
            answer = await ask(url, token, **args)
            assert answer.get("data") is None, answer
            return str(answer["errors"][0]["extensions"]["code"])

        assert await code(None) == "UNAUTHENTICATED"
        assert await code(emsp) == "FORBIDDEN"  # another party
        mine = await ask(url, emsp, cc="DE", pid="EMA")  # its own party: allowed, nothing
        assert mine["data"]["kpis"]["totals"] == expected(0, 0, 0.0), mine
        now = datetime.now(UTC)
        backwards = {"from": now.isoformat(), "to": (now - timedelta(hours=1)).isoformat()}
        assert await code(cpo, **backwards) == "BAD_USER_INPUT"
        too_long = {"from": now.isoformat(), "to": (now + timedelta(days=32)).isoformat()}
        assert await code(cpo, **too_long) == "BAD_USER_INPUT"
        own = await ask(url, cpo, cc="fi", pid="cpa")  # CiStrings: any case
        assert own["data"]["kpis"]["totals"] == expected(0, 0, 0.0)


async def cpo_totals(world: World) -> dict[str, Any]:
    now = datetime.now(UTC)
    async with world.hub.hub.runtime.db.transaction() as tx:
        found = await service.report(tx, CPO, now - timedelta(hours=2), now + timedelta(hours=2))
    t = found.totals
    return expected(t.sessions_started, t.cdrs, t.energy_kwh, **t.statuses)


async def totals_reach(world: World, want: dict[str, Any]) -> None:
    for _ in range(150):
        if await cpo_totals(world) == want:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"totals stayed {await cpo_totals(world)}, not {want}")


@contextlib.asynccontextmanager
async def kpis_process(world: World) -> AsyncIterator[asyncio.subprocess.Process]:
    """``incar subgraph kpis`` in a process of its own, on the hub's database."""
    env = {**os.environ, "INCAR_DATABASE_URL": world.hub.settings.database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "incar_cli.main", "subgraph", "kpis", "--port", str(free_port()),
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def test_a_killed_consumer_process_resumes_with_nothing_counted_twice(world: World) -> None:
    async with kpis_process(world) as first:
        await world.location()
        await world.cdr("C1", 10.5)
        await totals_reach(world, expected(0, 1, 10.5, AVAILABLE=1))
        first.send_signal(signal.SIGKILL)  # no shutdown: whatever it was doing is cut off
        await first.wait()
    await world.status("CHARGING", "2026-03-01T08:00:00Z")
    await world.session("S1", "2026-03-01T08:00:00Z")
    await world.cdr("C2", 7.25)
    async with kpis_process(world):
        await totals_reach(world, expected(1, 2, 17.75, AVAILABLE=1, CHARGING=1))
        await caught_up(world)
        assert await cpo_totals(world) == expected(1, 2, 17.75, AVAILABLE=1, CHARGING=1)
