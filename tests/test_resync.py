"""A receiver that misses copies is cued, GETs from the failure's time, and is in sync again
(issue 9; docs/policies.md, "Owed copies and resynchronisation").

A strict CPO broadcasts a burst of Location changes through the hub to an eMSP that keeps its
own copy (tests/support/mirror.py). Mid-burst the eMSP is down for 10 s (its server stopped,
then started again at the same address), or answers garbage (HTTP 200, not JSON), or stalls
past the hub's forward timeout. No copy is retried; the eMSP is cued (the CPO's ClientInfo
OFFLINE since the failure, then CONNECTED) once it answers again, GETs the hub's Locations
with that ``date_from`` as a real eMSP would, and its copy then equals the hub's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from sqlalchemy import func, select

from incar.timestamps import parse_timestamp
from ocpi_adapter.owed.models import OwedCopy, ResyncMark
from tests.conformance.support import register_all, serving_again
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.location_burst import Burst, Change
from tests.support.mirror import Mirror, hub_locations

CPO = ("NL", "CPS")
EMSP = ("DE", "EMS")
SETTLE_TIMEOUT = 60.0


@contextlib.asynccontextmanager
async def hub_with_fast_checks() -> AsyncIterator[HubUnderTest]:
    async with running_hub(
        forward_timeout=0.5,
        still_alive_interval=300.0,
        still_alive_check_period=0.5,
        owed_poll=0.5,
    ) as hub:
        yield hub


async def until_nothing_owed(hub: HubUnderTest) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT
    while loop.time() < deadline:
        await hub.settle()
        async with hub.hub.db.transaction() as tx:
            rows = (await tx.execute(select(func.count()).select_from(OwedCopy))).scalar_one()
            marks = (await tx.execute(select(func.count()).select_from(ResyncMark))).scalar_one()
        if not rows and not marks:
            return
        await asyncio.sleep(0.25)
    raise AssertionError(f"still owed after {SETTLE_TIMEOUT} s: {rows} copies, {marks} marks")


def burst(hub: HubUnderTest, cpo: StrictPeer) -> Burst:
    return Burst(cpo, hub.endpoint("locations", "receiver"), locations=6, patches=24, rate=10.0)


async def check_in_sync(
    hub: HubUnderTest, emsp: StrictPeer, mirror: Mirror, changes: list[Change]
) -> None:
    await until_nothing_owed(hub)
    await mirror.settled()
    acknowledged = [c for c in changes if c.acknowledged]
    assert len(acknowledged) == len(changes), "the hub refused or dropped a change"
    missed = [c for c in acknowledged if not mirror.took(c.method, c.copy_path, c.body)]
    assert missed, "the eMSP missed nothing: the disruption did not happen"
    assert mirror.cues, "the eMSP was never cued"
    # Each missed change is covered by a cue dated no later than it.
    for change in missed:
        assert any(
            party == CPO and parse_timestamp(since) <= change.last_updated
            for party, since in mirror.cues
        ), f"{change.method} {change.path} missed without a cue that covers it"
    # No copy was sent twice (no retries: check 58).
    copies = [(r.method, r.path, r.body) for r in emsp.received if "/locations/" in r.path]
    assert len(copies) == len(set(copies)), "a copy was sent again"
    assert mirror.locations == await hub_locations(emsp, hub.endpoint("locations", "sender"))


async def test_an_emsp_down_for_10_s_mid_burst_is_cued_and_resyncs() -> None:
    async with (
        hub_with_fast_checks() as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
    ):
        async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
            await register_all(hub, cpo, emsp)
            mirror = Mirror(emsp, hub.endpoint("locations", "sender")).attach()
            traffic = burst(hub, cpo)
            running = asyncio.create_task(traffic.run())
            await asyncio.sleep(3.0)
        await asyncio.sleep(10.0)  # its server is down
        async with serving_again(emsp):
            changes = await running
            await check_in_sync(hub, emsp, mirror, changes)


async def _failing_for_a_while(mode: str, set_up: Callable[[Mirror], None]) -> None:
    async with (
        hub_with_fast_checks() as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        mirror = Mirror(emsp, hub.endpoint("locations", "sender")).attach()
        set_up(mirror)
        traffic = burst(hub, cpo)
        running = asyncio.create_task(traffic.run())
        await asyncio.sleep(2.0)
        mirror.failing = mode
        await asyncio.sleep(4.0)
        mirror.failing = None
        changes = await running
        await check_in_sync(hub, emsp, mirror, changes)


async def test_an_emsp_answering_garbage_is_cued_and_resyncs() -> None:
    await _failing_for_a_while("garbage", lambda mirror: None)


async def test_an_emsp_timing_out_is_cued_and_resyncs() -> None:
    def stall_past_the_timeout(mirror: Mirror) -> None:
        mirror.stall = 2.0

    await _failing_for_a_while("stall", stall_past_the_timeout)


async def test_an_offline_emsp_is_probed_between_rounds_and_cued_soon_after_it_returns() -> None:
    # The round is 30 s away: only the probe of OFFLINE platforms can notice the return.
    async with (
        running_hub(
            forward_timeout=0.5, still_alive_check_period=30.0, offline_probe_period=0.5
        ) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
    ):
        async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
            await register_all(hub, cpo, emsp)
            mirror = Mirror(emsp, hub.endpoint("locations", "sender")).attach()
            traffic = Burst(
                cpo, hub.endpoint("locations", "receiver"), locations=3, patches=30, rate=10.0
            )
            running = asyncio.create_task(traffic.run())
            await asyncio.sleep(2.0)
        await asyncio.sleep(3.0)  # down
        async with serving_again(emsp):
            deadline = asyncio.get_running_loop().time() + 10.0  # well before the 30 s round
            while not mirror.cues:
                assert asyncio.get_running_loop().time() < deadline, "not cued before the round"
                await asyncio.sleep(0.05)
            changes = await running
            await check_in_sync(hub, emsp, mirror, changes)
