"""Conformance checks 38-40 (G. Open routing and GET All).

docs/policies.md (Routing): without OCPI-to a list GET is GET All; any other request goes to the
single party an owner in the request names: the eMSP of a cdr_token, the eMSP of the sending
CPO's own Session, the CPO of the requester's own reservation, the party a hub response_url
stands for. An id alone (a Location id, a token uid, another party's session id) names no
owner, since OCPI ids are unique per owner only: 4001, nothing forwarded (a push on a module
that allows broadcast is broadcast instead). GET All shows every Location, Tariff and Token to
the roles that read them, and Sessions and CDRs to their own parties only. Stored objects keep
the owner's JSON, ``last_updated`` included, byte for byte.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from starlette.responses import Response

from tests.conformance.support import (
    Party,
    addressed,
    assert_envelope,
    cdr,
    charging_session,
    get_all,
    hub_party,
    location,
    register_all,
    tariff,
    token,
)
from tests.peers.strict.peer import Received, StrictPeer, envelope, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub

CPO_A: Party = ("NL", "CPA")
CPO_B: Party = ("NL", "CPB")
EMSP_X: Party = ("DE", "EMX")
EMSP_Y: Party = ("DE", "EMY")


@dataclass
class Net:
    a: StrictPeer
    b: StrictPeer
    x: StrictPeer
    y: StrictPeer

    @property
    def peers(self) -> list[StrictPeer]:
        return [self.a, self.b, self.x, self.y]

    def clear(self) -> None:
        for peer in self.peers:
            peer.received.clear()


@contextlib.asynccontextmanager
async def net(hub: HubUnderTest) -> AsyncIterator[Net]:
    """Two strict CPOs and two strict eMSPs, registered and CONNECTED."""
    async with (
        running_peer(role="CPO", country_code=CPO_A[0], party_id=CPO_A[1]) as a,
        running_peer(role="CPO", country_code=CPO_B[0], party_id=CPO_B[1]) as b,
        running_peer(role="EMSP", country_code=EMSP_X[0], party_id=EMSP_X[1]) as x,
        running_peer(role="EMSP", country_code=EMSP_Y[0], party_id=EMSP_Y[1]) as y,
    ):
        await register_all(hub, a, b, x, y)
        network = Net(a, b, x, y)
        network.clear()
        yield network


def party(peer: StrictPeer) -> Party:
    return peer.country_code, peer.party_id


async def accepted(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body = assert_envelope(answer)
    assert body["status_code"] == 1000, answer.text
    return body


async def publish(
    peer: StrictPeer, hub: HubUnderTest, module: str, path: str, body: Any, *, to: Party | None
) -> None:
    """A push through the hub (broadcast when ``to`` is the hub) that the hub stores."""
    answer = await peer.call("PUT", f"{hub.endpoint(module, 'receiver')}/{path}", to=to, json=body)
    await accepted(answer)
    await hub.settle()


async def publish_location(peer: StrictPeer, hub: HubUnderTest, location_id: str) -> None:
    cc, pid = party(peer)
    await publish(
        peer,
        hub,
        "locations",
        f"{cc}/{pid}/{location_id}",
        location(cc, pid, location_id),
        to=peer.hub_party,
    )


async def publish_token(peer: StrictPeer, hub: HubUnderTest, uid: str) -> None:
    cc, pid = party(peer)
    await publish(peer, hub, "tokens", f"{cc}/{pid}/{uid}", token(cc, pid, uid), to=peer.hub_party)


async def publish_session(
    cpo: StrictPeer, hub: HubUnderTest, session_id: str, emsp: Party, **changes: Any
) -> None:
    cc, pid = party(cpo)
    await publish(
        cpo,
        hub,
        "sessions",
        f"{cc}/{pid}/{session_id}",
        charging_session((cc, pid), session_id, emsp, **changes),
        to=emsp,
    )


def routed(answer: httpx.Response, receiver: StrictPeer, sender: StrictPeer) -> None:
    """Relayed from the party the hub chose: FROM = that receiver, TO = the requester."""
    assert answer.status_code == 200, answer.text
    assert assert_envelope(answer)["status_code"] == 1000, answer.text
    assert addressed(answer) == (party(receiver), party(sender))


def only(network: Net, receiver: StrictPeer | None, method: str, prefix: str) -> list[Received]:
    """The requests that reached ``receiver``; no other peer got one (no fan-out, no guess)."""
    for peer in network.peers:
        if peer is not receiver:
            assert peer.requests(method, prefix) == [], (peer.party_id, method, prefix)
    return receiver.requests(method, prefix) if receiver is not None else []


def unknown_receiver(answer: httpx.Response, hub: HubUnderTest, sender: StrictPeer) -> None:
    assert answer.status_code == 200, answer.text
    assert assert_envelope(answer)["status_code"] == 4001, (answer.request.url, answer.text)
    assert addressed(answer) == (hub_party(hub), party(sender))


def unlock(emsp: StrictPeer, location_id: str) -> dict[str, Any]:
    return {
        "response_url": f"{emsp.url}/commands/sender/results/u-{location_id}",
        "location_id": location_id,
        "evse_uid": f"{location_id}-E1",
        "connector_id": "1",
    }


def reserve(emsp: StrictPeer, reservation_id: str, location_id: str) -> dict[str, Any]:
    return {
        "response_url": f"{emsp.url}/commands/sender/results/r-{reservation_id}",
        "token": token(*party(emsp), "T1"),
        "expiry_date": "2099-01-01T00:00:00Z",
        "reservation_id": reservation_id,
        "location_id": location_id,
    }


def cancel(emsp: StrictPeer, reservation_id: str) -> dict[str, Any]:
    return {
        "response_url": f"{emsp.url}/commands/sender/results/c-{reservation_id}",
        "reservation_id": reservation_id,
    }


def stop(emsp: StrictPeer, session_id: str) -> dict[str, Any]:
    return {
        "response_url": f"{emsp.url}/commands/sender/results/s-{session_id}",
        "session_id": session_id,
    }


PROFILE = {
    "charging_profile": {
        "charging_rate_unit": "W",
        "charging_profile_period": [{"start_period": 0, "limit": 11000}],
    },
    "response_url": "",
}
ACTIVE_PROFILE = {
    "start_date_time": "2026-01-01T00:00:00Z",
    "charging_profile": {
        "charging_rate_unit": "W",
        "charging_profile_period": [{"start_period": 0, "limit": 11000}],
    },
}


# --- 38: open routing ------------------------------------------------------------------------
def requests_by_id(n: Net, hub: HubUnderTest) -> list[tuple[str, str, Any]]:
    """eMSP X's requests that name an object of CPO A by its id alone (LA, S1)."""
    commands = hub.endpoint("commands", "receiver")
    locations = hub.endpoint("locations", "sender")
    profiles = hub.endpoint("chargingprofiles", "receiver")
    start = {
        "response_url": f"{n.x.url}/commands/sender/results/start",
        "token": token(*EMSP_X, "T1"),
        "location_id": "LA",
        "evse_uid": "LA-E1",
    }
    profile = {**PROFILE, "response_url": f"{n.x.url}/chargingprofiles/sender/results/1"}
    results = f"{n.x.url}/chargingprofiles/sender/results/2"
    return [
        ("GET", f"{locations}/LA", None),
        ("GET", f"{locations}/LA/LA-E1", None),
        ("GET", f"{locations}/LA/LA-E1/1", None),
        ("POST", f"{commands}/START_SESSION", start),
        ("POST", f"{commands}/RESERVE_NOW", reserve(n.x, "R1", "LA")),
        ("POST", f"{commands}/UNLOCK_CONNECTOR", unlock(n.x, "LA")),
        ("POST", f"{commands}/STOP_SESSION", stop(n.x, "S1")),
        ("PUT", f"{hub.endpoint('sessions', 'sender')}/S1/charging_preferences", PREFERENCES),
        ("PUT", f"{profiles}/S1", profile),
        ("GET", f"{profiles}/S1?duration=900&response_url={quote(results, safe='')}", None),
        ("DELETE", f"{profiles}/S1?response_url={quote(results, safe='')}", None),
    ]


