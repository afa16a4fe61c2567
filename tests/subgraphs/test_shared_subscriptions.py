"""Shared subscriptions: equal subscriptions run once and every subscriber of them gets every
event under its own id; different viewers, documents or variables never share; a subscriber
that completes or disconnects leaves its broadcast, and the last one ends it; refusals reach
every subscriber as Strawberry's own path sends them. Over real WebSockets to the platform's
subgraphs app, on a real hub's database and bus, drivers logged in at a real OpenID Connect
provider."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.routing import WebSocketRoute
from strawberry.types.execution import ExecutionResult

from incar.identity import AccessTokenVerifier, TrustedIssuer
from incar.runtime import Runtime
from incar_cli.platform import authenticator
from ocpi_adapter.commands.outbound import HubCommands
from subgraphs.catalog import subgraphs
from subgraphs.common.shared_subscriptions import FEED_CAPACITY, Broadcasts, Feed, SharingGraphQL
from subgraphs.locations import service as locations
from subgraphs.locations.graph.schema import schema as locations_schema
from subgraphs.server import create_app
from subgraphs.sessions import service as sessions
from tests.conformance.support import charging_session, location, token
from tests.support.evse_changes import EvseChanges
from tests.support.graphql_ws import connected, ended, primed, received, until
from tests.support.hub import running_hub
from tests.support.idp import driver_realm, login, running_idp
from tests.support.servers import serve

CPO = ("FI", "CPA")
EMSP = ("DE", "EMA")
API = "https://graph.incar.test"
REDIRECT = "http://127.0.0.1:9/callback"
DRIVERS = {"alice": "ALICE-1", "bob": "BOB-1"}
# L1 is in Helsinki, inside BOX; L2 is in Tampere, outside it.
BOX = {"south": 60.0, "west": 24.5, "north": 60.5, "east": 25.5}
WATCH = """subscription ($box: BoxInput) { evseStatusChanged(box: $box) {
  status locationId evseUid } }"""
WATCH_L2 = """subscription { evseStatusChanged(
  locations: [{countryCode: "FI", partyId: "CPA", id: "L2"}]) { status locationId evseUid } }"""
CHARGING = "subscription { chargingUpdates { session { id kwh } } }"
# One clock for the EVSEs' changes and the sessions' pushes.
CHANGES = EvseChanges(CPO, day="2026-12-02")
change = CHANGES.change


@dataclass
class Platform:
    runtime: Runtime
    url: str
    views: dict[str, SharingGraphQL]
    issuer: str

    async def bearer(self, user: str) -> str:
        tokens = await login(self.issuer, "driver-app", REDIRECT, user, f"{user}-pw", resource=API)
        return f"Bearer {tokens.access_token}"

    def running(self, subgraph: str) -> int:
        return len(self.views[subgraph].broadcasts.running)

    def members(self, subgraph: str) -> list[int]:
        return sorted(len(b.members) for b in self.views[subgraph].broadcasts.running.values())


def realm(name: str) -> dict[str, Any]:
    return driver_realm(name, audience=API, redirect_uri=REDIRECT, drivers=DRIVERS)


@pytest.fixture(scope="module")
async def platform(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    folder: Path = tmp_path_factory.mktemp("shared")
    async with contextlib.AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub())
        idp = await stack.enter_async_context(running_idp([realm("emsp-de")], folder))
        verifier = AccessTokenVerifier(
            [
                TrustedIssuer(
                    issuer=idp.issuer("emsp-de"),
                    country_code=EMSP[0],
                    party_id=EMSP[1],
                    audience=API,
                )
            ]
        )
        stack.push_async_callback(verifier.aclose)
        chosen = [subgraphs()["locations"], subgraphs()["sessions"]]
        app = create_app(
            hub.hub.runtime,
            chosen,
            authenticator=authenticator(hub.hub, verifier),
            commands=HubCommands(hub.hub),
        )
        views = {
            route.path.rsplit("/", 1)[1]: route.endpoint
            for route in app.routes
            if isinstance(route, WebSocketRoute) and isinstance(route.endpoint, SharingGraphQL)
        }
        served = await stack.enter_async_context(serve(lambda _url: app))
        runtime = hub.hub.runtime
        async with runtime.db.transaction(write=True) as tx:
            await locations.put_location(tx, data=location(*CPO, "L1"))
            await locations.put_location(
                tx,
                data=location(
                    *CPO, "L2", coordinates={"latitude": "61.498000", "longitude": "23.761000"}
                ),
            )
            for uid in DRIVERS.values():
                await sessions.put_token(tx, data=token(*EMSP, uid))
        yield Platform(
            runtime=runtime,
            url=served.url.replace("http://", "ws://") + "/graphql",
            views=views,
            issuer=idp.issuer("emsp-de"),
        )


async def charge(runtime: Runtime, uid: str, kwh: float) -> None:
    body = charging_session(CPO, f"S-{uid}", EMSP, last_updated=next(CHANGES.moments))
    body["cdr_token"]["uid"] = uid
    body["kwh"] = kwh
    async with runtime.db.transaction(write=True) as tx:
        await sessions.put_session(tx, data=body)


def flat(payloads: list[Any]) -> Iterator[tuple[str, str]]:
    for payload in payloads:
        assert "errors" not in payload, payload
        event = payload["data"]["evseStatusChanged"]
        yield event["locationId"], event["status"]


async def test_equal_subscriptions_run_once_and_each_gets_every_event(platform: Platform) -> None:
    async with (
        connected(platform.url + "/locations") as one,
        connected(platform.url + "/locations") as two,
    ):
        await one.subscribe("a", WATCH, box=BOX)
        await one.subscribe("b", WATCH, box=BOX)
        await two.subscribe("c", WATCH, box=BOX)
        # Same field, other variables or other document: a broadcast of their own.
        await two.subscribe("far", WATCH_L2)
        await two.subscribe("near", WATCH, box={**BOX, "north": 60.2})

        async def poke() -> None:
            await change(platform.runtime, "L1")
            await change(platform.runtime, "L2")

        subscriptions = [(one, "a"), (one, "b"), (two, "c"), (two, "far"), (two, "near")]
        await primed(subscriptions, poke, "five subscriptions")
        assert platform.running("locations") == 3
        assert platform.members("locations") == [1, 1, 3]

        first = await change(platform.runtime, "L1")
        second = await change(platform.runtime, "L2")
        third = await change(platform.runtime, "L1")
        mine = [("L1", first), ("L1", third)]
        for client, id in [(one, "a"), (one, "b"), (two, "c"), (two, "near")]:
            await until(partial(received, client, id, 2), f"{id}'s two events")
        await until(lambda: len(two.nexts("far")) >= 1, "far's event")
        await asyncio.sleep(0.3)  # nothing more comes
        for client, id in [(one, "a"), (one, "b"), (two, "c"), (two, "near")]:
            assert list(flat(client.nexts(id))) == mine, id
            assert {m["id"] for m in client.messages[id]} == {id}
        assert list(flat(two.nexts("far"))) == [("L2", second)]


async def test_drivers_never_share_and_each_sees_only_their_own(platform: Platform) -> None:
    alice, bob = await platform.bearer("alice"), await platform.bearer("bob")
    async with (
        connected(platform.url + "/sessions", alice) as phone,
        connected(platform.url + "/sessions", alice) as car,
        connected(platform.url + "/sessions", bob) as bobs,
    ):
        await phone.subscribe("mine", CHARGING)
        await car.subscribe("mine", CHARGING)
        await bobs.subscribe("mine", CHARGING)

        async def poke() -> None:
            await charge(platform.runtime, DRIVERS["alice"], 0.1)
            await charge(platform.runtime, DRIVERS["bob"], 0.1)

        await primed([(phone, "mine"), (car, "mine"), (bobs, "mine")], poke, "three drivers")
        # alice's two devices share her broadcast; bob has his own.
        assert platform.members("sessions") == [1, 2]

        await charge(platform.runtime, DRIVERS["alice"], 7.5)
        for client in (phone, car):
            await until(partial(received, client, "mine", 1), "alice's session")
        await asyncio.sleep(0.3)
        for client in (phone, car):
            (payload,) = client.nexts("mine")
            assert payload["data"]["chargingUpdates"]["session"] == {
                "id": f"S-{DRIVERS['alice']}",
                "kwh": 7.5,
            }
        assert bobs.nexts("mine") == []


async def test_a_subscriber_that_leaves_leaves_its_broadcast(platform: Platform) -> None:
    async with connected(platform.url + "/locations") as stays:
        await stays.subscribe("s", WATCH, box=BOX)
        async with connected(platform.url + "/locations") as goes:
            await goes.subscribe("g1", WATCH, box=BOX)
            await goes.subscribe("g2", WATCH, box=BOX)

            async def poke() -> None:
                await change(platform.runtime, "L1")

            await primed([(stays, "s"), (goes, "g1"), (goes, "g2")], poke, "three subscribers")
            assert platform.members("locations") == [3]
            await goes.complete("g1")
            await until(lambda: platform.members("locations") == [2], "g1 gone")
            await change(platform.runtime, "L1")
            await until(lambda: stays.nexts("s") and goes.nexts("g2"), "s and g2 still served")
            assert goes.nexts("g1") == []
        # The connection closed with g2 on it.
        await until(lambda: platform.members("locations") == [1], "g2 gone with its socket")
        stays.forget()
        await change(platform.runtime, "L1")
        await until(lambda: stays.nexts("s"), "s still served")
        broadcast = next(iter(platform.views["locations"].broadcasts.running.values()))
        await stays.complete("s")
        await until(lambda: platform.running("locations") == 0, "the last one ends it")
        await until(broadcast.task.done, "its execution stopped")
    assert platform.running("locations") == 0


async def test_a_refusal_reaches_every_subscriber_and_ends_the_broadcast(
    platform: Platform,
) -> None:
    nothing = "subscription { evseStatusChanged { status } }"
    cursor = (
        "subscription { evseStatusChanged("
        'locations: [{countryCode: "FI", partyId: "CPA", id: "L1"}], after: "x") { status } }'
    )
    unknown = "subscription { evseStatusChanged(box: $box) { nonsense } }"
    async with (
        connected(platform.url + "/locations") as one,
        connected(platform.url + "/locations") as two,
    ):
        for id, query in (("nothing", nothing), ("cursor", cursor), ("unknown", unknown)):
            await one.subscribe(id, query)
            await two.subscribe(id, query)
        for client in (one, two):
            for id in ("nothing", "cursor", "unknown"):
                await until(partial(ended, client, id), f"{id} ended")
        for id, code in (("nothing", "BAD_USER_INPUT"), ("cursor", "BAD_USER_INPUT")):
            for client in (one, two):
                assert client.kinds(id) == ["next", "complete"], (id, client.messages[id])
                (payload,) = client.nexts(id)
                assert [e["extensions"]["code"] for e in payload["errors"]] == [code]
        for client in (one, two):
            (error,) = client.messages["unknown"]
            assert error["type"] == "error"
            assert error["payload"], error
        await until(lambda: platform.running("locations") == 0, "no broadcast left running")


async def test_what_is_not_a_subscription_takes_strawberrys_own_path(
    platform: Platform,
) -> None:
    async with connected(platform.url + "/locations") as client:
        await client.subscribe(
            "q", '{ location(countryCode: "FI", partyId: "CPA", id: "L1") { id } }'
        )
        await until(lambda: client.kinds("q") == ["next", "complete"], "the query's answer")
        assert client.nexts("q") == [{"data": {"location": {"id": "L1"}}}]
        assert platform.running("locations") == 0
        await client.subscribe("bad", "subscription { evseStatusChanged(")
        await until(lambda: client.socket.close_code is not None, "closed")
        assert client.socket.close_code == 4400


async def test_a_feed_that_is_not_read_keeps_what_it_has_and_takes_no_more() -> None:
    feed = Feed(capacity=2)
    for n in range(5):
        feed.push(str(n))
    assert feed.overflowed
    # No gap: the member gets the oldest results, then (from the handler) CLIENT_TOO_SLOW.
    assert [item async for item in feed] == ["0", "1"]


async def test_a_member_that_falls_behind_is_told_client_too_slow_not_skipped() -> None:
    async def results() -> AsyncIterator[ExecutionResult]:
        for n in range(FEED_CAPACITY + 10):
            yield ExecutionResult(data={"n": n}, errors=None)

    async def start() -> AsyncIterator[ExecutionResult]:
        return results()

    broadcasts = Broadcasts(lambda result: str(result.data["n"]))  # type: ignore[index]
    async with broadcasts.join(("k", b"{}", None, None), start) as feed:
        await until(lambda: feed.overflowed, "the member's feed overflowing")
        kept = [item async for item in feed]
    # The oldest results, in order and all of them, then nothing: the handler sends the error.
    assert kept == [str(n) for n in range(FEED_CAPACITY)]
    payload = orjson.loads(SharingGraphQL(locations_schema).too_slow_payload())
    assert payload["data"] is None
    assert [e["extensions"]["code"] for e in payload["errors"]] == ["CLIENT_TOO_SLOW"]


RESUMING = """subscription ($after: String) { chargingUpdates(after: $after) {
  cursor session { id kwh } } }"""


def updates(client: Any, id: str) -> list[dict[str, Any]]:
    found = []
    for payload in client.nexts(id):
        assert "errors" not in payload, payload
        found.append(payload["data"]["chargingUpdates"])
    return found


async def test_a_driver_resumes_charging_updates_after_the_last_cursor(platform: Platform) -> None:
    alice = await platform.bearer("alice")
    async with connected(platform.url + "/sessions", alice) as phone:
        await phone.subscribe("live", RESUMING)
        await primed(
            [(phone, "live")], partial(charge, platform.runtime, DRIVERS["alice"], 1.0), "alice"
        )
        await charge(platform.runtime, DRIVERS["alice"], 1.5)
        # A priming update may still arrive after priming forgot them (on PostgreSQL events
        # are delivered after commit, in log order): the 1.5 kWh one is the last.
        await until(
            lambda: any(u["session"]["kwh"] == 1.5 for u in updates(phone, "live")),
            "alice's update",
        )
        seen = updates(phone, "live")[-1]
        assert seen["session"]["kwh"] == 1.5
    # Away: two updates of hers and one of bob's are committed.
    await charge(platform.runtime, DRIVERS["alice"], 2.0)
    await charge(platform.runtime, DRIVERS["bob"], 9.0)
    await charge(platform.runtime, DRIVERS["alice"], 3.0)
    async with connected(platform.url + "/sessions", alice) as phone:
        await phone.subscribe("back", RESUMING, after=seen["cursor"])
        await until(partial(received, phone, "back", 2), "the updates she missed")
        await charge(platform.runtime, DRIVERS["alice"], 4.0)  # then the live ones
        await until(partial(received, phone, "back", 3), "a live update after the missed ones")
        await asyncio.sleep(0.3)  # nothing more comes (bob's update is not hers)
        back = updates(phone, "back")
        # One update per change she missed, each the session as stored when it is sent (a
        # replay reads it now: 3.0 for both), then the live one.
        assert [u["session"]["kwh"] for u in back] == [3.0, 3.0, 4.0]
        assert len({seen["cursor"], *(u["cursor"] for u in back)}) == 4
        await phone.subscribe("bad", RESUMING, after="not a cursor")
        await until(partial(ended, phone, "bad"), "the bad cursor refused")
        (payload,) = phone.nexts("bad")
        assert [e["extensions"]["code"] for e in payload["errors"]] == ["BAD_USER_INPUT"]
