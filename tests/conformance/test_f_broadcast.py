"""Conformance checks 32-37 (F. Broadcast push) and the objects the routing checks push.

A broadcast is a push with OCPI-to = the hub. docs/policies.md (Routing) fixes who gets a copy:
a CPO's push reaches every CONNECTED EMSP, NSP, OTHER, NAP and SCSP party that offers the
module's Receiver interface; every other role's push reaches CPOs only; the sender's whole
platform is left out. CDRs and Sessions are never broadcast.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from starlette.responses import Response

from ocpi_adapter.types import ConnectionStatus
from tests.conformance.support import (
    Party,
    addressed,
    assert_envelope,
    cdr,
    charging_session,
    exactly,
    from_of,
    get_all,
    hub_party,
    location,
    register_all,
    set_status,
    status_of,
    tariff,
    to_of,
    token,
    trace,
)
from tests.peers.strict.peer import Received, StrictPeer, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub

# What a consumer of CPO data and of tokens offers: the Receiver interfaces broadcasts use.
RECEIVES: dict[str, list[str]] = {
    "locations": ["RECEIVER"],
    "tariffs": ["RECEIVER"],
    "tokens": ["RECEIVER"],
    "hubclientinfo": ["RECEIVER"],
}
# A CPO that also consumes other CPOs' locations and tariffs (a roaming CPO's own eMSP side).
CPO_ALL: dict[str, list[str]] = {
    "locations": ["SENDER", "RECEIVER"],
    "tariffs": ["SENDER", "RECEIVER"],
    "sessions": ["SENDER"],
    "cdrs": ["SENDER"],
    "tokens": ["SENDER", "RECEIVER"],
    "commands": ["RECEIVER"],
    "hubclientinfo": ["RECEIVER"],
}


# --- the network of check 33 -----------------------------------------------------------------
@dataclass
class Network:
    """A CPO sender and a receiver of every kind the fan-out rule has to tell apart."""

    cpo: StrictPeer  # CPO NL*CPA; the same platform also has the EMSP role NL*CPE
    emsp: StrictPeer  # EMSP DE*EMA
    nsp: StrictPeer  # NSP DE*NSP
    other: StrictPeer  # OTHER DE*OTH
    nap: StrictPeer  # NAP DE*NAP and SCSP DE*SCS on one platform
    cpo2: StrictPeer  # CPO NL*CPB, offers the locations, tariffs and tokens Receiver too
    offline: StrictPeer  # EMSP DE*EMO, registered, then OFFLINE
    lacking: StrictPeer  # EMSP DE*EMN, no locations/tariffs/tokens Receiver

    @property
    def peers(self) -> list[StrictPeer]:
        return [
            self.cpo,
            self.emsp,
            self.nsp,
            self.other,
            self.nap,
            self.cpo2,
            self.offline,
            self.lacking,
        ]


@contextlib.asynccontextmanager
async def network(hub: HubUnderTest) -> AsyncIterator[Network]:
    async with (
        running_peer(
            role="CPO",
            country_code="NL",
            party_id="CPA",
            extra_roles=[("EMSP", "NL", "CPE")],
            modules=CPO_ALL,
        ) as cpo,
        running_peer(
            role="EMSP",
            country_code="DE",
            party_id="EMA",
            modules={**RECEIVES, "tokens": ["SENDER"]},
        ) as emsp,
        running_peer(role="NSP", country_code="DE", party_id="NSP", modules=RECEIVES) as nsp,
        running_peer(role="OTHER", country_code="DE", party_id="OTH", modules=RECEIVES) as other,
        running_peer(
            role="NAP",
            country_code="DE",
            party_id="NAP",
            extra_roles=[("SCSP", "DE", "SCS")],
            modules=RECEIVES,
        ) as nap,
        running_peer(role="CPO", country_code="NL", party_id="CPB", modules=CPO_ALL) as cpo2,
        running_peer(
            role="EMSP",
            country_code="DE",
            party_id="EMO",
            modules={**RECEIVES, "tokens": ["SENDER"]},
        ) as offline,
        running_peer(
            role="EMSP",
            country_code="DE",
            party_id="EMN",
            modules={"tokens": ["SENDER"], "hubclientinfo": ["RECEIVER"]},
        ) as lacking,
    ):
        await register_all(hub, cpo, emsp, nsp, other, nap, cpo2, offline, lacking)
        await set_status(hub, ("DE", "EMO"), ConnectionStatus.OFFLINE)
        await hub.settle()
        yield Network(cpo, emsp, nsp, other, nap, cpo2, offline, lacking)


def assert_fanned_out(
    hub: HubUnderTest,
    peers: list[StrictPeer],
    *,
    method: str,
    path: str,
    sent: bytes,
    ids: dict[str, str],
    expected: dict[Party, StrictPeer],
) -> None:
    """Exactly the expected parties got one copy each: same method, path and body, FROM the
    hub, TO that party, a fresh X-Request-ID of its own and the sender's X-Correlation-ID."""
    request_ids = {ids["X-Request-ID"]}
    for peer in peers:
        copies = exactly(peer, method, path)
        wanted = sorted(party for party, owner in expected.items() if owner is peer)
        assert sorted(to_of(c) for c in copies) == wanted, (peer.party_id, path)
        for copy in copies:
            assert copy.query == ""
            assert copy.body == sent
            assert from_of(copy) == hub_party(hub)
            assert copy.headers["x-correlation-id"] == ids["X-Correlation-ID"]
            assert copy.headers["x-request-id"] not in request_ids
            request_ids.add(copy.headers["x-request-id"])
            assert copy.headers["content-type"] == "application/json"
            assert copy.headers["authorization"] == peer.auth(peer.token_b)["Authorization"]


