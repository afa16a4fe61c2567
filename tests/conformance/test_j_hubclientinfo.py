"""Conformance checks 51-55 (J. HubClientInfo).

The hub owns one ClientInfo object per registered (or configured) party role. It lists them on
its hubclientinfo Sender interface (pull) and pushes every change to the hubclientinfo Receiver
of each CONNECTED platform (push), without routing headers: hubclientinfo is a configuration
module between a party and the hub (mod_hub_client_info.asciidoc).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from starlette.responses import Response

from ocpi_adapter.credentials import flows
from ocpi_adapter.types import ConnectionStatus
from tests.conformance.support import (
    TIMESTAMP,
    Party,
    assert_envelope,
    exactly,
    location,
    register_all,
    serving_again,
    status_of,
)
from tests.peers.strict.peer import Received, StrictPeer, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub

CLIENT_INFO_FIELDS = {"party_id", "country_code", "role", "status", "last_updated"}
ROLES = {"CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"}
STATUSES = {"CONNECTED", "OFFLINE", "PLANNED", "SUSPENDED"}


# --- helpers ---------------------------------------------------------------------------------
def party_of(peer: StrictPeer) -> Party:
    return peer.country_code, peer.party_id


def pushes(peer: StrictPeer, party: Party) -> list[Received]:
    """The ClientInfo PUTs the peer got for one party."""
    return exactly(peer, "PUT", f"/hubclientinfo/receiver/{party[0]}/{party[1]}")


def statuses(peer: StrictPeer, party: Party) -> list[str]:
    return [r.json()["status"] for r in pushes(peer, party)]


def assert_client_info(info: Any, party: Party, role: str, status: str) -> None:
    assert isinstance(info, dict), info
    assert set(info) == CLIENT_INFO_FIELDS, info
    assert (info["country_code"], info["party_id"]) == party, info
    assert info["role"] == role and info["role"] in ROLES, info
    assert info["status"] == status and info["status"] in STATUSES, info
    assert TIMESTAMP.match(info["last_updated"]), info


def assert_configuration_push(received: Received, peer: StrictPeer) -> None:
    """A ClientInfo PUT: the peer's own token, JSON, trace ids, and no OCPI routing headers."""
    headers = received.headers
    assert headers["authorization"] == peer.auth(peer.token_b)["Authorization"]
    assert headers["content-type"].startswith("application/json")
    assert headers.get("x-request-id") and headers.get("x-correlation-id"), headers
    assert not [h for h in headers if h.startswith("ocpi-")], headers


async def eventually[T](probe: Callable[[], T], what: str, within: float = 20.0) -> T:
    """Polls until ``probe`` returns something truthy; the deadline is generous, not asserted."""
    deadline = time.monotonic() + within
    while not (found := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)
    return found


async def client_infos(peer: StrictPeer, hub: HubUnderTest, query: str = "") -> httpx.Response:
    """GET {hub}/hubclientinfo with the peer's token C and no routing headers."""
    url = f"{hub.details_url}/hubclientinfo"
    return await peer.call("GET", url + (f"?{query}" if query else ""), routing=False)


async def walk(peer: StrictPeer, url: str, total: int) -> list[Any]:
    """Follows the hub's Link headers page by page (one item a page); every item seen."""
    pages: list[Any] = []
    next_url: str | None = url
    base = url.split("?", 1)[0]
    while next_url is not None:
        page = await peer.call("GET", next_url, routing=False)
        body = assert_envelope(page)
        assert body["status_code"] == 1000, page.text
        assert len(body["data"]) == 1
        assert page.headers["x-total-count"] == str(total)
        assert page.headers["x-limit"].isdigit()
        pages.extend(body["data"])
        link = page.headers.get("link")
        if link is None:
            break
        assert link.startswith(f"<{base}?") and link.endswith('>; rel="next"'), link
        next_url = link[1 : link.index(">")]
        assert "offset=" in next_url and "limit=1" in next_url, next_url
    return pages