PREFERENCES = {"profile_type": "FAST"}


@pytest.mark.conformance(38)
async def test_check38_an_id_alone_names_no_receiver_whatever_the_hub_knows(
    hub: HubUnderTest,
) -> None:
    """Policy: OCPI ids are unique per owner only, so a request that names an object by its id
    alone (a Location id, a session id of another party, a token uid) is not routed by it: 4001,
    set OCPI-to. With OCPI-to it reaches the named owner. Another party that publishes the same
    id can neither divert nor block that traffic: every answer stays the same."""
    async with net(hub) as n:
        await publish_location(n.a, hub, "LA")
        await publish_session(n.a, hub, "S1", EMSP_X)
        await publish_token(n.x, hub, "TX")
        n.clear()
        tokens = hub.endpoint("tokens", "sender")
        for attacked in (False, True):
            if attacked:
                # CPO B publishes LA and S1 (for eMSP X's token), eMSP Y publishes the uid TX.
                await publish_location(n.b, hub, "LA")
                await publish_session(n.b, hub, "S1", EMSP_X)
                await publish_token(n.y, hub, "TX")
                n.clear()
            for method, url, body in requests_by_id(n, hub):
                unknown_receiver(await n.x.call(method, url, json=body), hub, n.x)
            unknown_receiver(await n.a.call("POST", f"{tokens}/TX/authorize?type=RFID"), hub, n.a)
            await hub.settle()
            assert all(peer.received == [] for peer in n.peers), attacked
            # Named in OCPI-to, each reaches its owner, and only its owner.
            n.a.on("PUT", "/sessions/sender/S1", lambda _: ocpi("ACCEPTED"))
            for method, url, body in requests_by_id(n, hub):
                routed(await n.x.call(method, url, json=body, to=CPO_A), n.a, n.x)
            n.x.on(
                "POST",
                "/tokens/sender/TX/authorize",
                lambda _: ocpi({"allowed": "ALLOWED", "token": token(*EMSP_X, "TX")}),
            )
            answer = await n.a.call("POST", f"{tokens}/TX/authorize?type=RFID", to=EMSP_X)
            routed(answer, n.x, n.a)
            await hub.settle()
            assert len(n.a.received) == len(requests_by_id(n, hub)), attacked
            assert [(r.method, r.path) for r in n.x.received] == [
                ("POST", "/tokens/sender/TX/authorize")
            ]
            assert n.b.received == [] and n.y.received == [], attacked
            n.clear()


