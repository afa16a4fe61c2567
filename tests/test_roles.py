"""The role matrix (ocpi_adapter/roles.py, docs/policies.md "Roles"), every cell over real HTTP.

One hub and one strict peer per role (CPO, EMSP, NSP, NAP, SCSP, OTHER), each offering both
interfaces of every module, so that a peer's endpoints never decide: only the matrix does. For
every operation the hub routes:

- each role sends it (as an honest sender would: its own objects, a valid body, OCPI-to a party
  that may receive it): a role the matrix allows gets it forwarded to that party, and what the
  operation stores is stored; any other role gets 2001, nothing is forwarded, nothing stored;
- an allowed sender addresses it to each role in turn: a receiver the matrix allows gets it,
  any other is refused the same way;
- a broadcast push reaches exactly the connected parties whose role may receive it.

Hub URLs (response_url callbacks, a CDR's Location) stand for one CPO's answer: only that CPO
may call them, whatever the caller's role.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from sqlmodel import SQLModel, select
from starlette.responses import Response

from ocpi_adapter.modules import FUNCTIONAL
from ocpi_adapter.roles import MATRIX, use_of
from ocpi_adapter.routing.models import Callback
from ocpi_adapter.routing.operations import ModuleRoutes, Operation
from ocpi_adapter.types import InterfaceRole, ModuleID, Role
from ocpi_adapter.validation import ObjectKind
from subgraphs.accounting.models import Cdr
from subgraphs.locations.models import Location, Tariff
from subgraphs.sessions.models import Command, Session, Token
from tests.conformance.support import (
    Party,
    assert_envelope,
    cdr,
    charging_session,
    hub_party,
    location,
    register_all,
    tariff,
    token,
)
from tests.peers.strict.peer import StrictPeer, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub

ROLES = (Role.CPO, Role.EMSP, Role.NSP, Role.NAP, Role.SCSP, Role.OTHER)
PARTIES: dict[Role, Party] = {
    Role.CPO: ("NL", "CPO"),
    Role.EMSP: ("NL", "EMS"),
    Role.NSP: ("NL", "NSP"),
    Role.NAP: ("NL", "NAP"),
    Role.SCSP: ("NL", "SCS"),
    Role.OTHER: ("NL", "OTH"),
}
EVERYTHING = {routes.module.value: ["SENDER", "RECEIVER"] for routes in FUNCTIONAL} | {
    "hubclientinfo": ["RECEIVER"]
}
TABLES: tuple[type[SQLModel], ...] = (Location, Tariff, Session, Token, Cdr, Command, Callback)
_stamps = itertools.count(1)
_ids = itertools.count(1)


def stamp() -> str:
    """A last_updated newer than every one before it, so no push is stale."""
    moment = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=next(_stamps))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class World:
    hub: HubUnderTest
    peers: dict[Role, StrictPeer]

    def clear(self) -> None:
        for peer in self.peers.values():
            peer.received.clear()

    def received(self) -> dict[Role, list[tuple[str, str]]]:
        return {
            role: [(r.method, r.path) for r in peer.received if "/hubclientinfo/" not in r.path]
            for role, peer in self.peers.items()
            if any("/hubclientinfo/" not in r.path for r in peer.received)
        }


async def snapshot(hub: HubUnderTest) -> dict[str, list[str]]:
    """Every row the hub holds in the tables a request could change."""
    rows: dict[str, list[str]] = {}
    async with hub.hub.db.transaction() as db:
        for table in TABLES:
            found = (await db.execute(select(table))).scalars().all()
            rows[str(table.__tablename__)] = sorted(
                repr(sorted(row.model_dump(mode="json").items())) for row in found
            )
    return rows


@contextlib.asynccontextmanager
async def world() -> AsyncIterator[World]:
    async with contextlib.AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub())
        peers = {
            role: await stack.enter_async_context(
                running_peer(
                    role=role.value,
                    country_code=PARTIES[role][0],
                    party_id=PARTIES[role][1],
                    modules=EVERYTHING,
                )
            )
            for role in ROLES
        }
        await register_all(hub, *peers.values())
        yield World(hub, peers)


@pytest.fixture(scope="module")
async def the_world() -> AsyncIterator[World]:
    async with world() as made:
        yield made


# --- requests an honest sender makes ----------------------------------------------------------
@dataclass(frozen=True)
class Request:
    method: str
    url: str
    body: bytes | None


def fill(pattern: str, sender: Party, ids: dict[str, str]) -> str:
    values = {"country_code": sender[0], "party_id": sender[1], **ids}
    return "/".join(
        quote(values[s[1:-1]], safe="") if s.startswith("{") else s for s in pattern.split("/") if s
    )


def body_of(
    kind: ObjectKind, sender: Party, receiver: Party, ids: dict[str, str], peer: StrictPeer
) -> Any:
    """A valid body of ``kind``, owned by ``sender``, naming ``receiver`` where it names one."""
    results = f"{peer.url}/results/{next(_ids)}"
    full = location(*sender, ids["location_id"], last_updated=stamp())
    evse = {**full["evses"][0], "uid": ids["evse_uid"], "last_updated": stamp()}
    connector = {**evse["connectors"][0], "last_updated": stamp()}
    charging_profile = {
        "charging_rate_unit": "W",
        "charging_profile_period": [{"start_period": 0, "limit": 11000}],
    }
    bodies: dict[ObjectKind, Any] = {
        ObjectKind.LOCATION: full,
        ObjectKind.EVSE: evse,
        ObjectKind.CONNECTOR: connector,
        ObjectKind.LOCATION_PATCH: {"name": "Patched", "last_updated": stamp()},
        ObjectKind.EVSE_PATCH: {"status": "CHARGING", "last_updated": stamp()},
        ObjectKind.CONNECTOR_PATCH: {"max_amperage": 16, "last_updated": stamp()},
        ObjectKind.TARIFF: tariff(*sender, ids["tariff_id"], stamp()),
        ObjectKind.SESSION: charging_session(
            sender, ids["session_id"], receiver, last_updated=stamp()
        ),
        ObjectKind.SESSION_PATCH: {"kwh": 2.5, "last_updated": stamp()},
        ObjectKind.CHARGING_PREFERENCES: {"profile_type": "FAST"},
        ObjectKind.CDR: cdr(sender, f"C{next(_ids)}", receiver, stamp()),
        ObjectKind.TOKEN: token(*sender, ids["token_uid"], stamp()),
        ObjectKind.TOKEN_PATCH: {"valid": False, "last_updated": stamp()},
        ObjectKind.LOCATION_REFERENCES: {"location_id": "L1"},
        ObjectKind.START_SESSION: {
            "response_url": results,
            "token": token(*sender, "T1"),
            "location_id": "L1",
            "evse_uid": "L1-E1",
        },
        ObjectKind.STOP_SESSION: {"response_url": results, "session_id": "S1"},
        ObjectKind.RESERVE_NOW: {
            "response_url": results,
            "token": token(*sender, "T1"),
            "expiry_date": "2099-01-01T00:00:00Z",
            "reservation_id": f"R{next(_ids)}",
            "location_id": "L1",
        },
        ObjectKind.CANCEL_RESERVATION: {"response_url": results, "reservation_id": "R1"},
        ObjectKind.UNLOCK_CONNECTOR: {
            "response_url": results,
            "location_id": "L1",
            "evse_uid": "L1-E1",
            "connector_id": "1",
        },
        ObjectKind.SET_CHARGING_PROFILE: {
            "charging_profile": charging_profile,
            "response_url": results,
        },
        ObjectKind.ACTIVE_CHARGING_PROFILE: {
            "start_date_time": "2026-01-01T00:00:00Z",
            "charging_profile": charging_profile,
        },
    }
    return bodies[kind]


def request_of(
    w: World, routes: ModuleRoutes, operation: Operation, sender: Role, receiver: Party
) -> Request:
    own = PARTIES[sender]
    ids = {
        "location_id": "L1",
        "evse_uid": "L1-E1",
        "connector_id": "1",
        "tariff_id": "T1",
        "session_id": "S1",
        "token_uid": "T1",
    }
    if operation.method in ("PUT", "POST") and operation.store is not None:
        # A new object each time, so that what is stored can be seen to change.
        fresh = f"N{next(_ids)}"
        ids |= {"location_id": fresh, "tariff_id": fresh, "session_id": fresh, "token_uid": fresh}
        if operation.body in (ObjectKind.EVSE, ObjectKind.CONNECTOR):
            ids["location_id"] = "L1"  # a child of a Location the hub holds
            ids["evse_uid"] = fresh if operation.body is ObjectKind.EVSE else "L1-E1"
    path = fill(operation.pattern, own, ids)
    query = ""
    if operation.response_url == "query":
        results = quote(f"{w.peers[sender].url}/results/{next(_ids)}", safe="")
        query = f"?response_url={results}" + ("&duration=900" if operation.method == "GET" else "")
    elif routes.module is ModuleID.TOKENS and operation.method in ("GET", "POST", "PATCH"):
        query = "?type=RFID"
    url = f"{w.hub.endpoint(routes.module, operation.interface.value)}/{path}".rstrip("/") + query
    body = None
    if operation.body is not None:
        body = orjson.dumps(body_of(operation.body, own, receiver, ids, w.peers[sender]))
    return Request(operation.method, url, body)


def routed_operations() -> list[tuple[ModuleRoutes, Operation]]:
    """Every operation a party sends to another through the hub (hub URLs apart)."""
    return [
        (routes, operation)
        for routes in FUNCTIONAL
        for operation in routes.operations
        if not operation.callback
    ]


def cell_id(item: tuple[ModuleRoutes, Operation]) -> str:
    routes, operation = item
    return f"{routes.module}-{operation.interface.path}-{operation.method}-{operation.pattern}"


def first_receiver(routes: ModuleRoutes, operation: Operation) -> Role:
    receivers = use_of(routes.module, operation.interface, operation.method).receivers
    return next(role for role in ROLES if role in receivers)


def first_sender(routes: ModuleRoutes, operation: Operation) -> Role:
    senders = use_of(routes.module, operation.interface, operation.method).senders
    return next(role for role in ROLES if role in senders)


def needs(routes: ModuleRoutes, operation: Operation) -> set[str]:
    """The objects the hub must hold for the operation to store something."""
    if operation.body in (
        ObjectKind.EVSE,
        ObjectKind.CONNECTOR,
        ObjectKind.LOCATION_PATCH,
        ObjectKind.EVSE_PATCH,
        ObjectKind.CONNECTOR_PATCH,
    ):
        return {"location"}
    if routes.module is ModuleID.TARIFFS and operation.method == "DELETE":
        return {"tariff"}
    if operation.body in (ObjectKind.SESSION_PATCH, ObjectKind.CHARGING_PREFERENCES):
        return {"session"}
    if operation.body is ObjectKind.TOKEN_PATCH:
        return {"token"}
    return set()


async def prepare(w: World, wanted: set[str]) -> None:
    """Pushes what ``needs`` names (each with a new last_updated), then forgets the traffic."""
    base = w.hub.endpoint
    emsp, cpo = PARTIES[Role.EMSP], PARTIES[Role.CPO]
    pushes: list[tuple[Role, str, Any, Party]] = []
    if "location" in wanted:
        loc = location(*cpo, "L1", last_updated=stamp())
        pushes.append((Role.CPO, f"{base('locations', 'receiver')}/NL/CPO/L1", loc, emsp))
    if "tariff" in wanted:
        tar = tariff(*cpo, "T1", stamp())
        pushes.append((Role.CPO, f"{base('tariffs', 'receiver')}/NL/CPO/T1", tar, emsp))
    if "session" in wanted:
        ses = charging_session(cpo, "S1", emsp, last_updated=stamp())
        pushes.append((Role.CPO, f"{base('sessions', 'receiver')}/NL/CPO/S1", ses, emsp))
    if "token" in wanted:
        for issuer in (Role.EMSP, Role.OTHER):
            cc, pid = PARTIES[issuer]
            url = f"{base('tokens', 'receiver')}/{cc}/{pid}/T1"
            pushes.append((issuer, url, token(cc, pid, "T1", stamp()), cpo))
    for role, url, body, to in pushes:
        answer = await w.peers[role].call("PUT", url, json=body, to=to)
        assert answer.json()["status_code"] == 1000, answer.text
    await w.hub.settle()
    w.clear()


async def attempt(
    w: World, routes: ModuleRoutes, operation: Operation, sender: Role, receiver: Role
) -> tuple[dict[str, Any], dict[Role, list[tuple[str, str]]], bool]:
    """Sends one request; (answer envelope, what peers received, whether storage changed)."""
    await prepare(w, needs(routes, operation))
    before = await snapshot(w.hub)
    request = request_of(w, routes, operation, sender, PARTIES[receiver])
    answer = await w.peers[sender].call(
        request.method, request.url, to=PARTIES[receiver], content=request.body
    )
    await w.hub.settle()
    changed = await snapshot(w.hub) != before
    return assert_envelope(answer), w.received(), changed


def expected_path(routes: ModuleRoutes, operation: Operation) -> str:
    return f"/{routes.module}/{operation.interface.path}"


@pytest.mark.parametrize("item", routed_operations(), ids=cell_id)
async def test_each_role_may_send_exactly_what_the_matrix_gives_it(
    the_world: World, item: tuple[ModuleRoutes, Operation]
) -> None:
    routes, operation = item
    use = use_of(routes.module, operation.interface, operation.method)
    assert use.senders, "every routed operation has senders in the matrix"
    receiver = first_receiver(routes, operation)
    for sender in ROLES:
        answer, received, changed = await attempt(the_world, routes, operation, sender, receiver)
        if sender in use.senders:
            assert answer["status_code"] == 1000, (sender, answer)
            assert list(received) == [receiver], (sender, received)
            ((method, path),) = received[receiver]
            assert method == operation.method
            assert path.startswith(expected_path(routes, operation)), path
            if operation.store is not None or operation.response_url is not None:
                assert changed, f"{sender}: the allowed request stored nothing"
        else:
            assert answer["status_code"] == 2001, (sender, answer)
            assert "role matrix" in answer["status_message"], answer
            assert received == {}, (sender, received)
            assert not changed, f"{sender}: a refused request changed what the hub holds"


@pytest.mark.parametrize("item", routed_operations(), ids=cell_id)
async def test_each_request_reaches_exactly_the_roles_the_matrix_names(
    the_world: World, item: tuple[ModuleRoutes, Operation]
) -> None:
    routes, operation = item
    use = use_of(routes.module, operation.interface, operation.method)
    sender = first_sender(routes, operation)
    for receiver in ROLES:
        if receiver == sender:
            continue
        answer, received, changed = await attempt(the_world, routes, operation, sender, receiver)
        if receiver in use.receivers:
            assert answer["status_code"] == 1000, (receiver, answer)
            assert list(received) == [receiver], (receiver, received)
        else:
            assert answer["status_code"] == 2001, (receiver, answer)
            assert "role matrix" in answer["status_message"], answer
            assert received == {}, (receiver, received)
            assert not changed, f"to {receiver}: a refused request changed what the hub holds"


BROADCASTS = [(r, o) for r, o in routed_operations() if o.broadcast]


@pytest.mark.parametrize("item", BROADCASTS, ids=cell_id)
async def test_a_broadcast_reaches_exactly_the_roles_that_may_receive_it(
    the_world: World, item: tuple[ModuleRoutes, Operation]
) -> None:
    routes, operation = item
    w = the_world
    use = use_of(routes.module, operation.interface, operation.method)
    for sender in use.senders:
        await prepare(w, needs(routes, operation))
        request = request_of(w, routes, operation, sender, hub_party(w.hub))
        answer = await w.peers[sender].call(
            request.method, request.url, to=hub_party(w.hub), content=request.body
        )
        assert assert_envelope(answer)["status_code"] == 1000, answer.text
        await w.hub.settle()
        assert set(w.received()) == set(use.receivers) - {sender}, (sender, w.received())


@pytest.mark.parametrize(
    ("module", "interface"),
    [(r.module, o.interface) for r in FUNCTIONAL for o in r.operations if o.get_all],
)
async def test_get_all_is_served_to_the_roles_that_read_the_list(
    the_world: World, module: ModuleID, interface: InterfaceRole
) -> None:
    w = the_world
    w.clear()
    use = use_of(module, interface, "GET")
    for role in ROLES:
        answer = await w.peers[role].call(
            "GET", w.hub.endpoint(module, interface.value), to=hub_party(w.hub)
        )
        body = assert_envelope(answer)
        assert body["status_code"] == (1000 if role in use.senders else 2001), (role, body)
    assert w.received() == {}


async def test_a_hub_url_answers_only_the_cpo_it_was_made_for(the_world: World) -> None:
    """A command's response_url and a CDR's Location stand for one CPO's answer."""
    w = the_world
    await prepare(w, set())
    emsp, cpo = w.peers[Role.EMSP], w.peers[Role.CPO]
    commands = w.hub.endpoint("commands", "receiver")
    start = {
        "response_url": f"{emsp.url}/results/start",
        "token": token(*PARTIES[Role.EMSP], "T1"),
        "location_id": "L1",
        "evse_uid": "L1-E1",
    }
    sent = await emsp.call("POST", f"{commands}/START_SESSION", to=PARTIES[Role.CPO], json=start)
    assert sent.json()["status_code"] == 1000, sent.text
    hub_url = cpo.requests("POST", "/commands/receiver/START_SESSION")[0].json()["response_url"]
    emsp.on("POST", "/cdrs/receiver", lambda _: ocpi_with_location(emsp.url))
    posted = await cpo.call(
        "POST",
        w.hub.endpoint("cdrs", "receiver"),
        to=PARTIES[Role.EMSP],
        json=cdr(PARTIES[Role.CPO], "CLOC", PARTIES[Role.EMSP]),
    )
    cdr_url = posted.headers["location"]
    await w.hub.settle()
    w.clear()
    result = orjson.dumps({"result": "ACCEPTED"})
    for role in ROLES:
        if role is Role.CPO:
            continue
        for method, url, body in (("POST", hub_url, result), ("GET", cdr_url, None)):
            answer = await w.peers[role].call(method, url, content=body, to=PARTIES[Role.EMSP])
            assert assert_envelope(answer)["status_code"] == 2001, (role, answer.text)
    assert w.received() == {}
    delivered = await cpo.call("POST", hub_url, content=result)
    fetched = await cpo.call("GET", cdr_url)
    assert delivered.json()["status_code"] == 1000, delivered.text
    assert fetched.json()["status_code"] == 1000, fetched.text
    assert set(w.received()) == {Role.EMSP}


def ocpi_with_location(base: str) -> Response:
    return ocpi(headers={"Location": f"{base}/cdrs/receiver/CLOC"})


def test_the_matrix_covers_every_routed_interface_method_and_nothing_else() -> None:
    declared = {
        (routes.module, operation.interface, operation.method)
        for routes in FUNCTIONAL
        for operation in routes.operations
    }
    assert set(MATRIX) == declared
    for use in MATRIX.values():
        assert use.senders and use.receivers
        assert Role.HUB not in use.senders | use.receivers
        assert not use.senders & use.receivers, "no role sends to its own kind"