async def listed(peer: StrictPeer, hub: HubUnderTest) -> dict[tuple[str, str, str], str]:
    """(country_code, party_id, role) -> status, as the hub lists them to the peer."""
    answer = await client_infos(peer, hub)
    body = assert_envelope(answer)
    assert body["status_code"] == 1000, answer.text
    return {(i["country_code"], i["party_id"], i["role"]): i["status"] for i in body["data"]}


# --- 51 --------------------------------------------------------------------------------------
@pytest.mark.conformance(51)
async def test_check51_get_lists_the_other_parties_paginated(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(
            role="EMSP", country_code="DE", party_id="EMA", extra_roles=[("SCSP", "DE", "SCS")]
        ) as emsp,
        running_peer(role="CPO", country_code="BE", party_id="CPS") as leaving,
    ):
        await register_all(hub, cpo, emsp, leaving)
        await hub.onboard("EMSP", "DE", "PLN")  # configured, never registered
        gone = await leaving.call("DELETE", f"{hub.details_url}/credentials", routing=False)
        assert gone.json()["status_code"] == 1000
        await hub.settle()

        answer = await client_infos(cpo, hub)
        assert answer.status_code == 200
        body = assert_envelope(answer)
        assert body["status_code"] == 1000, answer.text
        items = body["data"]
        # Every party but the caller's own, with the status the hub holds for it.
        expected = {
            (("DE", "EMA"), "EMSP"): "CONNECTED",
            (("DE", "SCS"), "SCSP"): "CONNECTED",
            (("BE", "CPS"), "CPO"): "SUSPENDED",
            (("DE", "PLN"), "EMSP"): "PLANNED",
        }
        assert len(items) == len(expected), items
        for info in items:
            key = ((info.get("country_code"), info.get("party_id")), info.get("role"))
            assert key in expected, info
            assert_client_info(info, key[0], key[1], expected[key])
        assert answer.headers["x-total-count"] == str(len(expected))
        assert int(answer.headers["x-limit"]) >= len(expected)
        assert "link" not in answer.headers
        assert not [h for h in answer.headers if h.startswith("ocpi-")]
        # The eMSP platform sees the CPO, not its own two roles.
        seen_by_emsp = await listed(emsp, hub)
        assert ("NL", "CPA", "CPO") in seen_by_emsp
        assert not {k for k in seen_by_emsp if k[1] in ("EMA", "SCS")}

        # Pagination (check 29): limit, offset, Link, X-Total-Count, X-Limit.
        assert await walk(cpo, f"{hub.details_url}/hubclientinfo?limit=1", len(expected)) == items
        tail = assert_envelope(await client_infos(cpo, hub, "offset=2"))["data"]
        assert tail == items[2:]

        # date_from (inclusive) and date_to (exclusive) split the list without overlap.
        for pivot in sorted({i["last_updated"] for i in items}):
            since = assert_envelope(await client_infos(cpo, hub, f"date_from={pivot}"))["data"]
            until = assert_envelope(await client_infos(cpo, hub, f"date_to={pivot}"))["data"]
            assert sorted(map(orjson.dumps, since + until)) == sorted(map(orjson.dumps, items))
            assert next(i for i in items if i["last_updated"] == pivot) in since
        future = assert_envelope(await client_infos(cpo, hub, "date_from=2999-01-01T00:00:00Z"))
        assert future["data"] == []
        past = await client_infos(cpo, hub, "date_to=2000-01-01T00:00:00Z")
        assert assert_envelope(past)["data"] == [] and past.headers["x-total-count"] == "0"