@pytest.mark.conformance(38)
async def test_check38_a_cpos_request_about_its_own_session_goes_to_the_sessions_emsp(
    hub: HubUnderTest,
) -> None:
    async with net(hub) as n:
        await publish_session(n.a, hub, "S1", EMSP_X)
        await publish_session(n.b, hub, "S2", EMSP_Y)
        n.clear()
        # CPO -> the session's eMSP: Session PATCH, an unsolicited ActiveChargingProfile.
        patch = {"kwh": 2.0, "last_updated": "2026-01-01T00:20:00Z"}
        receiver = hub.endpoint("sessions", "receiver")
        routed(await n.b.call("PATCH", f"{receiver}/NL/CPB/S2", json=patch), n.y, n.b)
        active = hub.endpoint("chargingprofiles", "sender")
        routed(await n.a.call("PUT", f"{active}/S1", json=ACTIVE_PROFILE), n.x, n.a)
        (patched,) = only(n, n.y, "PATCH", "/sessions/receiver/NL/CPB/S2")
        assert patched.json() == patch
        only(n, n.x, "PUT", "/chargingprofiles/sender/S1")


@pytest.mark.conformance(38)
async def test_check38_charging_preferences_come_only_from_the_sessions_emsp(
    hub: HubUnderTest,
) -> None:
    async with net(hub) as n:
        await publish_session(n.a, hub, "S1", EMSP_X)
        n.clear()
        n.a.on("PUT", "/sessions/sender/S1", lambda _: ocpi("ACCEPTED"))
        url = f"{hub.endpoint('sessions', 'sender')}/S1/charging_preferences"
        # Another eMSP, a session the hub does not know, and the eMSP of another CPO's session.
        for sender, to, session_url in ((n.y, CPO_A, url), (n.x, CPO_A, url.replace("S1", "S9"))):
            answer = await sender.call("PUT", session_url, to=to, json=PREFERENCES)
            assert assert_envelope(answer)["status_code"] == 2001, answer.text
            assert "charging preferences" in answer.json()["status_message"]
        refused = await n.x.call("PUT", url, to=CPO_B, json=PREFERENCES)
        assert assert_envelope(refused)["status_code"] == 2001, refused.text
        await hub.settle()
        assert all(peer.received == [] for peer in n.peers)
        routed(await n.x.call("PUT", url, to=CPO_A, json=PREFERENCES), n.a, n.x)
        only(n, n.a, "PUT", "/sessions/sender/S1/charging_preferences")


