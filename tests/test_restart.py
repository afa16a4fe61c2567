"""A hub restarted mid-traffic loses nothing it acknowledged.

The hub runs as a real ``incar serve`` process. A strict CPO and a strict eMSP register
through the credentials handshake, then push concurrently (Location PUT followed by an EVSE
PATCH, Token PUT, Session PUT and CDR POST to the eMSP). The hub is killed (SIGKILL) or
stopped (SIGTERM) while requests are in flight and started again on the same database:

- every request answered with 1000 is in the hub's GET All, with its exact body and
  ``last_updated``;
- a request without an answer is there completely or not at all (no half-applied PATCH,
  nothing that was never sent);
- a command's hub ``response_url`` handed out before the restart still leads to the eMSP;
- after SIGTERM (graceful), every acknowledged broadcast was also delivered before exit;
- every stored CDR is in the CDR ledger once, the ledger verifies (tests/support/ledger.py),
  and CDRs the CPO sends again after the restart are answered and appended no second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import signal
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from incar.db import Database
from incar.hub_key import load_or_create
from incar.settings import Settings
from tests.conformance.support import cdr, charging_session, location, token
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.databases import fresh_database
from tests.support.hub_process import (
    HubProcess,
    free_port,
    hub_process,
    incar_env,
    onboard,
    register_at,
)
from tests.support.ledger import audit

CPO = ("NL", "CPR")
EMSP = ("DE", "EMR")
RESULTS = "/commands/sender/results"
ACKS_BEFORE_STOP = 60  # answered pushes before the signal; the workers keep sending meanwhile
PER_WORKER = 400  # more than any worker gets through before the signal

Party = tuple[str, str]


# --- the set-up ----------------------------------------------------------------------------
@dataclass
class World:
    hub: HubProcess
    cpo: StrictPeer
    emsp: StrictPeer


@contextlib.asynccontextmanager
async def world() -> AsyncIterator[World]:
    async with fresh_database() as database_url:
        with tempfile.TemporaryDirectory(prefix="incar-restart-") as folder:
            port = free_port()
            env = incar_env(database_url, Path(folder) / "data", port)
            async with (
                hub_process(env, port, Path(folder) / "hub.log") as hub,
                running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
                running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
            ):
                for peer, role, party in ((cpo, "CPO", CPO), (emsp, "EMSP", EMSP)):
                    await register_at(peer, hub.url, await onboard(database_url, role, party))
                yield World(hub=hub, cpo=cpo, emsp=emsp)


# --- the traffic and what the hub answered -------------------------------------------------
@dataclass
class Push:
    """One request of the traffic: what was sent and whether the hub answered 1000."""

    kind: str  # location, evse_patch, token, session, cdr
    key: str  # the object's id
    body: dict[str, Any]
    answer: int | None = None  # OCPI status_code; None: no answer (the hub went away)
    detail: str = ""


@dataclass
class Ledger:
    pushes: list[Push] = field(default_factory=list)

    @property
    def acknowledged(self) -> int:
        return sum(1 for p in self.pushes if p.answer == 1000)

    def of(self, kind: str) -> dict[str, Push]:
        return {p.key: p for p in self.pushes if p.kind == kind}


def stamp(index: int, second: int = 0) -> str:
    return f"2026-02-01T{index // 60:02d}:{index % 60:02d}:{second:02d}Z"


class Traffic:
    def __init__(self, world: World, prefix: str, on_ack: Callable[[int], None]) -> None:
        self.world = world
        self.prefix = prefix
        self.ledger = Ledger()
        self.on_ack = on_ack
        self.dead = asyncio.Event()

    async def _send(
        self,
        client: httpx.AsyncClient,
        peer: StrictPeer,
        push: Push,
        *,
        method: str,
        url: str,
        to: Party | None,
    ) -> bool:
        """Sends one push; False once the hub is gone (the worker stops)."""
        self.ledger.pushes.append(push)
        headers = {**peer.routing(to), **peer.auth(), "Content-Type": "application/json"}
        try:
            answer = await client.request(
                method, url, headers=headers, content=orjson.dumps(push.body)
            )
            body = answer.json()
        except (httpx.TransportError, ValueError) as error:
            push.detail = type(error).__name__
            self.dead.set()
            return False
        push.answer = body.get("status_code")
        push.detail = answer.text
        if push.answer == 1000:
            self.on_ack(self.ledger.acknowledged)
        return push.answer == 1000

    async def _worker(self, work: Callable[[httpx.AsyncClient, int], Any]) -> None:
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            for index in range(PER_WORKER):
                if self.dead.is_set() or not await work(client, index):
                    return

    async def _locations(self, client: httpx.AsyncClient, index: int, lane: str) -> bool:
        hub, cpo = self.world.hub, self.world.cpo
        location_id = f"{self.prefix}L{lane}{index}"
        url = f"{hub.endpoint('locations', 'receiver')}/{CPO[0]}/{CPO[1]}/{location_id}"
        put = Push("location", location_id, location(*CPO, location_id, last_updated=stamp(index)))
        if not await self._send(client, cpo, put, method="PUT", url=url, to=cpo.hub_party):
            return False
        patch = Push(
            "evse_patch",
            location_id,
            {"status": "CHARGING", "last_updated": stamp(index, 30)},
        )
        evse_url = f"{url}/{location_id}-E1"
        return await self._send(client, cpo, patch, method="PATCH", url=evse_url, to=cpo.hub_party)

    async def _tokens(self, client: httpx.AsyncClient, index: int) -> bool:
        hub, emsp = self.world.hub, self.world.emsp
        uid = f"{self.prefix}T{index}"
        url = f"{hub.endpoint('tokens', 'receiver')}/{EMSP[0]}/{EMSP[1]}/{uid}"
        push = Push("token", uid, token(*EMSP, uid, last_updated=stamp(index)))
        return await self._send(client, emsp, push, method="PUT", url=url, to=emsp.hub_party)

    async def _sessions(self, client: httpx.AsyncClient, index: int) -> bool:
        hub, cpo = self.world.hub, self.world.cpo
        session_id = f"{self.prefix}S{index}"
        url = f"{hub.endpoint('sessions', 'receiver')}/{CPO[0]}/{CPO[1]}/{session_id}"
        push = Push(
            "session",
            session_id,
            charging_session(CPO, session_id, EMSP, last_updated=stamp(index)),
        )
        return await self._send(client, cpo, push, method="PUT", url=url, to=EMSP)

    async def _cdrs(self, client: httpx.AsyncClient, index: int) -> bool:
        hub, cpo = self.world.hub, self.world.cpo
        cdr_id = f"{self.prefix}C{index}"
        push = Push("cdr", cdr_id, cdr(CPO, cdr_id, EMSP, last_updated=stamp(index)))
        url = hub.endpoint("cdrs", "receiver")
        return await self._send(client, cpo, push, method="POST", url=url, to=EMSP)

    async def run(self) -> Ledger:
        await asyncio.gather(
            self._worker(lambda c, i: self._locations(c, i, "a")),
            self._worker(lambda c, i: self._locations(c, i, "b")),
            self._worker(self._tokens),
            self._worker(self._sessions),
            self._worker(self._cdrs),
        )
        return self.ledger


async def push_until_stopped(world: World, prefix: str, signum: int) -> Ledger:
    """Concurrent pushes; the hub gets ``signum`` once enough of them were answered."""
    signalled = False

    def on_ack(acknowledged: int) -> None:
        nonlocal signalled
        if not signalled and acknowledged >= ACKS_BEFORE_STOP:
            signalled = True
            world.hub.signal(signum)

    traffic = Traffic(world, prefix, on_ack)
    ledger = await traffic.run()
    assert signalled, "the traffic ended before the hub was stopped"
    returncode = await world.hub.wait_exit()
    assert returncode == -signum or (signum == signal.SIGTERM and returncode == 0), returncode
    refused = [p for p in ledger.pushes if p.answer not in (None, 1000)]
    assert refused == [], "pushes the hub refused before it stopped"
    assert ledger.acknowledged >= ACKS_BEFORE_STOP
    assert any(p.answer is None for p in ledger.pushes), "nothing was in flight at the signal"
    return ledger


# --- what the restarted hub has -------------------------------------------------------------
async def get_all(peer: StrictPeer, url: str) -> dict[str, Any]:
    """A GET All via the hub, every page, by object id."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        answer = await peer.call("GET", next_url, to=peer.hub_party)
        body = answer.json()
        assert body["status_code"] == 1000, answer.text
        items.extend(body["data"])
        link = answer.headers.get("link")
        next_url = link.split(">", 1)[0].lstrip("<") if link else None
    by_id = {str(item.get("id") or item.get("uid")): item for item in items}
    assert len(by_id) == len(items), "an object is listed twice"
    return by_id