# --- 52 --------------------------------------------------------------------------------------
@pytest.mark.conformance(52)
async def test_check52_registration_is_pushed_as_connected_without_routing_headers(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
        running_peer(
            role="EMSP", country_code="de", party_id="emc", extra_roles=[("NSP", "DE", "NSC")]
        ) as newcomer,
    ):
        await register_all(hub, cpo, emsp)
        cpo.received.clear()
        emsp.received.clear()
        await register_all(hub, newcomer)
        for peer in (cpo, emsp):
            for party, role in ((("DE", "EMC"), "EMSP"), (("DE", "NSC"), "NSP")):
                (pushed,) = pushes(peer, party)
                assert_configuration_push(pushed, peer)
                assert_client_info(pushed.json(), party, role, "CONNECTED")
            assert pushes(peer, party_of(peer)) == []  # nobody is told about itself
        # The newcomer learns about the parties already there.
        for peer, role in ((cpo, "CPO"), (emsp, "EMSP")):
            (welcome,) = pushes(newcomer, party_of(peer))
            assert_configuration_push(welcome, newcomer)
            assert_client_info(welcome.json(), party_of(peer), role, "CONNECTED")
        assert pushes(newcomer, ("DE", "EMC")) == []


@pytest.mark.conformance(52)
async def test_check52_configured_party_is_planned(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="PLN") as planned,
    ):
        await register_all(hub, cpo)
        # What `incar platform add` does: a registration token A, nothing registered yet.
        token_a = await hub.onboard("EMSP", "DE", "PLN")
        assert (await listed(cpo, hub))[("DE", "PLN", "EMSP")] == "PLANNED"
        # A platform registering later is welcomed with the PLANNED party too.
        async with running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp:
            await register_all(hub, emsp)
            (welcome,) = pushes(emsp, ("DE", "PLN"))
            assert_client_info(welcome.json(), ("DE", "PLN"), "EMSP", "PLANNED")
            # Once the configured party registers (with the operator's token A), it is CONNECTED.
            cpo.received.clear()
            emsp.received.clear()
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    f"{hub.details_url}/credentials",
                    headers=planned.auth(token_a),
                    json={
                        "token": planned.token_b,
                        "url": planned.versions_url,
                        "roles": planned.roles(),
                    },
                )
            assert answer.json()["status_code"] == 1000, answer.text
            await hub.settle()
            for peer in (cpo, emsp):
                assert statuses(peer, ("DE", "PLN")) == ["CONNECTED"]
        assert (await listed(cpo, hub))[("DE", "PLN", "EMSP")] == "CONNECTED"


@pytest.mark.conformance(52)
async def test_check52_unregister_is_pushed_as_suspended_and_never_deleted(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
        running_peer(role="EMSP", country_code="DE", party_id="EMC") as leaving,
    ):
        await register_all(hub, cpo, emsp, leaving)
        connected = pushes(cpo, ("DE", "EMC"))[-1].json()
        leaving.received.clear()
        gone = await leaving.call("DELETE", f"{hub.details_url}/credentials", routing=False)
        assert gone.json()["status_code"] == 1000
        await hub.settle()
        for peer in (cpo, emsp):
            assert statuses(peer, ("DE", "EMC")) == ["CONNECTED", "SUSPENDED"]
            suspended = pushes(peer, ("DE", "EMC"))[-1]
            assert_configuration_push(suspended, peer)
            assert_client_info(suspended.json(), ("DE", "EMC"), "EMSP", "SUSPENDED")
            assert suspended.json()["last_updated"] >= connected["last_updated"]
            # The object stays: listed as SUSPENDED, never DELETEd at the receivers.
            assert (await listed(peer, hub))[("DE", "EMC", "EMSP")] == "SUSPENDED"
            assert [r for r in peer.received if r.method == "DELETE"] == []
        assert leaving.received == []  # the hub stops all communication with it


@pytest.mark.conformance(52)
async def test_check52_unreachable_party_is_pushed_as_offline(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, emsp)
        async with running_peer(role="EMSP", country_code="DE", party_id="EMG") as gone:
            await register_all(hub, gone)
        # Its server is down: the hub cannot deliver the CPO's push.
        answer = await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
            to=("DE", "EMG"),
            json=location("NL", "CPA", "L1"),
        )
        assert assert_envelope(answer)["status_code"] != 1000
        await hub.settle()
        assert await status_of(hub, ("DE", "EMG")) is ConnectionStatus.OFFLINE
        for peer in (cpo, emsp):
            assert statuses(peer, ("DE", "EMG")) == ["CONNECTED", "OFFLINE"]
            offline = pushes(peer, ("DE", "EMG"))[-1]
            assert_configuration_push(offline, peer)
            assert_client_info(offline.json(), ("DE", "EMG"), "EMSP", "OFFLINE")
            assert (await listed(peer, hub))[("DE", "EMG", "EMSP")] == "OFFLINE"