@pytest.mark.conformance(38)
async def test_check38_session_pushes_and_cdrs_go_to_the_emsp_of_their_cdr_token(
    hub: HubUnderTest,
) -> None:
    async with net(hub) as n:
        sessions = hub.endpoint("sessions", "receiver")
        routed(
            await n.a.call(
                "PUT", f"{sessions}/NL/CPA/S1", json=charging_session(CPO_A, "S1", EMSP_Y)
            ),
            n.y,
            n.a,
        )
        routed(
            await n.b.call("POST", hub.endpoint("cdrs", "receiver"), json=cdr(CPO_B, "C1", EMSP_X)),
            n.x,
            n.b,
        )
        only(n, n.y, "PUT", "/sessions/receiver/NL/CPA/S1")
        only(n, n.x, "POST", "/cdrs/receiver")
        n.clear()
        # A cdr_token naming a party the hub does not know: 4001, nothing forwarded, no broadcast.
        stranger = ("FR", "ZZZ")
        unknown_receiver(
            await n.a.call(
                "PUT", f"{sessions}/NL/CPA/S3", json=charging_session(CPO_A, "S3", stranger)
            ),
            hub,
            n.a,
        )
        unknown_receiver(
            await n.a.call(
                "POST", hub.endpoint("cdrs", "receiver"), json=cdr(CPO_A, "C3", stranger)
            ),
            hub,
            n.a,
        )
        await hub.settle()
        assert all(peer.received == [] for peer in n.peers)


@pytest.mark.conformance(38)
async def test_check38_cancel_reservation_goes_to_the_cpo_that_got_the_reservation(
    hub: HubUnderTest,
) -> None:
    async with net(hub) as n:
        commands = hub.endpoint("commands", "receiver")
        await accepted(
            await n.x.call(
                "POST", f"{commands}/RESERVE_NOW", to=CPO_B, json=reserve(n.x, "R7", "LB")
            )
        )
        n.clear()
        # Another eMSP's reservation with the same id, at another CPO, changes nothing:
        # reservation ids are the eMSP's own.
        await accepted(
            await n.y.call(
                "POST", f"{commands}/RESERVE_NOW", to=CPO_A, json=reserve(n.y, "R7", "LA")
            )
        )
        n.clear()
        routed(
            await n.x.call("POST", f"{commands}/CANCEL_RESERVATION", json=cancel(n.x, "r7")),
            n.b,
            n.x,
        )
        (forwarded,) = only(n, n.b, "POST", "/commands/receiver/CANCEL_RESERVATION")
        assert forwarded.json()["reservation_id"] == "r7"


@pytest.mark.conformance(38)
async def test_check38_a_hub_response_url_leads_to_the_party_it_stands_for(
    hub: HubUnderTest,
) -> None:
    async with net(hub) as n:
        await publish_location(n.a, hub, "LA")
        n.clear()
        commands = hub.endpoint("commands", "receiver")
        routed(
            await n.y.call(
                "POST", f"{commands}/UNLOCK_CONNECTOR", to=CPO_A, json=unlock(n.y, "LA")
            ),
            n.a,
            n.y,
        )
        (forwarded,) = n.a.requests("POST", "/commands/receiver/UNLOCK_CONNECTOR")
        # The CPO answers through the hub URL without any routing headers: the mapping decides.
        result = await n.a.call(
            "POST", forwarded.json()["response_url"], json={"result": "ACCEPTED"}, routing=False
        )
        routed(result, n.y, n.a)
        (delivered,) = only(n, n.y, "POST", "/commands/sender/results/u-LA")
        assert (
            delivered.headers["ocpi-from-country-code"],
            delivered.headers["ocpi-from-party-id"],
        ) == CPO_A
        assert (
            delivered.headers["ocpi-to-country-code"],
            delivered.headers["ocpi-to-party-id"],
        ) == EMSP_Y