async def push(
    peer: StrictPeer, hub: HubUnderTest, method: str, url: str, body: Any = None
) -> tuple[httpx.Response, bytes, dict[str, str]]:
    """A broadcast push (TO = hub) with known trace ids; returns the answer and what was sent."""
    ids = trace()
    sent = orjson.dumps(body) if body is not None else b""
    answer = await peer.call(
        method, url, to=peer.hub_party, content=sent if body is not None else None, headers=ids
    )
    return answer, sent, ids


def assert_accepted(
    answer: httpx.Response, hub: HubUnderTest, sender: Party, ids: dict[str, str]
) -> None:
    """Check 32: 1000 from the hub to the sender, the sender's trace ids echoed."""
    assert answer.status_code == 200, answer.text
    assert assert_envelope(answer)["status_code"] == 1000, answer.text
    assert addressed(answer) == (hub_party(hub), sender)
    assert answer.headers["x-request-id"] == ids["X-Request-ID"]
    assert answer.headers["x-correlation-id"] == ids["X-Correlation-ID"]


# --- F. Broadcast push -----------------------------------------------------------------------
@pytest.mark.conformance(32)
async def test_check32_broadcast_push_is_answered_1000_from_the_hub(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA", modules=CPO_ALL) as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, emsp)
        receiver = hub.endpoint("locations", "receiver")
        evse = location("NL", "CPA", "L1")["evses"][0]
        pushes: list[tuple[StrictPeer, str, str, Any]] = [
            (cpo, "PUT", f"{receiver}/NL/CPA/L1", location("NL", "CPA", "L1")),
            (
                cpo,
                "PATCH",
                f"{receiver}/NL/CPA/L1",
                {"name": "Station", "last_updated": "2026-01-02T00:00:00Z"},
            ),
            (cpo, "PUT", f"{receiver}/NL/CPA/L1/L1-E1", evse),
            (
                cpo,
                "PATCH",
                f"{receiver}/NL/CPA/L1/L1-E1/1",
                {"max_amperage": 16, "last_updated": "2026-01-03T00:00:00Z"},
            ),
            (
                cpo,
                "PUT",
                hub.endpoint("tariffs", "receiver") + "/NL/CPA/T1",
                tariff("NL", "CPA", "T1"),
            ),
            (cpo, "DELETE", hub.endpoint("tariffs", "receiver") + "/NL/CPA/T1", None),
            (
                emsp,
                "PUT",
                hub.endpoint("tokens", "receiver") + "/DE/EMA/T1",
                token("DE", "EMA", "T1"),
            ),
            (
                emsp,
                "PATCH",
                hub.endpoint("tokens", "receiver") + "/DE/EMA/T1?type=RFID",
                {"valid": False, "last_updated": "2026-01-02T00:00:00Z"},
            ),
        ]
        for peer, method, url, body in pushes:
            answer, _, ids = await push(peer, hub, method, url, body)
            assert_accepted(answer, hub, (peer.country_code, peer.party_id), ids)
            assert "data" not in answer.json()
        await hub.settle()
        # Every push was a broadcast, so each also reached the other side.
        assert len(emsp.requests(prefix="/locations/receiver/NL/CPA/L1")) == 4
        assert len(emsp.requests(prefix="/tariffs/receiver/NL/CPA/T1")) == 2
        assert len(cpo.requests(prefix="/tokens/receiver/DE/EMA/T1")) == 2


@pytest.mark.conformance(33)
async def test_check33_cpo_push_reaches_every_connected_consumer_with_the_receiver(
    hub: HubUnderTest,
) -> None:
    async with network(hub) as net:
        expected: dict[Party, StrictPeer] = {
            ("DE", "EMA"): net.emsp,
            ("DE", "NSP"): net.nsp,
            ("DE", "OTH"): net.other,
            ("DE", "NAP"): net.nap,
            ("DE", "SCS"): net.nap,
        }
        receiver = hub.endpoint("locations", "receiver")
        cases = [
            ("PUT", "/NL/CPA/L1", location("NL", "CPA", "L1")),
            ("PATCH", "/NL/CPA/L1", {"name": "Station", "last_updated": "2026-01-02T00:00:00Z"}),
            (
                "PUT",
                "/NL/CPA/L1/L1-E1/1",
                {**location("NL", "CPA", "L1")["evses"][0]["connectors"][0], "max_amperage": 16},
            ),
        ]
        for method, suffix, body in cases:
            answer, sent, ids = await push(net.cpo, hub, method, receiver + suffix, body)
            assert_accepted(answer, hub, ("NL", "CPA"), ids)
            await hub.settle()
            assert_fanned_out(
                hub,
                net.peers,
                method=method,
                path="/locations/receiver" + suffix,
                sent=sent,
                ids=ids,
                expected=expected,
            )
        answer, sent, ids = await push(
            net.cpo, hub, "DELETE", hub.endpoint("tariffs", "receiver") + "/NL/CPA/T1"
        )
        assert_accepted(answer, hub, ("NL", "CPA"), ids)
        await hub.settle()
        assert_fanned_out(
            hub,
            net.peers,
            method="DELETE",
            path="/tariffs/receiver/NL/CPA/T1",
            sent=b"",
            ids=ids,
            expected=expected,
        )


@pytest.mark.conformance(33)
async def test_check33_emsp_and_other_pushes_reach_cpos_only(hub: HubUnderTest) -> None:
    async with network(hub) as net:
        cpos: dict[Party, StrictPeer] = {("NL", "CPA"): net.cpo, ("NL", "CPB"): net.cpo2}
        for sender in (net.emsp, net.other):
            suffix = f"/{sender.country_code}/{sender.party_id}/T1"
            body = token(sender.country_code, sender.party_id, "T1")
            url = hub.endpoint("tokens", "receiver") + suffix
            answer, sent, ids = await push(sender, hub, "PUT", url, body)
            assert_accepted(answer, hub, (sender.country_code, sender.party_id), ids)
            await hub.settle()
            assert_fanned_out(
                hub,
                net.peers,
                method="PUT",
                path="/tokens/receiver" + suffix,
                sent=sent,
                ids=ids,
                expected=cpos,
            )


@pytest.mark.conformance(33)
async def test_check33_a_party_made_offline_by_a_failed_copy_gets_no_more(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, emsp)
        async with running_peer(role="EMSP", country_code="DE", party_id="EMG") as gone:
            await register_all(hub, gone)
        # Its server is down now: the first copy fails to connect and makes it OFFLINE.
        receiver = hub.endpoint("locations", "receiver")
        first, _, ids = await push(
            cpo, hub, "PUT", receiver + "/NL/CPA/L1", location("NL", "CPA", "L1")
        )
        assert_accepted(first, hub, ("NL", "CPA"), ids)
        await hub.settle()
        assert await status_of(hub, ("DE", "EMG")) is ConnectionStatus.OFFLINE
        assert len(exactly(emsp, "PUT", "/locations/receiver/NL/CPA/L1")) == 1
        # The others were told through ClientInfo (hubclientinfo, check 13/20 family).
        pushed = [r.json() for r in emsp.requests("PUT", "/hubclientinfo/receiver/DE/EMG")]
        assert pushed and pushed[-1]["status"] == "OFFLINE"
        gone_copies = [r for r in gone.received if r.path.startswith("/locations/")]
        assert gone_copies == []


@pytest.mark.conformance(34)
async def test_check34_receiver_failures_neither_reach_the_sender_nor_are_retried() -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def stall(received: Received) -> Response:
        arrived.set()
        await release.wait()
        return ocpi()

    async with (
        running_hub(forward_timeout=0.5) as hub,
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="E41") as refusing,
        running_peer(role="EMSP", country_code="DE", party_id="E50") as failing,
        running_peer(role="EMSP", country_code="DE", party_id="ESL") as sleeping,
    ):
        await register_all(hub, cpo, refusing, failing, sleeping)
        refusing.on("PUT", "/locations/", lambda r: ocpi(status_code=2000, http_status=401))
        failing.on("PUT", "/locations/", lambda r: Response(b"boom", status_code=500))
        sleeping.on("PUT", "/locations/", stall)
        receiver = hub.endpoint("locations", "receiver")
        try:
            answer, _, ids = await push(
                cpo, hub, "PUT", receiver + "/NL/CPA/L1", location("NL", "CPA", "L1")
            )
            # The sender has its 1000 while the slow receiver still holds its copy unanswered.
            assert_accepted(answer, hub, ("NL", "CPA"), ids)
            await arrived.wait()
            await hub.settle()  # the slow copy ran into the hub's forward timeout
        finally:
            release.set()
        second, _, ids = await push(
            cpo, hub, "PUT", receiver + "/NL/CPA/L2", location("NL", "CPA", "L2")
        )
        assert_accepted(second, hub, ("NL", "CPA"), ids)
        await hub.settle()
        for peer in (refusing, failing, sleeping):
            # One attempt at the first push, none repeated or queued behind the second one.
            assert len(exactly(peer, "PUT", "/locations/receiver/NL/CPA/L1")) == 1, peer.party_id
            assert len(exactly(peer, "PUT", "/locations/receiver/NL/CPA/L2")) == 1, peer.party_id
            assert await status_of(hub, (peer.country_code, peer.party_id)) is (
                ConnectionStatus.CONNECTED
            )


