"""Conformance checks 56-58 (K. Robustness and interop).

56: answers that stretch OCPI (single objects inside a list, HTTP 403 for auth failures, no
``data``, unknown fields) are relayed byte for byte; the hub neither repairs nor chokes on them.
The extrawest peer (py_ocpi) does several of these natively; StrictPeers are scripted for the rest.
57: peer endpoints are joined with and without a trailing slash, queries pass unchanged.
58: the hub neither queues nor retries (transport_and_format, offline behaviour).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import orjson
import pytest
from starlette.responses import Response

from ocpi_adapter.types import ConnectionStatus
from tests.conformance.support import (
    Party,
    addressed,
    exactly,
    location,
    register_all,
    serving_again,
    status_of,
    tariff,
)
from tests.peers.extrawest.launcher import ExtrawestPeer
from tests.peers.extrawest.registration import register_extrawest
from tests.peers.strict.peer import Received, StrictPeer, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub

CPO: Party = ("NL", "CPA")
EMSP: Party = ("DE", "EMA")


# --- helpers ---------------------------------------------------------------------------------
async def eventually[T](probe: Callable[[], T], what: str, within: float = 20.0) -> T:
    """Polls until ``probe`` returns something truthy; the deadline is generous, not asserted."""
    deadline = time.monotonic() + within
    while not (found := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)
    return found


async def quiet(hub: HubUnderTest, seconds: float = 0.5) -> None:
    """Lets anything the hub might still be doing happen, then waits for its background work."""
    await hub.settle()
    await asyncio.sleep(seconds)
    await hub.settle()


def raw(status: int, body: bytes) -> Callable[[Received], Response]:
    """A scripted answer sent exactly as given."""
    return lambda _: Response(body, status_code=status, media_type="application/json")


def with_trailing_slashes(peer: StrictPeer) -> None:
    """The peer advertises every endpoint with a trailing slash (as py_ocpi does)."""

    def details(_: Received) -> Response:
        endpoints = [{**e, "url": e["url"] + "/"} for e in peer._endpoints()]
        return ocpi({"version": "2.2.1", "endpoints": endpoints})

    peer.on("GET", "/2.2.1", details)


async def last_request(peer: ExtrawestPeer, path: str) -> dict[str, Any]:
    """The last request the extrawest peer recorded at ``path``, with its own answer."""
    seen = [r for r in await asyncio.to_thread(peer.requests) if r["path"] == path]
    assert seen, (path, await asyncio.to_thread(peer.requests))
    return seen[-1]


def assert_relayed(
    answer: httpx.Response, status: int, body: bytes, responder: Party, requester: Party
) -> None:
    """The receiver's answer came back untouched: HTTP status, body bytes, and addressed back."""
    assert answer.status_code == status, answer.text
    assert answer.content == body, (answer.content, body)
    assert addressed(answer) == (responder, requester)
    assert answer.headers.get("x-request-id")