@pytest.mark.conformance(38)
async def test_check38_no_determinable_receiver_is_4001_and_nothing_is_forwarded(
    hub: HubUnderTest,
) -> None:
    async with net(hub) as n:
        await publish_location(n.a, hub, "LA")
        await publish_session(n.a, hub, "S1", EMSP_X)
        n.clear()
        commands = hub.endpoint("commands", "receiver")
        attempts: list[tuple[StrictPeer, str, str, Any]] = [
            (n.x, "GET", hub.endpoint("locations", "sender") + "/NOPE", None),
            (n.x, "GET", hub.endpoint("locations", "sender") + "/NOPE/NOPE-E1/1", None),
            (n.x, "POST", f"{commands}/UNLOCK_CONNECTOR", unlock(n.x, "NOPE")),
            (n.x, "POST", f"{commands}/STOP_SESSION", stop(n.x, "NOPE")),
            (n.x, "POST", f"{commands}/CANCEL_RESERVATION", cancel(n.x, "NOPE")),
            (
                n.x,
                "PUT",
                hub.endpoint("sessions", "sender") + "/NOPE/charging_preferences",
                {"profile_type": "FAST"},
            ),
            (n.a, "POST", hub.endpoint("tokens", "sender") + "/NOPE/authorize?type=RFID", None),
            (
                n.a,
                "PATCH",
                hub.endpoint("sessions", "receiver") + "/NL/CPA/NOPE",
                {"kwh": 1.0, "last_updated": "2026-01-01T00:20:00Z"},
            ),
            (n.b, "PUT", hub.endpoint("chargingprofiles", "sender") + "/S1", ACTIVE_PROFILE),
            # A client-owned object's URL names its owner, who is the sender itself.
            (n.a, "GET", hub.endpoint("locations", "receiver") + "/NL/CPA/LA", None),
            (n.x, "GET", hub.endpoint("tokens", "receiver") + "/DE/EMX/T1?type=RFID", None),
            (n.a, "GET", hub.endpoint("sessions", "receiver") + "/NL/CPA/S1", None),
        ]
        for sender, method, url, body in attempts:
            answer = await sender.call(method, url, json=body)
            unknown_receiver(answer, hub, sender)
        await hub.settle()
        assert all(peer.received == [] for peer in n.peers), [
            (p.party_id, [(r.method, r.path) for r in p.received]) for p in n.peers
        ]
        # A push on a module that allows broadcast is broadcast instead (FROM = hub).
        cc, pid = EMSP_X
        pushed = await n.x.call(
            "PUT", f"{hub.endpoint('tokens', 'receiver')}/{cc}/{pid}/T9", json=token(cc, pid, "T9")
        )
        await accepted(pushed)
        assert addressed(pushed) == (hub_party(hub), EMSP_X)
        await hub.settle()
        for cpo in (n.a, n.b):
            assert len(cpo.requests("PUT", "/tokens/receiver/DE/EMX/T9")) == 1


@pytest.mark.conformance(38)
async def test_check38_several_candidates_is_4001_the_hub_never_guesses(hub: HubUnderTest) -> None:
    """The one open route with an id: the requester's own reservation. eMSP X reserved R1 at
    two CPOs: its CANCEL_RESERVATION without OCPI-to cannot be routed."""
    async with net(hub) as n:
        commands = hub.endpoint("commands", "receiver")
        for cpo in (CPO_A, CPO_B):
            await accepted(
                await n.x.call(
                    "POST", f"{commands}/RESERVE_NOW", to=cpo, json=reserve(n.x, "R1", "L1")
                )
            )
        await hub.settle()
        n.clear()
        answer = await n.x.call("POST", f"{commands}/CANCEL_RESERVATION", json=cancel(n.x, "R1"))
        unknown_receiver(answer, hub, n.x)
        assert "2 CPOs" in answer.json()["status_message"], answer.text
        await hub.settle()
        assert all(peer.received == [] for peer in n.peers)