# --- 53 --------------------------------------------------------------------------------------
@pytest.mark.conformance(53)
async def test_check53_still_alive_pings_silent_parties_and_pushes_changes() -> None:
    async with (
        running_hub(still_alive_interval=1.0, still_alive_check_period=0.2) as hub,
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, emsp)
        cpo.received.clear()
        # A silent party gets GET versions, with its own token and no routing headers.
        ping = (await eventually(lambda: exactly(cpo, "GET", "/versions"), "a still-alive GET"))[0]
        assert ping.headers["authorization"] == cpo.auth(cpo.token_b)["Authorization"]
        assert not [h for h in ping.headers if h.startswith("ocpi-")]
        assert await status_of(hub, ("NL", "CPA")) is ConnectionStatus.CONNECTED
        assert statuses(emsp, ("NL", "CPA")) == ["CONNECTED"]

        # Its versions endpoint fails: OFFLINE, pushed to the others.
        cpo.on("GET", "/versions", lambda _: Response(b"unavailable", status_code=503))
        await eventually(
            lambda: "OFFLINE" in statuses(emsp, ("NL", "CPA")), "OFFLINE pushed to the eMSP"
        )
        assert await status_of(hub, ("NL", "CPA")) is ConnectionStatus.OFFLINE
        (offline,) = [r for r in pushes(emsp, ("NL", "CPA")) if r.json()["status"] == "OFFLINE"]
        assert_configuration_push(offline, emsp)
        assert_client_info(offline.json(), ("NL", "CPA"), "CPO", "OFFLINE")
        assert await status_of(hub, ("DE", "EMA")) is ConnectionStatus.CONNECTED

        # It answers again: CONNECTED, pushed to the others.
        cpo.handlers.clear()
        await eventually(
            lambda: statuses(emsp, ("NL", "CPA"))[-1] == "CONNECTED",
            "CONNECTED pushed to the eMSP after recovery",
        )
        assert statuses(emsp, ("NL", "CPA")) == ["CONNECTED", "OFFLINE", "CONNECTED"]
        assert await status_of(hub, ("NL", "CPA")) is ConnectionStatus.CONNECTED
        assert (await listed(emsp, hub))[("NL", "CPA", "CPO")] == "CONNECTED"


@pytest.mark.conformance(53)
async def test_check53_a_party_that_went_away_is_offline_until_it_answers_again() -> None:
    async with (
        running_hub(still_alive_interval=1.0, still_alive_check_period=0.2) as hub,
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
    ):
        async with running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp:
            await register_all(hub, cpo, emsp)
        # The eMSP's server is down: connections to it are refused.
        await eventually(
            lambda: "OFFLINE" in statuses(cpo, ("DE", "EMA")), "OFFLINE pushed to the CPO"
        )
        assert await status_of(hub, ("DE", "EMA")) is ConnectionStatus.OFFLINE
        refused = await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
            to=("DE", "EMA"),
            json=location("NL", "CPA", "L1"),
        )
        assert refused.json()["status_code"] != 1000
        emsp.received.clear()
        async with serving_again(emsp):
            await eventually(
                lambda: statuses(cpo, ("DE", "EMA"))[-1] == "CONNECTED", "CONNECTED after recovery"
            )
            assert exactly(emsp, "GET", "/versions")
            assert await status_of(hub, ("DE", "EMA")) is ConnectionStatus.CONNECTED
            answer = await cpo.call(
                "PUT",
                hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
                to=("DE", "EMA"),
                json=location("NL", "CPA", "L1"),
            )
            assert answer.json()["status_code"] == 1000, answer.text
            await hub.settle()
        assert statuses(cpo, ("DE", "EMA")) == ["CONNECTED", "OFFLINE", "CONNECTED"]