@pytest.mark.conformance(35)
async def test_check35_get_with_to_hub_on_a_receiver_interface_is_refused(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, emsp)
        gets = [
            (cpo, hub.endpoint("locations", "receiver") + "/NL/CPA/L1"),
            (cpo, hub.endpoint("locations", "receiver") + "/NL/CPA/L1/L1-E1/1"),
            (cpo, hub.endpoint("tariffs", "receiver") + "/NL/CPA/T1"),
            (cpo, hub.endpoint("sessions", "receiver") + "/NL/CPA/S1"),
            (emsp, hub.endpoint("tokens", "receiver") + "/DE/EMA/T1?type=RFID"),
        ]
        for peer, url in gets:
            ids = trace()
            answer = await peer.call("GET", url, to=peer.hub_party, headers=ids)
            assert answer.status_code == 200, url
            assert assert_envelope(answer)["status_code"] == 2001, (url, answer.text)
            assert addressed(answer) == (hub_party(hub), (peer.country_code, peer.party_id))
            assert answer.headers["x-request-id"] == ids["X-Request-ID"]
        await hub.settle()
        for peer in (cpo, emsp):
            assert [r for r in peer.received if r.method == "GET" and "/receiver" in r.path] == []


@pytest.mark.conformance(36)
async def test_check36_cdrs_and_sessions_are_never_broadcast(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
        running_peer(role="EMSP", country_code="DE", party_id="EMB") as bystander,
    ):
        await register_all(hub, cpo, emsp, bystander)
        emsp_party = ("DE", "EMA")
        refused = [
            ("POST", hub.endpoint("cdrs", "receiver"), cdr(("NL", "CPA"), "C1", emsp_party)),
            (
                "PUT",
                hub.endpoint("sessions", "receiver") + "/NL/CPA/S1",
                charging_session(("NL", "CPA"), "S1", emsp_party),
            ),
            (
                "PATCH",
                hub.endpoint("sessions", "receiver") + "/NL/CPA/S1",
                {"kwh": 2.0, "last_updated": "2026-01-01T00:20:00Z"},
            ),
        ]
        for method, url, body in refused:
            answer, _, _ = await push(cpo, hub, method, url, body)
            assert answer.status_code == 200
            envelope = assert_envelope(answer)
            assert envelope["status_code"] == 2001, (method, url, answer.text)
            assert "cannot be broadcast" in envelope["status_message"]
            assert addressed(answer) == (hub_party(hub), ("NL", "CPA"))
        await hub.settle()
        for peer in (emsp, bystander):
            assert peer.requests(prefix="/cdrs/") == []
            assert peer.requests(prefix="/sessions/") == []
        # Nothing refused was kept: the eMSP's GET All shows neither the CDR nor the Session.
        for module in ("cdrs", "sessions"):
            listing = await emsp.call("GET", hub.endpoint(module, "sender"), to=emsp.hub_party)
            assert listing.json()["data"] == [], module
        # The same CDR addressed to its eMSP goes through (the refusal was the broadcast).
        direct = await cpo.call(
            "POST",
            hub.endpoint("cdrs", "receiver"),
            to=emsp_party,
            json=cdr(("NL", "CPA"), "C1", emsp_party),
        )
        assert direct.json()["status_code"] == 1000, direct.text
        assert len(emsp.requests("POST", "/cdrs/receiver")) == 1
        assert bystander.requests(prefix="/cdrs/") == []


