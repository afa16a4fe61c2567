"""The whole story over real HTTP and WebSocket, through the Hive Gateway: a strict CPO and a
strict eMSP registered with the hub; the eMSP pushes its driver's token; the driver logs in at
the eMSP's OpenID Connect provider (code + PKCE), finds a free station with a filter, books it,
starts charging, follows the session live, stops, and finds it in their history; another client
watching the area sees the EVSE go reserved, charging and available. Then the refusals: the
booked EVSE for another driver, a foreign-issuer token, no token for a booking."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websockets
from starlette.responses import Response

from gateway.process import GatewayProcess
from incar.identity import AccessTokenVerifier, TrustedIssuer
from incar.timestamps import format_timestamp
from incar_cli import platform
from incar_cli.platform import authenticator
from ocpi_adapter.commands.outbound import HubCommands
from subgraphs.catalog import subgraphs
from subgraphs.server import create_app
from tests.conformance.support import location
from tests.gateway.clients import post
from tests.peers.strict.peer import Received, StrictPeer, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.hub_process import free_port
from tests.support.idp import RunningIdp, driver_realm, login, running_idp
from tests.support.servers import serve

CPO = ("FI", "CPA")
EMSP = ("DE", "EMA")
API = "https://graph.incar.test"
REDIRECT = "http://127.0.0.1:9/callback"
DRIVERS = {"alice": "ALICE-1", "bob": "BOB-1"}
NEAR = {"latitude": 60.169, "longitude": 24.938, "radiusMeters": 1000}


def realm(name: str) -> dict[str, Any]:
    return driver_realm(name, audience=API, redirect_uri=REDIRECT, drivers=DRIVERS)


def driver_token(uid: str) -> dict[str, Any]:
    return {
        "country_code": EMSP[0],
        "party_id": EMSP[1],
        "uid": uid,
        "type": "APP_USER",
        "contract_id": f"DE-EMA-{uid}",
        "issuer": "Story eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-01-01T00:00:00Z",
    }


@dataclass
class Story:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer
    idp: RunningIdp
    gateway: GatewayProcess

    async def token(self, user: str, realm_name: str = "emsp-de") -> str:
        tokens = await login(
            self.idp.issuer(realm_name),
            "driver-app",
            REDIRECT,
            user,
            f"{user}-pw",
            resource=API,
        )
        return f"Bearer {tokens.access_token}"

    async def graph(self, query: str, token: str | None = None, **variables: Any) -> Any:
        return await post(self.gateway.url, query, variables=variables, token=token)

    async def cpo_pushes(self, method: str, path: str, body: dict[str, Any]) -> None:
        answer = await self.cpo.call(
            method,
            f"{self.hub.url}/ocpi/2.2.1/{path}",
            to=self.cpo.hub_party if path.startswith("locations") else EMSP,
            json=body,
        )
        assert answer.json()["status_code"] == 1000, answer.text


class Watcher:
    """A graphql-transport-ws client holding subscriptions open and collecting what comes."""

    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = url.replace("http://", "ws://")
        self.init = {"Authorization": token} if token else {}
        self.events: dict[str, list[Any]] = {}
        self.socket: Any = None
        self.reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Watcher:
        self.socket = await websockets.connect(
            self.url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
        )
        await self.socket.send(json.dumps({"type": "connection_init", "payload": self.init}))
        assert json.loads(await self.socket.recv())["type"] == "connection_ack"
        self.reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for raw in self.socket:
            message = json.loads(raw)
            if message["type"] in ("next", "error"):
                self.events.setdefault(message["id"], []).append(message["payload"])
            elif message["type"] == "ping":
                await self.socket.send(json.dumps({"type": "pong"}))

    async def subscribe(self, id: str, query: str, **variables: Any) -> None:
        payload = {"query": query, "variables": variables}
        await self.socket.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))

    async def until(self, id: str, done: Callable[[list[Any]], bool], what: str) -> list[Any]:
        for _ in range(600):
            if done(self.events.get(id, [])):
                return self.events[id]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{what}: got {self.events.get(id)}")

    async def __aexit__(self, *_exc: object) -> None:
        assert self.reader is not None
        self.reader.cancel()
        await self.socket.close()


class ChargePoint:
    """The CPO's charge point: answers every command at once, reports its result, and for a
    session pushes what a real one would (status, Session, energy, the end)."""

    def __init__(self, story: Story) -> None:
        self.story = story
        self.session: dict[str, Any] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.answers: list[Any] = []  # the hub's answers to the charge point's results

    def handle(self, received: Received) -> Response:
        command = received.path.rsplit("/", 1)[1]
        body = received.json()
        self.tasks.append(asyncio.get_running_loop().create_task(self.act(command, body)))
        return ocpi({"result": "ACCEPTED", "timeout": 30})

    async def act(self, command: str, body: dict[str, Any]) -> None:
        story = self.story
        await asyncio.sleep(0.1)
        answer = await story.cpo.call(
            "POST", body["response_url"], to=EMSP, json={"result": "ACCEPTED"}
        )
        self.answers.append(answer.json())
        evse = f"locations/receiver/FI/CPA/{body.get('location_id', 'ST1')}/ST1-E1"
        if command == "RESERVE_NOW":
            await story.cpo_pushes("PATCH", evse, {"status": "RESERVED", "last_updated": now()})
        elif command == "START_SESSION":
            self.session = {
                "country_code": CPO[0],
                "party_id": CPO[1],
                "id": "SES-1",
                "start_date_time": now(),
                "kwh": 0,
                "cdr_token": {
                    "country_code": EMSP[0],
                    "party_id": EMSP[1],
                    "uid": body["token"]["uid"],
                    "type": body["token"]["type"],
                    "contract_id": body["token"]["contract_id"],
                },
                "auth_method": "COMMAND",
                "location_id": body["location_id"],
                "evse_uid": body["evse_uid"],
                "connector_id": "1",
                "currency": "EUR",
                "status": "ACTIVE",
                "last_updated": now(),
            }
            await story.cpo_pushes("PUT", "sessions/receiver/FI/CPA/SES-1", self.session)
            await story.cpo_pushes("PATCH", evse, {"status": "CHARGING", "last_updated": now()})
            await story.cpo_pushes(
                "PATCH",
                "sessions/receiver/FI/CPA/SES-1",
                {"kwh": 4.5, "total_cost": {"excl_vat": 1.35}, "last_updated": now()},
            )
        elif command == "STOP_SESSION":
            await story.cpo_pushes(
                "PATCH",
                "sessions/receiver/FI/CPA/SES-1",
                {
                    "status": "COMPLETED",
                    "kwh": 9.0,
                    "end_date_time": now(),
                    "total_cost": {"excl_vat": 2.7, "incl_vat": 3.39},
                    "last_updated": now(),
                },
            )
            await story.cpo_pushes("PATCH", evse, {"status": "AVAILABLE", "last_updated": now()})


def now() -> str:
    return format_timestamp()


@contextlib.asynccontextmanager
async def world(folder: Path) -> AsyncIterator[Story]:
    async with contextlib.AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub())
        cpo = await stack.enter_async_context(
            running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1])
        )
        emsp = await stack.enter_async_context(
            running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1])
        )
        await cpo.register(hub)
        await emsp.register(hub)
        idp = await stack.enter_async_context(
            running_idp([realm("emsp-de"), realm("stranger")], folder)
        )
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
        chosen = list(subgraphs().values())
        app = create_app(
            hub.hub.runtime,
            chosen,
            authenticator=authenticator(hub.hub, verifier),
            commands=HubCommands(hub.hub),
        )
        served = await stack.enter_async_context(serve(lambda _url: app))
        at = [(subgraph, f"{served.url}{subgraph.path}") for subgraph in chosen]
        supergraph = await asyncio.to_thread(platform.supergraph, at, folder)
        gateway = await stack.enter_async_context(GatewayProcess(supergraph, port=free_port()))
        story = Story(hub, cpo, emsp, idp, gateway)
        station = location(*CPO, "ST1")
        station["evses"][0].update(
            uid="ST1-E1", capabilities=["RESERVABLE", "REMOTE_START_STOP_CAPABLE"]
        )
        await story.cpo_pushes("PUT", "locations/receiver/FI/CPA/ST1", station)
        for uid in DRIVERS.values():
            answer = await emsp.call(
                "PUT",
                f"{hub.url}/ocpi/2.2.1/tokens/receiver/DE/EMA/{uid}",
                to=cpo.hub_party,
                json=driver_token(uid),
            )
            assert answer.json()["status_code"] == 1000, answer.text
        await hub.settle()
        yield story


@pytest.fixture(scope="module")
async def story(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Story]:
    async with world(tmp_path_factory.mktemp("story")) as s:
        yield s


STATIONS = """
query ($near: NearInput!) { stations(near: $near, filter: {availableNow: true, reservable: true,
  connectorStandards: ["IEC_62196_T2"]}) {
  edges { node { id partyId countryCode } matchingEvses { uid status booked inUse } }
} }
"""
WATCH = """
subscription ($box: BoxInput) { evseStatusChanged(box: $box) { status evseUid locationId } }
"""
CHARGING = """
subscription { chargingUpdates {
  command { command response result }
  session { id status kwh totalCost { exclVat inclVat } }
} }
"""


async def test_a_driver_books_charges_and_finds_the_session_in_their_history(
    story: Story,
) -> None:
    alice = await story.token("alice")
    charge_point = ChargePoint(story)
    story.cpo.on("POST", "/commands/receiver/", charge_point.handle)
    box = {"south": 60.1, "west": 24.9, "north": 60.2, "east": 25.0}
    async with Watcher(story.gateway.url) as watcher, Watcher(story.gateway.url, alice) as app:
        await watcher.subscribe("area", WATCH, box=box)
        await app.subscribe("mine", CHARGING)
        await asyncio.sleep(0.5)

        found = await story.graph(STATIONS, alice, near=NEAR)
        assert "errors" not in found, found
        (edge,) = found["data"]["stations"]["edges"]
        assert edge["matchingEvses"] == [
            {"uid": "ST1-E1", "status": "AVAILABLE", "booked": False, "inUse": False}
        ]
        evse = {"countryCode": "FI", "partyId": "CPA", "locationId": "ST1", "uid": "ST1-E1"}

        booked = await story.graph(
            "mutation ($evse: EvseInput!) { reserveEvse(evse: $evse, minutes: 20) "
            "{ id state holds evse { uid booked } } }",
            alice,
            evse=evse,
        )
        assert "errors" not in booked, booked
        booking = booked["data"]["reserveEvse"]
        assert (booking["state"], booking["holds"]) == ("REQUESTED", True)
        assert booking["evse"] == {"uid": "ST1-E1", "booked": True}
        await watcher.until(
            "area",
            lambda events: any(
                e["data"]["evseStatusChanged"]["status"] == "RESERVED" for e in events
            ),
            "the watcher sees the EVSE reserved",
        )
        for _ in range(100):
            state = await story.graph(
                "query ($id: ID!) { booking(id: $id) { state } }", alice, id=booking["id"]
            )
            if state["data"]["booking"]["state"] == "CONFIRMED":
                break
            await asyncio.sleep(0.05)
        assert state["data"]["booking"]["state"] == "CONFIRMED", charge_point.answers

        # Bob may not charge on the EVSE Alice booked: refused before anything is sent.
        bob = await story.token("bob")
        sent_before = len([r for r in story.cpo.received if "/commands/" in r.path])
        refused = await story.graph(
            "mutation ($evse: ChargeAtInput!) { startCharging(evse: $evse) { id } }",
            bob,
            evse=evse,
        )
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["CONFLICT"]
        assert len([r for r in story.cpo.received if "/commands/" in r.path]) == sent_before

        started = await story.graph(
            "mutation ($evse: ChargeAtInput!) { startCharging(evse: $evse) { command response } }",
            alice,
            evse={**evse, "connectorId": "1"},
        )
        assert "errors" not in started, started
        assert started["data"]["startCharging"] == {
            "command": "START_SESSION",
            "response": "ACCEPTED",
        }
        start_request = [r for r in story.cpo.received if r.path.endswith("/START_SESSION")][-1]
        assert start_request.json()["reservation_id"], "the driver's booking goes along"
        updates = await app.until(
            "mine",
            lambda events: any(
                (e["data"]["chargingUpdates"]["session"] or {}).get("kwh") == 4.5 for e in events
            ),
            "the driver follows the session live",
        )
        assert any(
            (e["data"]["chargingUpdates"]["command"] or {}).get("result") == "ACCEPTED"
            for e in updates
        )

        stopped = await story.graph(
            'mutation { stopCharging(countryCode: "FI", partyId: "CPA", id: "SES-1") '
            "{ command response } }",
            alice,
        )
        assert "errors" not in stopped, stopped
        await app.until(
            "mine",
            lambda events: any(
                (e["data"]["chargingUpdates"]["session"] or {}).get("status") == "COMPLETED"
                for e in events
            ),
            "the session's end reaches the driver",
        )
        statuses = await watcher.until(
            "area",
            lambda events: (
                [e["data"]["evseStatusChanged"]["status"] for e in events][-1:] == ["AVAILABLE"]
            ),
            "the watcher sees the EVSE free again",
        )
        seen = [e["data"]["evseStatusChanged"]["status"] for e in statuses]
        assert seen.index("RESERVED") < seen.index("CHARGING") < len(seen) - 1
        history = await story.graph(
            'query { me { tokenUid sessions(statuses: ["COMPLETED"]) '
            "{ id kwh totalCost { exclVat inclVat } evse { uid } } } }",
            alice,
        )
        assert history["data"]["me"] == {
            "tokenUid": "ALICE-1",
            "sessions": [
                {
                    "id": "SES-1",
                    "kwh": 9.0,
                    "totalCost": {"exclVat": 2.7, "inclVat": 3.39},
                    "evse": {"uid": "ST1-E1"},
                }
            ],
        }
    for task in charge_point.tasks:
        await task


async def test_tokens_the_platform_does_not_trust_are_refused_with_a_code(story: Story) -> None:
    stranger = await story.token("alice", realm_name="stranger")  # a real token, untrusted
    for token in (stranger, "Bearer not-a-jwt", "Basic abc"):
        answer = await story.graph("query { me { tokenUid } }", token)
        assert [e["extensions"]["code"] for e in answer["errors"]] == ["UNAUTHENTICATED"], answer
    # A public query with a bad token is refused too: the client must learn its login is bad.
    answer = await story.graph(
        "query ($near: NearInput!) { stations(near: $near) { totalCount } }", stranger, near=NEAR
    )
    assert [e["extensions"]["code"] for e in answer["errors"]] == ["UNAUTHENTICATED"]
    # Without a login: public data yes, a booking no.
    assert (
        await story.graph(
            "query ($near: NearInput!) { stations(near: $near) { totalCount } }", near=NEAR
        )
    )["data"]
    anonymous = await story.graph(
        'mutation { reserveEvse(evse: {countryCode: "FI", partyId: "CPA", '
        'locationId: "ST1", uid: "ST1-E1"}) { id } }'
    )
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