# --- 54 --------------------------------------------------------------------------------------
def assert_only_hub(hub: HubUnderTest, credentials: Any) -> None:
    roles = credentials["roles"]
    assert len(roles) == 1, roles
    (role,) = roles
    assert role["role"] == "HUB"
    assert (role["country_code"], role["party_id"]) == (
        hub.party.country_code,
        hub.party.party_id,
    )
    assert role["business_details"]["name"]


@pytest.mark.conformance(54)
async def test_check54_hub_credentials_list_only_the_hub(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(
            role="EMSP", country_code="DE", party_id="EMA", extra_roles=[("NSP", "DE", "NSP")]
        ) as emsp,
        running_peer(role="CPO", country_code="BE", party_id="SND") as peer,
    ):
        answers = [await cpo.register(hub), await emsp.register(hub)]
        await hub.settle()
        for each in answers:
            assert_only_hub(hub, each)
        async with httpx.AsyncClient() as client:
            for caller in (cpo, emsp):
                got = await client.get(f"{hub.details_url}/credentials", headers=caller.auth())
                assert got.json()["status_code"] == 1000
                assert_only_hub(hub, got.json()["data"])
            updated = await client.put(
                f"{hub.details_url}/credentials",
                headers=cpo.auth(),
                json={"token": cpo.token_b, "url": cpo.versions_url, "roles": cpo.roles()},
            )
        assert updated.json()["status_code"] == 1000, updated.text
        assert_only_hub(hub, updated.json()["data"])
        # The hub registering itself at a peer (hub as Sender) also presents only itself.
        peer.token_b = "peer-token-a"

        def register(received: Received) -> Response:
            peer.token_b = "peer-token-c"
            return ocpi({"token": "peer-token-c", "url": peer.versions_url, "roles": peer.roles()})

        peer.on("POST", "/credentials", register)
        await flows.connect(hub.hub, versions_url=peer.versions_url, token_a="peer-token-a")
        (posted,) = peer.requests("POST", "/credentials")
        assert_only_hub(hub, posted.json())
        await hub.settle()


# --- 55 --------------------------------------------------------------------------------------
@pytest.mark.conformance(55)
async def test_check55_peer_without_hubclientinfo_receiver_is_skipped(
    hub: HubUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    lacking = {"locations": ["RECEIVER"], "tokens": ["SENDER"], "tariffs": ["RECEIVER"]}
    sender_only = {**lacking, "hubclientinfo": ["SENDER"]}
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMN", modules=lacking) as none,
        running_peer(
            role="EMSP", country_code="DE", party_id="EMS", modules=sender_only
        ) as wrong_side,
        running_peer(role="EMSP", country_code="DE", party_id="EMC") as newcomer,
    ):
        caplog.set_level(logging.INFO, logger="incar.hub")
        await register_all(hub, cpo, none, wrong_side, newcomer)
        gone = await newcomer.call("DELETE", f"{hub.details_url}/credentials", routing=False)
        assert gone.json()["status_code"] == 1000
        await hub.settle()
        # The others still get every push.
        assert statuses(cpo, ("DE", "EMN")) == ["CONNECTED"]
        assert statuses(cpo, ("DE", "EMS")) == ["CONNECTED"]
        assert statuses(cpo, ("DE", "EMC")) == ["CONNECTED", "SUSPENDED"]
        for skipped in (none, wrong_side):
            # Nothing guessed: no request other than the registration's GETs.
            assert [r for r in skipped.received if r.method != "GET"] == [], skipped.party_id
            assert not [r for r in skipped.received if "clientinfo" in r.path]
            assert await status_of(hub, party_of(skipped)) is ConnectionStatus.CONNECTED
            # They can still pull the list.
            assert (await listed(skipped, hub))[("DE", "EMC", "EMSP")] == "SUSPENDED"
        problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert problems == [], [r.getMessage() for r in problems]
