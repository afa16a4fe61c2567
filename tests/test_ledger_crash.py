"""The CDR ledger survives a hub killed mid-stream.

A real ``incar serve`` process; a strict CPO posts a stream of CDRs from several workers at
once and the hub gets SIGKILL while posts are in flight. Restarted on the same database:

- no half-written entry: every entry has its signed head, its CDR document and the leaf of
  its index, and ``incar ledger verify`` passes;
- every CDR that was acknowledged (1000) has exactly one entry; an unanswered one has one or
  none;
- the CPO posting every CDR again (as it would those it got no answer for) is answered 1000,
  changes no entry that was there and appends each missing CDR once; verify passes again.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from incar.db import Database
from tests.conformance.support import cdr
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.databases import fresh_database
from tests.support.hub_process import (
    HubProcess,
    free_port,
    hub_process,
    incar_env,
    onboard,
    register_at,
    run_incar,
)

CPO = ("NL", "CPK")
EMSP = ("DE", "EMK")
WORKERS = 6
PER_WORKER = 300  # more than the workers get through before the kill
ACKS_BEFORE_KILL = 80


@pytest.fixture
async def hub_and_cpo(tmp_path: Path) -> AsyncIterator[tuple[HubProcess, StrictPeer]]:
    async with fresh_database() as database_url:
        port = free_port()
        env = incar_env(database_url, tmp_path / "data", port)
        async with (
            hub_process(env, port, tmp_path / "hub.log") as hub,
            running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
            running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        ):
            for peer, role, party in ((cpo, "CPO", CPO), (emsp, "EMSP", EMSP)):
                await register_at(peer, hub.url, await onboard(database_url, role, party))
            yield hub, cpo


def body_of(number: int) -> bytes:
    return json.dumps(cdr(CPO, f"K{number}", EMSP)).encode()


async def post(hub: HubProcess, cpo: StrictPeer, number: int) -> int | None:
    """The OCPI status of the post; None when the hub went away before it answered."""
    try:
        answer = await cpo.call(
            "POST", hub.endpoint("cdrs", "receiver"), to=EMSP, content=body_of(number)
        )
    except httpx.TransportError:
        return None
    status: int = answer.json()["status_code"]
    return status


async def stream_until_killed(hub: HubProcess, cpo: StrictPeer) -> dict[int, int | None]:
    answers: dict[int, int | None] = {}
    acknowledged = 0

    async def worker(first: int) -> None:
        nonlocal acknowledged
        for number in range(first, first + PER_WORKER):
            if hub.process is None or hub.process.returncode is not None:
                return
            answers[number] = status = await post(hub, cpo, number)
            if status is None:
                return
            acknowledged += status == 1000
            if acknowledged == ACKS_BEFORE_KILL:
                hub.signal(signal.SIGKILL)

    await asyncio.gather(*(worker(w * PER_WORKER) for w in range(WORKERS)))
    assert await hub.wait_exit() == -signal.SIGKILL
    return answers


async def entries(database_url: str) -> dict[str, tuple[int, str]]:
    """CDR id: (index, transaction id) of every entry."""
    db = Database(database_url)
    try:
        async with db.transaction() as tx:
            rows = await tx.execute(sa.text("SELECT cdr_id, idx, tx_id FROM ledger_entry"))
            found: dict[str, tuple[int, str]] = {}
            for cdr_id, index, tx_id in rows:
                assert cdr_id not in found, f"CDR {cdr_id} has two entries"
                found[cdr_id] = (int(index), str(tx_id))
            return found
    finally:
        await db.dispose()


async def verify(hub: HubProcess) -> None:
    done = await run_incar("ledger", "verify", env=hub.env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("ledger sound: ") and len(done.stdout.splitlines()) == 1


@pytest.mark.timeout(300)  # two hub starts and two incar commands, on a shared machine
async def test_a_hub_killed_mid_stream_keeps_every_acknowledged_cdr_once(
    hub_and_cpo: tuple[HubProcess, StrictPeer],
) -> None:
    hub, cpo = hub_and_cpo
    answers = await stream_until_killed(hub, cpo)
    acknowledged = {n for n, status in answers.items() if status == 1000}
    assert len(acknowledged) >= ACKS_BEFORE_KILL
    assert set(answers.values()) <= {1000, None}, "the hub refused a CDR"
    assert None in answers.values(), "nothing was in flight at the kill"

    await hub.start()
    await verify(hub)  # no half-written entry, no head without its entry or the reverse
    database_url = hub.env["INCAR_DATABASE_URL"]
    before = await entries(database_url)
    assert {f"K{n}" for n in acknowledged} <= set(before), "an acknowledged CDR was lost"
    assert set(before) <= {f"K{n}" for n in answers}, "an entry of a CDR never sent"

    for number in sorted(answers):  # the CPO sends everything again
        assert await post(hub, cpo, number) == 1000
    after = await entries(database_url)
    assert {cdr_id: after[cdr_id] for cdr_id in before} == before, "an entry changed"
    assert set(after) == {f"K{n}" for n in answers}
    assert sorted(index for index, _ in after.values()) == list(range(len(after)))
    await verify(hub)