def patched(put: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The Location after the EVSE PATCH: the EVSE merged, the parent's last_updated moved."""
    document = copy.deepcopy(put)
    document["evses"][0] = {**document["evses"][0], **patch}
    document["last_updated"] = patch["last_updated"]
    return document


def check_plain(kind: str, ledger: Ledger, stored: dict[str, Any]) -> None:
    """Objects written once: acknowledged ⇒ there exactly; unanswered ⇒ exactly or absent."""
    sent = ledger.of(kind)
    assert any(p.answer == 1000 for p in sent.values()), f"no {kind} was acknowledged"
    assert set(stored) <= set(sent), f"{kind}: stored objects nobody sent"
    for key, push in sent.items():
        if push.answer == 1000:
            assert key in stored, f"acknowledged {kind} {key} is lost"
            assert stored[key] == push.body, f"{kind} {key} differs from what was acknowledged"
            assert stored[key]["last_updated"] == push.body["last_updated"]
        elif key in stored:
            assert stored[key] == push.body, f"unanswered {kind} {key} is partly stored"


def check_locations(ledger: Ledger, stored: dict[str, Any]) -> None:
    puts, patches = ledger.of("location"), ledger.of("evse_patch")
    assert any(p.answer == 1000 for p in patches.values()), "no EVSE PATCH was acknowledged"
    assert set(stored) <= set(puts), "stored Locations nobody sent"
    for key, put in puts.items():
        patch = patches.get(key)
        after = patched(put.body, patch.body) if patch else None
        if patch is not None and patch.answer == 1000:
            assert stored.get(key) == after, f"acknowledged EVSE PATCH of {key} is lost"
        elif patch is not None:
            assert stored.get(key) in (put.body, after), f"half-applied EVSE PATCH of {key}"
        elif put.answer == 1000:
            assert stored.get(key) == put.body, f"acknowledged Location {key} is lost"
        else:
            assert stored.get(key) in (None, put.body), f"unanswered Location {key} is partial"


async def check_everything_acknowledged_is_there(world: World, ledger: Ledger) -> None:
    hub, cpo, emsp = world.hub, world.cpo, world.emsp
    # Each list as the role that reads it: Locations, Sessions and CDRs the eMSP, Tokens the CPO.
    check_locations(ledger, await get_all(emsp, hub.endpoint("locations", "sender")))
    check_plain("token", ledger, await get_all(cpo, hub.endpoint("tokens", "sender")))
    check_plain("session", ledger, await get_all(emsp, hub.endpoint("sessions", "sender")))
    check_plain("cdr", ledger, await get_all(emsp, hub.endpoint("cdrs", "sender")))


async def check_ledger_and_resend_cdrs(world: World, ledger: Ledger) -> None:
    """The CPO sends every CDR again, as after a crash it would those it got no answer for."""
    env = world.hub.env
    key = load_or_create(Path(env["INCAR_DATA_DIR"]) / "ledger-ed25519.pem")
    public, name = key.public_key().public_bytes_raw(), Settings().ledger_name
    db = Database(env["INCAR_DATABASE_URL"])
    try:
        await audit(db, public=public, name=name)
        sent = ledger.of("cdr")
        for push in sent.values():
            answer = await world.cpo.call(
                "POST", world.hub.endpoint("cdrs", "receiver"), to=EMSP, json=push.body
            )
            assert answer.json()["status_code"] == 1000, answer.text
        assert (await audit(db, public=public, name=name)).size == len(sent)
    finally:
        await db.dispose()


# --- a command in flight across the restart --------------------------------------------------
async def send_command(world: World, name: str) -> str:
    """START_SESSION from the eMSP; returns the hub response_url the CPO got for it."""
    body = {
        "response_url": f"{world.emsp.url}{RESULTS}/{name}",
        "token": token(*EMSP, "CMD-1"),
        "location_id": "LCMD",
        "evse_uid": "LCMD-E1",
        "authorization_reference": name,
    }
    answer = await world.emsp.call(
        "POST",
        f"{world.hub.endpoint('commands', 'receiver')}/START_SESSION",
        to=CPO,
        json=body,
        headers={"X-Correlation-ID": f"corr-{name}"},
    )
    assert answer.json()["data"] == {"result": "ACCEPTED", "timeout": 30}, answer.text
    (forwarded,) = [
        r
        for r in world.cpo.requests("POST", "/commands/receiver/START_SESSION")
        if r.json()["authorization_reference"] == name
    ]
    hub_url = forwarded.json()["response_url"]
    assert isinstance(hub_url, str) and hub_url.startswith(world.hub.url), hub_url
    return hub_url


async def check_command_result_still_routed(world: World, hub_url: str, name: str) -> None:
    result = {"result": "ACCEPTED", "message": [{"language": "en", "text": name}]}
    answer = await world.cpo.call("POST", hub_url, to=EMSP, json=result)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status_code"] == 1000, answer.text
    (delivered,) = world.emsp.requests("POST", f"{RESULTS}/{name}")
    assert delivered.json() == result
    assert delivered.headers["x-correlation-id"] == f"corr-{name}"


def check_broadcasts_delivered(world: World, ledger: Ledger) -> None:
    """After a graceful stop: every acknowledged broadcast reached its receiver first."""
    emsp_got = {(r.method, r.path) for r in world.emsp.received}
    cpo_got = {(r.method, r.path) for r in world.cpo.received}
    base = f"/locations/receiver/{CPO[0]}/{CPO[1]}"
    for key, push in ledger.of("location").items():
        if push.answer == 1000:
            assert ("PUT", f"{base}/{key}") in emsp_got, f"Location {key} not fanned out"
    for key, push in ledger.of("evse_patch").items():
        if push.answer == 1000:
            assert ("PATCH", f"{base}/{key}/{key}-E1") in emsp_got, f"PATCH {key} not fanned out"
    for key, push in ledger.of("token").items():
        if push.answer == 1000:
            path = f"/tokens/receiver/{EMSP[0]}/{EMSP[1]}/{key}"
            assert ("PUT", path) in cpo_got, f"Token {key} not fanned out"


# --- the test -------------------------------------------------------------------------------
async def test_a_hub_killed_or_stopped_mid_traffic_loses_nothing_it_acknowledged() -> None:
    """SIGKILL mid-traffic, restart, check; then SIGTERM mid-traffic, restart, check again.

    One hub process history (three starts on one database) keeps the test short; each phase
    has its own object ids, and the last check covers both phases' objects.
    """
    async with world() as w:
        # Phase 1: killed. What was committed before the answer must survive the crash.
        killed_url = await send_command(w, "before-kill")
        killed = await push_until_stopped(w, "K", signal.SIGKILL)
        await w.hub.start()
        await check_everything_acknowledged_is_there(w, killed)
        await check_ledger_and_resend_cdrs(w, killed)
        await check_command_result_still_routed(w, killed_url, "before-kill")

        # Phase 2: stopped gracefully. In-flight work ends, queued fan-out is delivered.
        stopped_url = await send_command(w, "before-stop")
        stopped = await push_until_stopped(w, "G", signal.SIGTERM)
        check_broadcasts_delivered(w, stopped)
        await w.hub.start()
        assert len(set(w.hub.pids)) == 3, "three distinct hub processes"
        both = Ledger(pushes=[*killed.pushes, *stopped.pushes])
        await check_everything_acknowledged_is_there(w, both)
        await check_ledger_and_resend_cdrs(w, both)
        await check_command_result_still_routed(w, stopped_url, "before-stop")
