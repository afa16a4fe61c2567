"""A hub killed mid-burst delays the copies it owes, never drops them (issue 9).

The hub runs as ``incar serve``; a strict CPO broadcasts a burst of Location changes, and an
eMSP that takes 8 s to answer each copy keeps its own copy of them (tests/support/mirror.py).
The hub is killed with SIGKILL mid-burst. The test reads what it owed at that moment (the
rows of ``hub_owed_copy``), starts it again on the same database and waits until it owes
nothing and has no receiver out of sync. Then:

- every copy that was owed and never attempted when the hub died was sent after the restart;
- every copy being attempted when it died (its outcome unknown) was not sent again, and the
  eMSP was cued instead (ClientInfo of the CPO OFFLINE since no later than that change, then
  CONNECTED), on which it GETs the hub's Locations from that moment;
- so every acknowledged change reached the eMSP or the eMSP was cued for it, and the eMSP's
  copy of the Locations equals the hub's.
"""

from __future__ import annotations

import asyncio
import signal
import tempfile
from pathlib import Path
from typing import Any

import orjson
from sqlmodel import col, select

from incar.db import Database
from incar.timestamps import parse_timestamp
from ocpi_adapter.owed.models import Kind, OwedCopy, ResyncMark, State
from tests.peers.strict.peer import running_peer
from tests.support.databases import fresh_database
from tests.support.hub_process import free_port, hub_process, incar_env, onboard, register_at
from tests.support.location_burst import Burst
from tests.support.mirror import Mirror, hub_locations

CPO = ("NL", "CPK")
EMSP = ("DE", "EMK")
KILL_AFTER = 30  # acknowledged changes before the SIGKILL
SETTLE_TIMEOUT = 180.0


async def owed_rows(database_url: str) -> tuple[list[OwedCopy], list[ResyncMark]]:
    db = Database(database_url)
    try:
        async with db.transaction() as tx:
            rows = list((await tx.execute(select(OwedCopy).order_by(col(OwedCopy.id)))).scalars())
            marks = list((await tx.execute(select(ResyncMark))).scalars())
    finally:
        await db.dispose()
    return rows, marks


async def until_nothing_owed(database_url: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE_TIMEOUT
    while loop.time() < deadline:
        rows, marks = await owed_rows(database_url)
        if not rows and not marks:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"still owed after {SETTLE_TIMEOUT} s: {len(rows)} rows, marks {marks}")


def body_of(row: OwedCopy) -> Any:
    assert row.body is not None
    return orjson.loads(row.body)


async def test_a_hub_killed_mid_burst_sends_what_it_owed_and_cues_what_was_in_flight() -> None:
    async with fresh_database() as database_url:
        with tempfile.TemporaryDirectory(prefix="incar-owed-") as folder:
            port = free_port()
            env = incar_env(
                database_url,
                Path(folder) / "data",
                port,
                INCAR_FORWARD_TIMEOUT="30",
                INCAR_STILL_ALIVE_CHECK_PERIOD="1",
                INCAR_OWED_POLL="1",
            )
            async with (
                hub_process(env, port, Path(folder) / "hub.log") as hub,
                running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
                running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
            ):
                for peer, role, party in ((cpo, "CPO", CPO), (emsp, "EMSP", EMSP)):
                    await register_at(peer, hub.url, await onboard(database_url, role, party))
                mirror = Mirror(emsp, hub.endpoint("locations", "sender"), delay=8.0).attach()

                killed = False

                def on_ack(acknowledged: int) -> None:
                    nonlocal killed
                    if not killed and acknowledged >= KILL_AFTER:
                        killed = True
                        hub.signal(signal.SIGKILL)

                burst = Burst(
                    cpo,
                    hub.endpoint("locations", "receiver"),
                    locations=8,
                    patches=6,
                    rate=10.0,
                    on_ack=on_ack,
                )
                changes = await burst.run()
                assert killed, "the burst ended before the hub was killed"
                assert await hub.wait_exit() == -signal.SIGKILL

                at_kill, _ = await owed_rows(database_url)
                copies = [r for r in at_kill if r.kind is Kind.COPY]
                never_tried = [r for r in copies if r.state is State.OWED]
                in_flight = [r for r in copies if r.state is State.SENDING]
                assert never_tried, "nothing was waiting to be sent when the hub died"
                assert in_flight, "nothing was being sent when the hub died"
                assert all(r.receiver_platform_id for r in copies)

                seen_before = len(emsp.received)
                await hub.start()
                await until_nothing_owed(database_url)
                await mirror.settled()
                after = emsp.received[seen_before:]

                # What was owed and never tried went out after the restart, exactly as owed.
                for row in never_tried:
                    path = row.url.removeprefix(emsp.url)
                    sent = [
                        r
                        for r in after
                        if (r.method, r.path) == (row.method, path) and r.json() == body_of(row)
                    ]
                    assert len(sent) == 1, f"owed copy {row.id} ({row.method} {path}) not sent once"
                # What was in flight was not sent again: the eMSP was cued for it instead.
                for row in in_flight:
                    path = row.url.removeprefix(emsp.url)
                    again = [r for r in after if (r.method, r.path) == (row.method, path)]
                    assert all(r.json() != body_of(row) for r in again), "in-flight copy resent"
                    assert row.object_last_updated is not None
                    assert any(
                        party == CPO and parse_timestamp(since) <= row.object_last_updated
                        for party, since in mirror.cues
                    ), f"no cue covers in-flight copy {row.id}"

                acknowledged = [c for c in changes if c.acknowledged]
                for change in acknowledged:
                    delivered = any(
                        (r.method, r.path) == (change.method, change.copy_path)
                        and r.json() == change.body
                        for r in emsp.received
                    )
                    cued = any(parse_timestamp(s) <= change.last_updated for _, s in mirror.cues)
                    assert delivered or cued, f"{change.method} {change.path} lost"
                assert mirror.locations == await hub_locations(
                    emsp, hub.endpoint("locations", "sender")
                )