@pytest.mark.conformance(37)
async def test_check37_get_all_returns_broadcast_objects_as_the_owner_sent_them(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="CPO", country_code="BE", party_id="CPB") as cpo2,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, cpo2, emsp)
        locations_receiver = hub.endpoint("locations", "receiver")
        tariffs_receiver = hub.endpoint("tariffs", "receiver")
        owned = [
            (cpo, location("NL", "CPA", "L1", last_updated="2026-02-03T04:05:06.7891Z")),
            (cpo2, location("be", "cpb", "L2", last_updated="2026-02-03T04:05:06.1Z")),
            (cpo2, location("BE", "CPB", "L3", last_updated="2026-02-03T04:05:07")),
        ]
        for peer, body in owned:
            url = f"{locations_receiver}/{body['country_code']}/{body['party_id']}/{body['id']}"
            answer, _, ids = await push(peer, hub, "PUT", url, body)
            assert_accepted(answer, hub, (peer.country_code, peer.party_id), ids)
        tariffs = [tariff("NL", "CPA", "T1", "2026-02-03T04:05:06.789Z")]
        answer, _, _ = await push(cpo, hub, "PUT", tariffs_receiver + "/NL/CPA/T1", tariffs[0])
        assert answer.json()["status_code"] == 1000
        tokens = [token("DE", "EMA", "U1", "2026-02-03T04:05:06.0001Z")]
        answer, _, _ = await push(
            emsp, hub, "PUT", hub.endpoint("tokens", "receiver") + "/DE/EMA/U1", tokens[0]
        )
        assert answer.json()["status_code"] == 1000
        await hub.settle()

        listed, _ = await get_all(emsp, hub.endpoint("locations", "sender"), emsp.hub_party)
        assert sorted(listed, key=lambda o: o["id"]) == [body for _, body in owned]
        assert [o["last_updated"] for o in sorted(listed, key=lambda o: o["id"])] == [
            "2026-02-03T04:05:06.7891Z",
            "2026-02-03T04:05:06.1Z",
            "2026-02-03T04:05:07",
        ]
        assert (
            listed_tariffs := (
                await get_all(emsp, hub.endpoint("tariffs", "sender"), emsp.hub_party)
            )[0]
        ) == tariffs
        assert listed_tariffs[0]["last_updated"] == "2026-02-03T04:05:06.789Z"
        listed_tokens, _ = await get_all(cpo, hub.endpoint("tokens", "sender"), cpo.hub_party)
        assert listed_tokens == tokens