# --- 56 --------------------------------------------------------------------------------------
@pytest.mark.conformance(56)
@pytest.mark.extrawest
async def test_check56_extrawest_answers_are_relayed_unmodified(
    hub: HubUnderTest, extrawest_cpo: ExtrawestPeer, extrawest_emsp: ExtrawestPeer
) -> None:
    ext_cpo, ext_emsp = extrawest_cpo, extrawest_emsp
    cpo_party = (ext_cpo.country_code, ext_cpo.party_id)
    emsp_party = (ext_emsp.country_code, ext_emsp.party_id)
    await asyncio.to_thread(ext_cpo.seed, "locations", location(*cpo_party, "LOC56"))
    await register_extrawest(hub, ext_cpo, token_b="hub-at-ext-cpo-56")
    await register_extrawest(hub, ext_emsp, token_b="hub-at-ext-emsp-56")
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        get_url = hub.endpoint("locations", "sender") + "/LOC56"
        ext_path = urlsplit(ext_cpo.endpoint_url("locations")).path + "LOC56"

        # A single Location inside a list, as py_ocpi answers it.
        answer = await emsp.call("GET", get_url, to=cpo_party)
        seen = await last_request(ext_cpo, ext_path)
        assert isinstance(orjson.loads(seen["response"]["body"])["data"], list)
        assert_relayed(answer, 200, seen["response"]["body"].encode(), cpo_party, EMSP)

        # The peer no longer knows the hub's token: HTTP 403 with a body that is no envelope.
        await asyncio.to_thread(ext_cpo.delete_item, "registrations", "hub-at-ext-cpo-56")
        refused = await emsp.call("GET", get_url, to=cpo_party)
        seen = await last_request(ext_cpo, ext_path)
        assert seen["response_status"] == 403
        assert_relayed(refused, 403, seen["response"]["body"].encode(), cpo_party, EMSP)
        again = await emsp.call("GET", get_url, to=cpo_party)
        assert again.status_code == 403  # nothing cached, nothing broken
        await hub.settle()
        assert await status_of(hub, cpo_party) is ConnectionStatus.CONNECTED

        # A push to the extrawest eMSP: its answer comes back as it gave it.
        body = location(*CPO, "L56")
        pushed = await cpo.call(
            "PUT", hub.endpoint("locations", "receiver") + "/NL/CPA/L56", to=emsp_party, json=body
        )
        ext_put = urlsplit(ext_emsp.endpoint_url("locations")).path + "NL/CPA/L56"
        seen = await last_request(ext_emsp, ext_put)
        assert seen["json"] == body  # the request reached it untouched, too
        assert_relayed(pushed, 200, seen["response"]["body"].encode(), emsp_party, CPO)

        # The hub is fine afterwards.
        versions = await emsp.call("GET", hub.versions_url, routing=False)
        assert versions.json()["status_code"] == 1000


# Answers a peer may give to a GET or a push, each relayed byte for byte.
ODD_ANSWERS: dict[str, tuple[int, bytes]] = {
    # No data at all, though a Location was asked for.
    "NODATA": (200, b'{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}'),
    # A single object inside a list.
    "LIST": (
        200,
        b'{"data":['
        + orjson.dumps(location(*CPO, "LIST"))
        + b'],"status_code":1000,"timestamp":"2026-01-01T00:00:00Z"}',
    ),
    # Unknown fields at every level, odd spacing and key order.
    "EXTRA": (
        200,
        b'{ "x_vendor" : {"trace": [1, 2.50, null]},\n "status_code": 1000,'
        b' "data": {"id": "EXTRA", "x_colour": "blue", "evses": []},'
        b' "timestamp": "2026-01-01T00:00:00.5+00:00", "status_message": "fine"}',
    ),
    # An auth failure as HTTP 403 (not 401), an OCPI envelope inside.
    "AUTH": (
        403,
        b'{"status_code":2000,"status_message":"who are you","timestamp":"2026-01-01T00:00:00Z"}',
    ),
    # An auth failure that is not an envelope at all (FastAPI's default).
    "PLAIN": (403, b'{"detail":"Forbidden"}'),
}