@pytest.mark.conformance(38)
async def test_check38_a_sessions_own_url_and_parties_decide_not_its_bare_id(
    hub: HubUnderTest,
) -> None:
    """Session ids are unique per CPO only: S1 at CPO A (eMSP X) and at CPO B (eMSP Y)."""
    async with net(hub) as n:
        await publish_session(n.a, hub, "S1", EMSP_X)
        await publish_session(n.b, hub, "S1", EMSP_Y)
        n.clear()
        # The URL /NL/CPB/S1 names CPO B's session, whose eMSP is Y.
        patch = {"kwh": 3.0, "last_updated": "2026-01-01T00:30:00Z"}
        routed(
            await n.b.call(
                "PATCH", hub.endpoint("sessions", "receiver") + "/NL/CPB/S1", json=patch
            ),
            n.y,
            n.b,
        )
        only(n, n.y, "PATCH", "/sessions/receiver/NL/CPB/S1")
        n.clear()
        # A CPO's ActiveChargingProfile is about its own session; "s1" is the same id.
        routed(
            await n.a.call(
                "PUT", hub.endpoint("chargingprofiles", "sender") + "/s1", json=ACTIVE_PROFILE
            ),
            n.x,
            n.a,
        )
        only(n, n.x, "PUT", "/chargingprofiles/sender/s1")


# --- 39: GET All ----------------------------------------------------------------------------
@pytest.mark.conformance(39)
async def test_check39_get_all_lists_every_owners_objects_with_and_without_to() -> None:
    async with running_hub(page_limit=2) as hub, net(hub) as n:
        for cpo in (n.a, n.b):
            cc, pid = party(cpo)
            for location_id in ("L1", "L2"):
                await publish_location(cpo, hub, f"{pid}-{location_id}")
            await publish(
                cpo, hub, "tariffs", f"{cc}/{pid}/T1", tariff(cc, pid, "T1"), to=cpo.hub_party
            )
        for emsp in (n.x, n.y):
            await publish_token(emsp, hub, f"{emsp.party_id}-1")
            await publish_token(emsp, hub, f"{emsp.party_id}-2")
        n.clear()
        expected = {
            "locations": ["CPA-L1", "CPA-L2", "CPB-L1", "CPB-L2"],
            "tariffs": ["T1", "T1"],
            "tokens": ["EMX-1", "EMX-2", "EMY-1", "EMY-2"],
        }
        owners = {
            "locations": [CPO_A, CPO_A, CPO_B, CPO_B],
            "tariffs": [CPO_A, CPO_B],
            "tokens": [EMSP_X, EMSP_X, EMSP_Y, EMSP_Y],
        }
        # Locations and tariffs are read by eMSPs, tokens by CPOs (the role matrix); the other
        # role is refused.
        readers = {"locations": (n.x, n.a), "tariffs": (n.y, n.b), "tokens": (n.a, n.x)}
        for module, wanted in expected.items():
            reader, refused = readers[module]
            answer = await refused.call("GET", hub.endpoint(module, "sender"), to=None)
            assert assert_envelope(answer)["status_code"] == 2001, answer.text
            for requester in (reader,):
                for to in (requester.hub_party, None):
                    items, totals = await get_all(requester, hub.endpoint(module, "sender"), to)
                    key = "uid" if module == "tokens" else "id"
                    assert [i[key] for i in items] == wanted, (module, to)
                    assert [(i["country_code"], i["party_id"]) for i in items] == owners[module]
                    assert set(totals) == {str(len(wanted))}
                    assert len(totals) == (len(wanted) + 1) // 2  # pages of at most 2
                    first = await requester.call("GET", hub.endpoint(module, "sender"), to=to)
                    assert addressed(first) == (hub_party(hub), party(requester))
                    assert first.headers["x-limit"] == "2"
        # GET All is served by the hub: no peer was asked.
        assert all(peer.received == [] for peer in n.peers)


@pytest.mark.conformance(39)
async def test_check39_sessions_and_cdrs_are_listed_only_to_their_cpo_and_emsp(
    hub: HubUnderTest,
) -> None:
    async with net(hub) as n:
        pushes = [(n.a, "A1", EMSP_X), (n.a, "A2", EMSP_Y), (n.b, "B1", EMSP_X)]
        for cpo, object_id, emsp in pushes:
            cc, pid = party(cpo)
            await publish_session(cpo, hub, object_id, emsp)
            posted = await cpo.call(
                "POST",
                hub.endpoint("cdrs", "receiver"),
                to=emsp,
                json=cdr((cc, pid), object_id, emsp),
            )
            await accepted(posted)
        n.clear()
        # Each eMSP sees its customers' sessions and CDRs; CPOs do not read these lists.
        visible = {"EMX": ["A1", "B1"], "EMY": ["A2"]}
        for module in ("sessions", "cdrs"):
            for cpo in (n.a, n.b):
                answer = await cpo.call("GET", hub.endpoint(module, "sender"), to=cpo.hub_party)
                assert assert_envelope(answer)["status_code"] == 2001, answer.text
            for peer in (n.x, n.y):
                for to in (peer.hub_party, None):
                    items, totals = await get_all(peer, hub.endpoint(module, "sender"), to)
                    assert [i["id"] for i in items] == visible[peer.party_id], (
                        module,
                        peer.party_id,
                    )
                    assert totals == [str(len(visible[peer.party_id]))]
        assert all(peer.received == [] for peer in n.peers)


# --- 40: last_updated as the owner sent it ---------------------------------------------------
ODD_STAMPS = {
    "location": "2026-01-01T10:00:00",  # no zone: UTC by the spec
    "evse": "2026-01-01T09:00:00.5Z",
    "connector": "2026-01-01T08:00:00.1234Z",
    "tariff": "2026-01-02T00:00:00.000Z",
    "token": "2026-01-03T00:00:00.1234",
    "session": "2026-01-04T00:00:00.010Z",
    "cdr": "2026-01-05T00:00:00",
}


@pytest.mark.conformance(40)
async def test_check40_get_all_serves_the_owners_last_updated_byte_for_byte(
    hub: HubUnderTest,
) -> None:
    async with net(hub) as n:
        loc = location(*CPO_A, "L1", last_updated=ODD_STAMPS["location"])
        loc["evses"][0]["last_updated"] = ODD_STAMPS["evse"]
        loc["evses"][0]["connectors"][0]["last_updated"] = ODD_STAMPS["connector"]
        objects: dict[str, tuple[StrictPeer, str, str, Any, Party | None]] = {
            "locations": (n.a, "PUT", "/NL/CPA/L1", loc, n.a.hub_party),
            "tariffs": (
                n.a,
                "PUT",
                "/NL/CPA/T1",
                tariff(*CPO_A, "T1", ODD_STAMPS["tariff"]),
                n.a.hub_party,
            ),
            "tokens": (
                n.x,
                "PUT",
                "/DE/EMX/U1",
                token(*EMSP_X, "U1", ODD_STAMPS["token"]),
                n.x.hub_party,
            ),
            "sessions": (
                n.a,
                "PUT",
                "/NL/CPA/S1",
                charging_session(CPO_A, "S1", EMSP_X, last_updated=ODD_STAMPS["session"]),
                EMSP_X,
            ),
            "cdrs": (n.a, "POST", "", cdr(CPO_A, "C1", EMSP_X, ODD_STAMPS["cdr"]), EMSP_X),
        }
        sent: dict[str, bytes] = {}
        for module, (peer, method, path, body, to) in objects.items():
            sent[module] = orjson.dumps(body)
            answer = await peer.call(
                method, hub.endpoint(module, "receiver") + path, to=to, content=sent[module]
            )
            await accepted(answer)
        await hub.settle()
        for module, raw in sent.items():
            reader = n.a if module == "tokens" else n.x  # tokens are read by CPOs
            answer = await reader.call("GET", hub.endpoint(module, "sender"), to=reader.hub_party)
            (item,) = (await accepted(answer))["data"]
            assert item == orjson.loads(raw), module
            # The object exactly as the owner sent it, byte for byte, inside the list.
            assert raw in answer.content, module
        # What the receivers got is what the owner sent (fan-out and party to party).
        assert n.x.requests("PUT", "/locations/receiver/NL/CPA/L1")[0].body == sent["locations"]
        assert n.x.requests("PUT", "/sessions/receiver/NL/CPA/S1")[0].body == sent["sessions"]
        assert n.x.requests("POST", "/cdrs/receiver")[0].body == sent["cdrs"]