@pytest.mark.conformance(56)
async def test_check56_odd_answers_from_strict_peers_are_relayed_unmodified(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        for location_id, (status, body) in ODD_ANSWERS.items():
            cpo.on("GET", f"/locations/sender/{location_id}", raw(status, body))
            answer = await emsp.call(
                "GET", hub.endpoint("locations", "sender") + f"/{location_id}", to=CPO
            )
            assert_relayed(answer, status, body, CPO, EMSP)
        # The same for answers to pushes.
        for location_id, (status, body) in ODD_ANSWERS.items():
            emsp.on("PUT", f"/locations/receiver/NL/CPA/{location_id}", raw(status, body))
            sent = location(*CPO, location_id)
            answer = await cpo.call(
                "PUT",
                hub.endpoint("locations", "receiver") + f"/NL/CPA/{location_id}",
                to=EMSP,
                json=sent,
            )
            assert_relayed(answer, status, body, EMSP, CPO)
            (received,) = exactly(emsp, "PUT", f"/locations/receiver/NL/CPA/{location_id}")
            assert received.json() == sent
        # A ClientInfo PUT answered with 403 and no envelope does not trouble the hub either.
        emsp.on("PUT", "/hubclientinfo/", raw(403, b'{"detail":"no"}'))
        async with running_peer(role="CPO", country_code="BE", party_id="CPB") as late:
            await register_all(hub, late)
            assert exactly(emsp, "PUT", "/hubclientinfo/receiver/BE/CPB")
        await hub.settle()
        for party in (CPO, EMSP):
            assert await status_of(hub, party) is ConnectionStatus.CONNECTED
        fine = await emsp.call("GET", hub.endpoint("locations", "sender") + "/L1", to=CPO)
        assert fine.json()["status_code"] == 1000


# --- 57 --------------------------------------------------------------------------------------
@pytest.mark.conformance(57)
async def test_check57_endpoints_with_and_without_trailing_slash(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CSL") as slashed_cpo,
        running_peer(role="CPO", country_code="NL", party_id="CNS") as plain_cpo,
        running_peer(role="EMSP", country_code="DE", party_id="ESL") as slashed_emsp,
        running_peer(role="EMSP", country_code="DE", party_id="ENS") as plain_emsp,
    ):
        with_trailing_slashes(slashed_cpo)
        with_trailing_slashes(slashed_emsp)
        await register_all(hub, slashed_cpo, plain_cpo, slashed_emsp)
        for peer in (slashed_cpo, plain_cpo, slashed_emsp):
            peer.received.clear()
        await register_all(hub, plain_emsp)
        # ClientInfo pushes: {endpoint}/{cc}/{pid}, one slash between.
        for peer in (slashed_cpo, plain_cpo, slashed_emsp):
            assert [r.path for r in peer.requests("PUT")] == ["/hubclientinfo/receiver/DE/ENS"]
        for cpo in (slashed_cpo, plain_cpo):
            cpo_party = (cpo.country_code, cpo.party_id)
            suffix = f"{cpo.country_code}/{cpo.party_id}/L1"
            for emsp in (slashed_emsp, plain_emsp):
                answer = await cpo.call(
                    "PUT",
                    hub.endpoint("locations", "receiver") + f"/{suffix}",
                    to=(emsp.country_code, emsp.party_id),
                    json=location(*cpo_party, "L1"),
                )
                assert answer.json()["status_code"] == 1000, answer.text
                assert len(exactly(emsp, "PUT", f"/locations/receiver/{suffix}")) == 1
            for url, path in (
                ("/L1/L1-E1/1", "/locations/sender/L1/L1-E1/1"),
                ("/L2/", "/locations/sender/L2"),
            ):
                answer = await plain_emsp.call(
                    "GET", hub.endpoint("locations", "sender") + url, to=cpo_party
                )
                assert answer.json()["status_code"] == 1000, answer.text
                assert exactly(cpo, "GET", path), [r.path for r in cpo.received]
            # A list GET goes to the endpoint exactly as the peer spelled it.
            listing = await plain_emsp.call(
                "GET", hub.endpoint("locations", "sender"), to=cpo_party
            )
            assert listing.json()["status_code"] == 1000, listing.text
        assert exactly(slashed_cpo, "GET", "/locations/sender/")
        assert exactly(plain_cpo, "GET", "/locations/sender")
        for peer in (slashed_cpo, plain_cpo, slashed_emsp, plain_emsp):
            assert not [r.path for r in peer.received if "//" in r.path]


@pytest.mark.conformance(57)
@pytest.mark.extrawest
async def test_check57_extrawest_trailing_slash_endpoints(
    hub: HubUnderTest, extrawest_cpo: ExtrawestPeer
) -> None:
    ext = extrawest_cpo
    ext_party = (ext.country_code, ext.party_id)
    assert ext.endpoint_url("locations").endswith("/")
    await asyncio.to_thread(ext.seed, "locations", location(*ext_party, "LOC57"))
    await register_extrawest(hub, ext, token_b="hub-at-ext-cpo-57")
    async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
        await register_all(hub, emsp)
        answer = await emsp.call(
            "GET", hub.endpoint("locations", "sender") + "/LOC57?x=a%2Fb&x=%20", to=ext_party
        )
        assert answer.json()["status_code"] == 1000, answer.text
    seen = await last_request(ext, urlsplit(ext.endpoint_url("locations")).path + "LOC57")
    assert seen["query"] == "x=a%2Fb&x=%20"
    clientinfo = urlsplit(ext.endpoint_url("hubclientinfo")).path + "DE/EMA"
    pushed = await last_request(ext, clientinfo)
    assert pushed["method"] == "PUT"
    assert pushed["json"]["status"] == "CONNECTED"


@pytest.mark.conformance(57)
async def test_check57_query_strings_pass_unchanged(hub: HubUnderTest) -> None:
    queries = [
        "date_from=2026-01-01T00:00:00Z&date_to=2026-02-01T00%3A00%3A00%2B00%3A00&offset=0&limit=5",
        "tag=a&tag=b&tag=a",
        "odd=%E2%82%AC%20x+y%2F%3F%26%3D~%2A&empty=&flag&pct=100%25",
    ]
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        for query in queries:
            cpo.received.clear()
            answer = await emsp.call(
                "GET", hub.endpoint("locations", "sender") + f"?{query}", to=CPO
            )
            assert answer.json()["status_code"] == 1000, answer.text
            (received,) = exactly(cpo, "GET", "/locations/sender")
            assert received.query == query
        patch = await emsp.call(
            "PATCH",
            hub.endpoint("tokens", "receiver") + "/DE/EMA/T1?type=APP_USER",
            to=CPO,
            json={"valid": False, "last_updated": "2026-01-02T00:00:00Z"},
        )
        assert patch.json()["status_code"] == 1000, patch.text
        (patched,) = exactly(cpo, "PATCH", "/tokens/receiver/DE/EMA/T1")
        assert patched.query == "type=APP_USER"


@pytest.mark.conformance(57)
async def test_check57_encoded_response_url_in_the_query(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        callback_query = "ref=a%2Fb&x=1&x=2&note=caf%C3%A9%20au+lait"
        response_url = f"{emsp.url}/chargingprofiles/sender/results/P1?{callback_query}"
        query = f"duration=900&response_url={quote(response_url, safe='')}&odd=a%20b~%2A"
        answer = await emsp.call(
            "GET", hub.endpoint("chargingprofiles", "receiver") + f"/S1?{query}", to=CPO
        )
        assert answer.json()["status_code"] == 1000, answer.text
        (received,) = exactly(cpo, "GET", "/chargingprofiles/receiver/S1")
        params = parse_qsl(received.query, keep_blank_values=True)
        assert [k for k, _ in params] == ["duration", "response_url", "odd"]
        hub_url = dict(params)["response_url"]
        assert hub_url.startswith(hub.endpoint("chargingprofiles", "sender") + "/")
        assert emsp.url not in received.query  # no peer URL reaches another peer (check 31)
        # Everything but the response_url is passed exactly as the eMSP wrote it.
        rewritten = received.query.split("&")
        assert (rewritten[0], rewritten[2]) == ("duration=900", "odd=a%20b~%2A"), received.query
        result = {
            "result": "ACCEPTED",
            "profile": {
                "charging_rate_unit": "W",
                "charging_schedule_period": [{"start_period": 0, "limit": 11000}],
            },
        }
        posted = await cpo.call("POST", hub_url, to=EMSP, json=result)
        assert posted.json()["status_code"] == 1000, posted.text
        (delivered,) = emsp.requests("POST", "/chargingprofiles/sender/results/P1")
        assert delivered.query == callback_query
        assert delivered.json() == result


# --- 58 --------------------------------------------------------------------------------------
@pytest.mark.conformance(58)
async def test_check58_failed_pushes_are_attempted_once_and_never_replayed(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        running_peer(role="CPO", country_code="BE", party_id="CPB") as late,
    ):
        await register_all(hub, cpo, emsp)
        boom = b'{"status_code":3000,"status_message":"boom","timestamp":"2026-01-01T00:00:00Z"}'
        emsp.on("PUT", "/locations/", raw(500, boom))
        emsp.on("PUT", "/hubclientinfo/", raw(503, b'{"status_code":3000}'))
        receiver = hub.endpoint("locations", "receiver")
        failed = await cpo.call("PUT", receiver + "/NL/CPA/L1", to=EMSP, json=location(*CPO, "L1"))
        assert (failed.status_code, failed.content) == (500, boom)  # relayed, not retried
        await register_all(hub, late)  # its ClientInfo PUT to the eMSP fails too
        await quiet(hub)
        assert len(exactly(emsp, "PUT", "/locations/receiver/NL/CPA/L1")) == 1
        assert len(exactly(emsp, "PUT", "/hubclientinfo/receiver/BE/CPB")) == 1
        # The eMSP recovers: it gets what is new, nothing of what failed.
        emsp.handlers.clear()
        await quiet(hub)
        later = await cpo.call("PUT", receiver + "/NL/CPA/L2", to=EMSP, json=location(*CPO, "L2"))
        assert later.json()["status_code"] == 1000, later.text
        await quiet(hub)
        assert len(exactly(emsp, "PUT", "/locations/receiver/NL/CPA/L1")) == 1
        assert len(exactly(emsp, "PUT", "/locations/receiver/NL/CPA/L2")) == 1
        assert len(exactly(emsp, "PUT", "/hubclientinfo/receiver/BE/CPB")) == 1
        assert await status_of(hub, EMSP) is ConnectionStatus.CONNECTED


@pytest.mark.conformance(58)
async def test_check58_a_party_back_from_an_outage_gets_nothing_replayed() -> None:
    async with (
        running_hub(still_alive_interval=1.0, still_alive_check_period=0.2) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMB") as bystander,
    ):
        async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
            await register_all(hub, cpo, bystander, emsp)
        # The eMSP's server is down. A direct push fails once and makes it OFFLINE; what
        # follows (direct or broadcast) is not sent, and not kept for later.
        receiver = hub.endpoint("locations", "receiver")
        failed = await cpo.call("PUT", receiver + "/NL/CPA/L1", to=EMSP, json=location(*CPO, "L1"))
        assert failed.json()["status_code"] != 1000
        await hub.settle()
        assert await status_of(hub, EMSP) is ConnectionStatus.OFFLINE
        refused = await cpo.call("PUT", receiver + "/NL/CPA/L2", to=EMSP, json=location(*CPO, "L2"))
        assert refused.json()["status_code"] != 1000
        broadcast = await cpo.call(
            "PUT",
            hub.endpoint("tariffs", "receiver") + "/NL/CPA/T1",
            to=cpo.hub_party,
            json=tariff(*CPO, "T1"),
        )
        assert broadcast.json()["status_code"] == 1000
        await hub.settle()
        assert exactly(bystander, "PUT", "/tariffs/receiver/NL/CPA/T1")
        emsp.received.clear()
        async with serving_again(emsp):
            await eventually(
                lambda: [
                    r
                    for r in exactly(cpo, "PUT", "/hubclientinfo/receiver/DE/EMA")
                    if r.json()["status"] == "CONNECTED"
                ][1:],
                "the eMSP CONNECTED again",
            )
            await quiet(hub)
        assert exactly(emsp, "GET", "/versions")
        replayed = [
            (r.method, r.path)
            for r in emsp.received
            if not (r.method == "GET" and r.path == "/versions")
            and not r.path.startswith("/hubclientinfo/")
        ]
        assert replayed == []