@pytest.mark.conformance(40)
async def test_check40_child_pushes_and_patches_keep_the_owners_values(hub: HubUnderTest) -> None:
    async with net(hub) as n:
        receiver = hub.endpoint("locations", "receiver") + "/NL/CPA/L1"
        await accepted(
            await n.a.call("PUT", receiver, to=n.a.hub_party, json=location(*CPO_A, "L1"))
        )
        evse = {**location(*CPO_A, "L1")["evses"][0], "last_updated": "2026-02-01T00:00:00.7"}
        await accepted(await n.a.call("PUT", f"{receiver}/L1-E1", to=n.a.hub_party, json=evse))
        connector_patch = {"max_amperage": 16, "last_updated": "2026-02-02T00:00:00.25Z"}
        await accepted(
            await n.a.call("PATCH", f"{receiver}/L1-E1/1", to=n.a.hub_party, json=connector_patch)
        )
        token_patch = {"valid": False, "last_updated": "2026-02-03T00:00:00"}
        tokens = hub.endpoint("tokens", "receiver") + "/DE/EMX/U1"
        await accepted(await n.x.call("PUT", tokens, to=n.x.hub_party, json=token(*EMSP_X, "U1")))
        await accepted(
            await n.x.call("PATCH", f"{tokens}?type=RFID", to=n.x.hub_party, json=token_patch)
        )
        await hub.settle()
        (stored,) = (
            await accepted(
                await n.x.call("GET", hub.endpoint("locations", "sender"), to=n.x.hub_party)
            )
        )["data"]
        # The parents take the child's last_updated exactly as the owner wrote it.
        assert stored["last_updated"] == "2026-02-02T00:00:00.25Z"
        assert stored["evses"][0]["last_updated"] == "2026-02-02T00:00:00.25Z"
        assert stored["evses"][0]["connectors"][0]["last_updated"] == "2026-02-02T00:00:00.25Z"
        assert stored["evses"][0]["connectors"][0]["max_amperage"] == 16
        (stored_token,) = (
            await accepted(
                await n.a.call("GET", hub.endpoint("tokens", "sender"), to=n.a.hub_party)
            )
        )["data"]
        assert stored_token == {**token(*EMSP_X, "U1"), **token_patch}
        # Filtering uses the same instants: the zone-less stamp is UTC.
        exact = await n.a.call(
            "GET",
            hub.endpoint("tokens", "sender") + "?date_from=2026-02-03T00:00:00Z",
            to=n.a.hub_party,
        )
        assert len((await accepted(exact))["data"]) == 1
        later = await n.a.call(
            "GET",
            hub.endpoint("tokens", "sender") + "?date_from=2026-02-03T00:00:00.001Z",
            to=n.a.hub_party,
        )
        assert (await accepted(later))["data"] == []


@pytest.mark.conformance(40)
async def test_check40_forwarded_objects_keep_the_owners_bytes(hub: HubUnderTest) -> None:
    raw = (
        b'{ "status_code": 1000, "timestamp": "2026-01-01T00:00:00Z",\n'
        b'  "data": {"country_code": "NL", "party_id": "CPA", "id": "L1",'
        b' "last_updated": "2026-01-01T00:00:00.1234"} }'
    )
    async with net(hub) as n:
        n.a.on(
            "GET", "/locations/sender/L1", lambda _: Response(raw, media_type="application/json")
        )
        page = envelope([{"id": "T1", "last_updated": "2026-01-01T00:00:00"}])
        n.a.on(
            "GET",
            "/tariffs/sender",
            lambda _: Response(
                page, headers={"X-Total-Count": "1", "X-Limit": "9"}, media_type="application/json"
            ),
        )
        single = await n.x.call("GET", hub.endpoint("locations", "sender") + "/L1", to=CPO_A)
        listed = await n.x.call("GET", hub.endpoint("tariffs", "sender"), to=CPO_A)
    assert single.content == raw
    assert addressed(single) == (CPO_A, EMSP_X)
    assert listed.content == page
    assert (listed.headers["x-total-count"], listed.headers["x-limit"]) == ("1", "9")
