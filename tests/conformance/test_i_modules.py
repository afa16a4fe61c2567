"""Conformance checks 45-50 (I. Modules): ChargingProfiles, CDRs, Tokens, Sessions, Locations
and Tariffs through the hub, over real HTTP, with the spec's own JSON examples as bodies.

Bodies are sent as raw bytes (the example files as they are, whitespace included), so "forwarded
unchanged" is asserted byte for byte on the receiving peer. What the hub keeps of what passed
through it is read back through its GET All lists, ``last_updated`` as the owner sent it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx
import orjson
import pytest
from starlette.responses import Response

from tests.conformance.support import (
    Party,
    addressed,
    assert_envelope,
    charging_session,
    exactly,
    from_of,
    get_all,
    hub_party,
    register_all,
    to_of,
    trace,
)
from tests.peers.extrawest.launcher import ExtrawestPeer
from tests.peers.extrawest.registration import register_extrawest
from tests.peers.strict.peer import Received, StrictPeer, envelope, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.shared import SPEC_EXAMPLES

EXAMPLES = SPEC_EXAMPLES

SCSP_MODULES: dict[str, list[str]] = {
    "chargingprofiles": ["SENDER"],
    "sessions": ["RECEIVER"],
    "hubclientinfo": ["RECEIVER"],
}


def example(name: str) -> bytes:
    """A spec example file exactly as published (the bytes the tests send)."""
    return (EXAMPLES / name).read_bytes()


def parsed(name: str) -> Any:
    return orjson.loads(example(name))


# --- helpers ---------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def connected(hub: HubUnderTest, *specs: dict[str, Any]) -> AsyncIterator[list[StrictPeer]]:
    """Strict peers, started, registered and CONNECTED at ``hub``, their logs cleared."""
    async with contextlib.AsyncExitStack() as stack:
        peers = [await stack.enter_async_context(running_peer(**spec)) for spec in specs]
        await register_all(hub, *peers)
        for peer in peers:
            peer.received.clear()
        yield peers


def party(peer: StrictPeer) -> Party:
    return peer.country_code, peer.party_id


def answering(
    data: Any,
    sent: list[bytes],
    status_code: int = 1000,
    *,
    http_status: int = 200,
    headers: dict[str, str] | None = None,
) -> Callable[[Received], Response]:
    """A scripted answer whose exact bytes are kept, to compare with what the hub relays."""

    def handler(_: Received) -> Response:
        body = envelope(data, status_code)
        sent.append(body)
        return Response(
            body, status_code=http_status, headers=headers, media_type="application/json"
        )

    return handler


def assert_hop(received: Received, peer: StrictPeer, sender: Party, receiver: Party) -> None:
    """A forwarded request: the receiver's own token, FROM and TO as the requester set them."""
    assert received.headers["authorization"] == peer.auth(peer.token_b)["Authorization"]
    assert from_of(received) == sender
    assert to_of(received) == receiver


def assert_relayed(
    answer: httpx.Response, sent: bytes, responder: Party, requester: Party, http_status: int = 200
) -> None:
    """The receiver's answer reached the requester unchanged, FROM the receiver (check 22)."""
    assert answer.status_code == http_status, answer.text
    assert answer.content == sent
    assert addressed(answer) == (responder, requester)


async def listed(peer: StrictPeer, hub: HubUnderTest, module: str) -> list[Any]:
    """What the hub stored, through its GET All list (TO = hub)."""
    items, _ = await get_all(peer, hub.endpoint(module, "sender"), peer.hub_party)
    return items


async def eventually(probe: Callable[[], Any], what: str) -> Any:
    """Waits for work another process does in the background (no timing is asserted)."""
    for _ in range(500):
        found = probe()
        if found:
            return found
        await asyncio.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


# --- 45 ChargingProfiles ---------------------------------------------------------------------
CPO45: Party = ("NL", "CPA")
SCSP45: Party = ("DE", "SCS")
EMSP45: Party = ("DE", "EMA")
SESSION45 = "S-45"

CHARGING_PROFILE: dict[str, Any] = {
    "charging_rate_unit": "W",
    "min_charging_rate": 2000.0,
    "charging_profile_period": [
        {"start_period": 0, "limit": 11000.0},
        {"start_period": 1800, "limit": 6000.5},
    ],
}


def hub_url_of(received: Received, where: str) -> str:
    """The hub URL the CPO got in place of the requester's response_url."""
    if where == "body":
        url = received.json()["response_url"]
    else:
        url = dict(parse_qsl(received.query, keep_blank_values=True))["response_url"]
    assert isinstance(url, str)
    return url


@pytest.mark.conformance(45)
async def test_check45_put_get_delete_response_urls_become_hub_urls_and_results_reach_the_original(
    hub: HubUnderTest,
) -> None:
    async with connected(
        hub,
        {"role": "CPO", "country_code": CPO45[0], "party_id": CPO45[1]},
        {"role": "SCSP", "country_code": SCSP45[0], "party_id": SCSP45[1], "modules": SCSP_MODULES},
    ) as (cpo, scsp):
        receiver = f"{hub.endpoint('chargingprofiles', 'receiver')}/{SESSION45}"
        originals = {
            name: f"{scsp.url}/cp-results/{name}-1?ref=a%2Fb" for name in ("put", "get", "delete")
        }
        cpo_answers: list[bytes] = []
        responses = {"PUT": 30, "GET": 20, "DELETE": 10}
        for method, timeout in responses.items():
            cpo.on(
                method,
                f"/chargingprofiles/receiver/{SESSION45}",
                answering({"result": "ACCEPTED", "timeout": timeout}, cpo_answers),
            )
        ids = {method: trace() for method in responses}

        put_body = {"charging_profile": CHARGING_PROFILE, "response_url": originals["put"]}
        put = await scsp.call(
            "PUT", receiver, to=CPO45, content=orjson.dumps(put_body), headers=ids["PUT"]
        )
        get_query = f"duration=900&response_url={quote(originals['get'], safe='')}"
        get = await scsp.call("GET", f"{receiver}?{get_query}", to=CPO45, headers=ids["GET"])
        delete_query = f"response_url={quote(originals['delete'], safe='')}"
        delete = await scsp.call(
            "DELETE", f"{receiver}?{delete_query}", to=CPO45, headers=ids["DELETE"]
        )
        for answer, sent in zip((put, get, delete), cpo_answers, strict=True):
            assert_relayed(answer, sent, CPO45, SCSP45)

        # What the CPO got: the same request, but a unique hub URL for each response_url.
        (put_in,) = exactly(cpo, "PUT", f"/chargingprofiles/receiver/{SESSION45}")
        (get_in,) = exactly(cpo, "GET", f"/chargingprofiles/receiver/{SESSION45}")
        (delete_in,) = exactly(cpo, "DELETE", f"/chargingprofiles/receiver/{SESSION45}")
        for received in (put_in, get_in, delete_in):
            assert_hop(received, cpo, SCSP45, CPO45)
            assert scsp.url not in received.body.decode() + received.query
        forwarded_put = put_in.json()
        assert list(forwarded_put) == list(put_body), "field order kept"
        assert {**forwarded_put, "response_url": originals["put"]} == put_body
        assert parse_qsl(get_in.query)[0] == ("duration", "900")
        assert [k for k, _ in parse_qsl(get_in.query)] == ["duration", "response_url"]
        assert [k for k, _ in parse_qsl(delete_in.query)] == ["response_url"]
        assert delete_in.body == b""
        hub_urls = {
            "put": hub_url_of(put_in, "body"),
            "get": hub_url_of(get_in, "query"),
            "delete": hub_url_of(delete_in, "query"),
        }
        prefix = hub.endpoint("chargingprofiles", "sender") + "/"
        assert len(set(hub_urls.values())) == 3
        for url in hub_urls.values():
            assert url.startswith(prefix) and len(url) > len(prefix), url
            assert "?" not in url
        # The query is kept as sent, with the hub URL URL-encoded in place of the SCSP's own.
        assert get_in.query == f"duration=900&response_url={quote(hub_urls['get'], safe='')}"
        assert delete_in.query == f"response_url={quote(hub_urls['delete'], safe='')}"

        # The CPO POSTs each result to its hub URL; it reaches the SCSP's original URL.
        results = {
            "put": {"result": "ACCEPTED"},
            "get": {
                "result": "ACCEPTED",
                "profile": {
                    "start_date_time": "2026-01-01T00:00:00Z",
                    "charging_profile": CHARGING_PROFILE,
                },
            },
            "delete": {"result": "ACCEPTED"},
        }
        scsp_answers: list[bytes] = []
        scsp.on("POST", "/cp-results/", answering(None, scsp_answers))
        callbacks: dict[str, httpx.Response] = {}
        for name, result in results.items():
            callbacks[name] = await cpo.call(
                "POST", hub_urls[name], to=SCSP45, content=orjson.dumps(result)
            )

    for name, answer in callbacks.items():
        assert_relayed(answer, scsp_answers[list(results).index(name)], SCSP45, CPO45)
    delivered = scsp.requests("POST", "/cp-results/")
    assert [r.path for r in delivered] == [f"/cp-results/{name}-1" for name in results]
    for received, (name, result) in zip(delivered, results.items(), strict=True):
        assert received.query == "ref=a%2Fb", "the original URL's own query is kept"
        assert received.body == orjson.dumps(result), "results are relayed byte for byte"
        assert_hop(received, scsp, CPO45, SCSP45)
        method = name.upper()
        assert received.headers["x-correlation-id"] == ids[method]["X-Correlation-ID"]
        assert received.headers["x-request-id"] != ids[method]["X-Request-ID"]


@pytest.mark.conformance(45)
async def test_check45_result_urls_are_only_for_the_cpo_the_request_went_to(
    hub: HubUnderTest,
) -> None:
    async with connected(
        hub,
        {"role": "CPO", "country_code": CPO45[0], "party_id": CPO45[1]},
        {"role": "CPO", "country_code": "NL", "party_id": "CPB"},
        {"role": "SCSP", "country_code": SCSP45[0], "party_id": SCSP45[1], "modules": SCSP_MODULES},
    ) as (cpo, other, scsp):
        original = f"{scsp.url}/cp-results/get-1"
        receiver = f"{hub.endpoint('chargingprofiles', 'receiver')}/{SESSION45}"
        answer = await scsp.call(
            "GET", f"{receiver}?duration=60&response_url={quote(original, safe='')}", to=CPO45
        )
        assert answer.json()["status_code"] == 1000, answer.text
        (get_in,) = exactly(cpo, "GET", f"/chargingprofiles/receiver/{SESSION45}")
        hub_url = hub_url_of(get_in, "query")
        result = orjson.dumps({"result": "UNKNOWN"})
        stranger = await other.call("POST", hub_url, to=SCSP45, content=result)
        unknown = await cpo.call(
            "POST", hub.endpoint("chargingprofiles", "sender") + "/nope", to=SCSP45, content=result
        )
        # A CPO without routing headers at all (extrawest style) is still routed.
        bare = await cpo.call("POST", hub_url, content=result, routing=False)
    for refused in (stranger, unknown):
        assert refused.status_code == 404, refused.text
        assert assert_envelope(refused)["status_code"] == 2001
    assert bare.json()["status_code"] == 1000, bare.text
    (delivered,) = scsp.requests("POST", "/cp-results/")
    assert delivered.body == result
    assert from_of(delivered) == CPO45


@pytest.mark.conformance(45)
async def test_check45_unsolicited_active_charging_profile_reaches_the_scsp_or_emsp(
    hub: HubUnderTest,
) -> None:
    async with connected(
        hub,
        {"role": "CPO", "country_code": CPO45[0], "party_id": CPO45[1]},
        {"role": "SCSP", "country_code": SCSP45[0], "party_id": SCSP45[1], "modules": SCSP_MODULES},
        {"role": "EMSP", "country_code": EMSP45[0], "party_id": EMSP45[1]},
    ) as (cpo, scsp, emsp):
        # The eMSP's customer's Session passed the hub: the hub knows whose session it is.
        pushed = await cpo.call(
            "PUT",
            f"{hub.endpoint('sessions', 'receiver')}/{CPO45[0]}/{CPO45[1]}/{SESSION45}",
            to=EMSP45,
            json=charging_session(CPO45, SESSION45, EMSP45),
        )
        assert pushed.json()["status_code"] == 1000, pushed.text
        active = orjson.dumps(
            {"start_date_time": "2026-01-01T00:05:00Z", "charging_profile": CHARGING_PROFILE}
        )
        sender_path = f"/chargingprofiles/sender/{SESSION45}"
        url = hub.endpoint("chargingprofiles", "sender") + f"/{SESSION45}"
        answers: list[bytes] = []
        for peer in (scsp, emsp):
            peer.on("PUT", sender_path, answering(None, answers))
        named = await cpo.call("PUT", url, to=SCSP45, content=active)
        open_routed = await cpo.call("PUT", url, content=active)
        # The other way, a profile request names the Session's CPO (a session id alone names
        # no owner: hub policy).
        original = f"{emsp.url}/cp-results/delete-1"
        cleared = await emsp.call(
            "DELETE",
            hub.endpoint("chargingprofiles", "receiver")
            + f"/{SESSION45}?response_url={quote(original, safe='')}",
            to=CPO45,
        )

    assert_relayed(named, answers[0], SCSP45, CPO45)
    assert_relayed(open_routed, answers[1], EMSP45, CPO45)
    assert cleared.json()["status_code"] == 1000, cleared.text
    assert addressed(cleared) == (CPO45, EMSP45)
    (delete_in,) = exactly(cpo, "DELETE", f"/chargingprofiles/receiver/{SESSION45}")
    assert_hop(delete_in, cpo, EMSP45, CPO45)
    (to_scsp,) = exactly(scsp, "PUT", sender_path)
    (to_emsp,) = exactly(emsp, "PUT", sender_path)
    for received, peer, receiver in ((to_scsp, scsp, SCSP45), (to_emsp, emsp, EMSP45)):
        assert received.body == active
        assert received.query == ""
        assert_hop(received, peer, CPO45, receiver)


@pytest.mark.conformance(45)
@pytest.mark.extrawest
async def test_check45_extrawest_cpo_posts_the_result_through_the_hub_url(
    hub: HubUnderTest, extrawest_cpo: ExtrawestPeer
) -> None:
    ext = extrawest_cpo
    cpo = (ext.country_code, ext.party_id)
    await asyncio.to_thread(ext.seed, "sessions", charging_session(cpo, SESSION45, SCSP45))
    await register_extrawest(hub, ext)
    await asyncio.to_thread(ext.clear_outbound)
    scsp_spec = {
        "role": "SCSP",
        "country_code": SCSP45[0],
        "party_id": SCSP45[1],
        "modules": SCSP_MODULES,
    }
    async with connected(hub, scsp_spec) as (scsp,):
        original = f"{scsp.url}/cp-results/get-1?ref=a%2Fb"
        answer = await scsp.call(
            "GET",
            f"{hub.endpoint('chargingprofiles', 'receiver')}/{SESSION45}"
            f"?duration=900&response_url={quote(original, safe='')}",
            to=cpo,
            headers={"X-Correlation-ID": "corr-ext-45"},
        )
        assert answer.json()["status_code"] == 1000, answer.text
        assert addressed(answer) == (cpo, SCSP45)
        delivered = await eventually(
            lambda: scsp.requests("POST", "/cp-results/"), "the extrawest CPO's result"
        )
        seen = await asyncio.to_thread(ext.requests)
        outbound = await asyncio.to_thread(ext.outbound)

    (request,) = [r for r in seen if r["path"].endswith(f"/chargingprofiles/{SESSION45}")]
    query = dict(parse_qsl(request["query"]))
    assert query["duration"] == "900"
    hub_url = query["response_url"]
    assert hub_url.startswith(hub.endpoint("chargingprofiles", "sender") + "/")
    (callback,) = [r for r in outbound if r["method"] == "POST"]
    assert callback["url"] == hub_url
    assert not any(h.startswith(("ocpi-", "x-")) for h in callback["headers"])
    (result,) = delivered
    assert result.path == "/cp-results/get-1"
    assert result.query == "ref=a%2Fb"
    assert result.body == callback["body"].encode(), "relayed byte for byte"
    assert_hop(result, scsp, cpo, SCSP45)
    assert result.headers["x-correlation-id"] == "corr-ext-45"


# --- 46 CDRs ---------------------------------------------------------------------------------
CPO46: Party = ("BE", "BEC")  # cdr_example.json
EMSP46: Party = ("DE", "TNM")  # its cdr_token


@pytest.mark.conformance(46)
async def test_check46_cdr_location_becomes_a_hub_url_only_the_posting_cpo_may_get(
    hub: HubUnderTest,
) -> None:
    raw = example("cdr_example.json")
    cdr_id = orjson.loads(raw)["id"]
    async with connected(
        hub,
        {"role": "CPO", "country_code": CPO46[0], "party_id": CPO46[1]},
        {"role": "EMSP", "country_code": EMSP46[0], "party_id": EMSP46[1]},
        {"role": "CPO", "country_code": "NL", "party_id": "CPB"},
    ) as (cpo, emsp, other):
        emsp_location = f"{emsp.url}/cdrs/receiver/{cdr_id}"
        posted: list[bytes] = []
        location_header = {"Location": emsp_location}
        emsp.on("POST", "/cdrs/receiver", answering(None, posted, headers=location_header))
        got: list[bytes] = []
        emsp.on("GET", f"/cdrs/receiver/{cdr_id}", answering(orjson.loads(raw), got))

        answer = await cpo.call("POST", hub.endpoint("cdrs", "receiver"), to=EMSP46, content=raw)
        assert_relayed(answer, posted[0], EMSP46, CPO46)
        hub_location = answer.headers["location"]
        prefix = hub.endpoint("cdrs", "receiver") + "/"
        assert hub_location.startswith(prefix) and len(hub_location) > len(prefix)
        assert emsp.url not in str(answer.headers), "no peer URL leaks (check 31)"

        fetched = await cpo.call("GET", hub_location, to=EMSP46)
        bare = await cpo.call("GET", hub_location, routing=False)
        stranger = await other.call("GET", hub_location, to=EMSP46)
        own = await emsp.call("GET", hub_location, to=CPO46)
        stored_for_emsp = await listed(emsp, hub, "cdrs")
        # CPOs do not read the CDR list (the role matrix): not the issuer, not another CPO.
        cpo_lists = [
            await peer.call("GET", hub.endpoint("cdrs", "sender"), to=peer.hub_party)
            for peer in (cpo, other)
        ]

    (forwarded,) = exactly(emsp, "POST", "/cdrs/receiver")
    assert forwarded.body == raw, "the CDR is forwarded byte for byte"
    assert_hop(forwarded, emsp, CPO46, EMSP46)

    assert_relayed(fetched, got[0], EMSP46, CPO46)
    assert fetched.json()["data"] == orjson.loads(raw)
    assert bare.content == got[1]
    for refused in (stranger, own):
        assert refused.status_code == 404, refused.text
        assert assert_envelope(refused)["status_code"] == 2001
    gets = exactly(emsp, "GET", f"/cdrs/receiver/{cdr_id}")
    assert len(gets) == 2, "only the posting CPO's GETs reached the eMSP"
    assert_hop(gets[0], emsp, CPO46, EMSP46)

    # The hub kept the CDR as the CPO issued it, for its eMSP.
    assert stored_for_emsp == [orjson.loads(raw)]
    assert stored_for_emsp[0]["last_updated"] == "2015-06-29T22:01:13Z"
    for refused in cpo_lists:
        assert assert_envelope(refused)["status_code"] == 2001, refused.text


# --- 47 Tokens: real-time authorization ------------------------------------------------------
CPO47: Party = ("NL", "CPA")
EMSP47: Party = ("DE", "EMA")
LOCATION_REFERENCES = b'{"location_id": "LOC1", "evse_uids": ["3256", "3257"]}'


def authorization(uid: str, allowed: str) -> dict[str, Any]:
    return {
        "allowed": allowed,
        "token": {
            "country_code": EMSP47[0],
            "party_id": EMSP47[1],
            "uid": uid,
            "type": "RFID",
            "contract_id": f"DE-EMA-C{uid}",
            "issuer": "Conformance eMSP",
            "valid": allowed == "ALLOWED",
            "whitelist": "ALLOWED",
            "last_updated": "2026-01-01T00:00:00Z",
        },
        "location": {"location_id": "LOC1", "evse_uids": ["3256", "3257"]},
        "authorization_reference": f"AUTH-{uid}",
    }


@pytest.mark.conformance(47)
async def test_check47_authorize_keeps_type_and_body_and_relays_the_emsp_answer(
    hub: HubUnderTest,
) -> None:
    async with connected(
        hub,
        {"role": "CPO", "country_code": CPO47[0], "party_id": CPO47[1]},
        {"role": "EMSP", "country_code": EMSP47[0], "party_id": EMSP47[1]},
    ) as (cpo, emsp):
        # The eMSP's Token passed the hub; still, a token uid alone names no owner (hub
        # policy: ids are unique per owner only), so only a named eMSP is asked.
        blocked = authorization("U47", "BLOCKED")
        pushed = await emsp.call(
            "PUT",
            f"{hub.endpoint('tokens', 'receiver')}/{EMSP47[0]}/{EMSP47[1]}/U47",
            to=CPO47,
            json=blocked["token"],
        )
        assert pushed.json()["status_code"] == 1000, pushed.text
        answers: list[bytes] = []
        emsp.on("POST", "/tokens/sender/U47/authorize", answering(blocked, answers))
        emsp.on(
            "POST",
            "/tokens/sender/NOPE/authorize",
            answering(None, answers, status_code=2004, http_status=404),
        )
        authorize = hub.endpoint("tokens", "sender") + "/{}/authorize?type=RFID"
        named = await cpo.call(
            "POST", authorize.format("U47"), to=EMSP47, content=LOCATION_REFERENCES
        )
        open_routed = await cpo.call("POST", authorize.format("U47"), content=LOCATION_REFERENCES)
        unknown = await cpo.call(
            "POST", authorize.format("NOPE"), to=EMSP47, content=LOCATION_REFERENCES
        )

    # AuthorizationInfo, BLOCKED included, is HTTP 200 and relayed unchanged.
    assert_relayed(named, answers[0], EMSP47, CPO47)
    assert assert_envelope(open_routed)["status_code"] == 4001, open_routed.text
    assert named.json()["data"]["allowed"] == "BLOCKED"
    # An unknown Token: the eMSP's HTTP 404 with 2004 is relayed as it is.
    assert_relayed(unknown, answers[1], EMSP47, CPO47, http_status=404)
    assert assert_envelope(unknown)["status_code"] == 2004
    assert "data" not in unknown.json()

    received = emsp.requests("POST", "/tokens/sender/")
    assert [r.path for r in received] == [
        "/tokens/sender/U47/authorize",
        "/tokens/sender/NOPE/authorize",
    ]
    for request in received:
        assert request.query == "type=RFID"
        assert request.body == LOCATION_REFERENCES
        assert_hop(request, emsp, CPO47, EMSP47)


@pytest.mark.conformance(47)
@pytest.mark.extrawest
async def test_check47_authorize_at_an_extrawest_emsp(
    hub: HubUnderTest, extrawest_emsp: ExtrawestPeer
) -> None:
    ext = extrawest_emsp
    owner = (ext.country_code, ext.party_id)
    token = {
        "country_code": ext.country_code,
        "party_id": ext.party_id,
        "uid": "EXT47",
        "type": "RFID",
        "contract_id": f"{ext.country_code}-{ext.party_id}-CEXT47",
        "issuer": "extrawest eMSP",
        "valid": False,
        "whitelist": "ALLOWED",
        "last_updated": "2026-01-01T00:00:00Z",
    }
    await asyncio.to_thread(ext.seed, "tokens", token)
    await register_extrawest(hub, ext)
    cpo_spec = {"role": "CPO", "country_code": CPO47[0], "party_id": CPO47[1]}
    async with connected(hub, cpo_spec) as (cpo,):
        authorize = hub.endpoint("tokens", "sender") + "/{}/authorize?type=RFID"
        blocked = await cpo.call(
            "POST", authorize.format("EXT47"), to=owner, content=LOCATION_REFERENCES
        )
        unknown = await cpo.call(
            "POST", authorize.format("NOPE47"), to=owner, content=LOCATION_REFERENCES
        )
        seen = await asyncio.to_thread(ext.requests)

    calls = [r for r in seen if r["method"] == "POST" and "/authorize" in r["path"]]
    assert len(calls) == 2
    for call, answer in zip(calls, (blocked, unknown), strict=True):
        assert call["query"] == "type=RFID"
        assert call["body"].encode() == LOCATION_REFERENCES
        # Whatever the peer answered (it wraps objects in a list), the CPO gets it unchanged.
        assert answer.status_code == call["response_status"]
        assert answer.content == call["response"]["body"].encode()
        assert addressed(answer) == (owner, CPO47)
    assert blocked.status_code == 200
    data = blocked.json()["data"]
    info = data[0] if isinstance(data, list) else data
    assert info["allowed"] == "BLOCKED"


# --- 48 Tokens: push and GET -----------------------------------------------------------------
EMSP48: Party = ("NL", "TNM")  # token_put_example.json
TOKEN_PATH = "/tokens/receiver/NL/TNM/012345678"


@pytest.mark.conformance(48)
async def test_check48_token_put_patch_to_one_cpo_and_broadcast_and_get(
    hub: HubUnderTest,
) -> None:
    put_raw, patch_raw = example("token_put_example.json"), example("token_patch_example.json")
    url = hub.endpoint("tokens", "receiver") + TOKEN_PATH.removeprefix("/tokens/receiver")
    async with connected(
        hub,
        {"role": "EMSP", "country_code": EMSP48[0], "party_id": EMSP48[1]},
        {"role": "CPO", "country_code": "NL", "party_id": "CPA"},
        {"role": "CPO", "country_code": "BE", "party_id": "CPB"},
    ) as (emsp, cpa, cpb):
        answers: list[bytes] = []
        cpa.on("PUT", TOKEN_PATH, answering(None, answers))
        cpa.on("PATCH", TOKEN_PATH, answering(None, answers))
        put = await emsp.call("PUT", url, to=party(cpa), content=put_raw)
        patch = await emsp.call("PATCH", url + "?type=RFID", to=party(cpa), content=patch_raw)
        assert_relayed(put, answers[0], party(cpa), EMSP48)
        assert_relayed(patch, answers[1], party(cpa), EMSP48)
        assert cpb.received == [], "addressed to one CPO, so the other got nothing"

        # The same pushes as broadcasts (TO = hub) reach both CPOs, FROM the hub.
        for method, suffix, raw in (("PUT", "", put_raw), ("PATCH", "?type=RFID", patch_raw)):
            answer = await emsp.call(method, url + suffix, to=emsp.hub_party, content=raw)
            assert answer.json()["status_code"] == 1000, answer.text
            assert addressed(answer) == (hub_party(hub), EMSP48)
        await hub.settle()

        # GET of the CPO's copy through the hub, ?type kept.
        got: list[bytes] = []
        stored_at_cpo = {**orjson.loads(put_raw), **orjson.loads(patch_raw)}
        cpa.on("GET", TOKEN_PATH, answering(stored_at_cpo, got))
        fetched = await emsp.call("GET", url + "?type=RFID", to=party(cpa))
        stored = await listed(cpa, hub, "tokens")

    assert_relayed(fetched, got[0], party(cpa), EMSP48)
    (get_in,) = exactly(cpa, "GET", TOKEN_PATH)
    assert get_in.query == "type=RFID"
    assert_hop(get_in, cpa, EMSP48, party(cpa))

    puts, patches = exactly(cpa, "PUT", TOKEN_PATH), exactly(cpa, "PATCH", TOKEN_PATH)
    assert [r.body for r in puts] == [put_raw, put_raw], "byte for byte, direct and broadcast"
    assert [r.body for r in patches] == [patch_raw, patch_raw]
    assert [r.query for r in patches] == ["type=RFID", "type=RFID"]
    assert_hop(puts[0], cpa, EMSP48, party(cpa))
    assert_hop(puts[1], cpa, hub_party(hub), party(cpa))
    (cpb_put,) = exactly(cpb, "PUT", TOKEN_PATH)
    (cpb_patch,) = exactly(cpb, "PATCH", TOKEN_PATH)
    assert cpb_put.body == put_raw and cpb_patch.body == patch_raw
    assert_hop(cpb_patch, cpb, hub_party(hub), party(cpb))

    # The hub keeps the Token with the PATCH applied and the eMSP's last_updated.
    assert stored == [stored_at_cpo]
    assert stored[0]["valid"] is False
    assert stored[0]["last_updated"] == "2019-06-19T02:11:11Z"


# --- 49 Sessions -----------------------------------------------------------------------------
CPO49: Party = ("NL", "STK")  # session_example_1_simple_start.json
EMSP49: Party = ("NL", "TST")  # its cdr_token
CHARGING_PREFERENCES = (
    b'{"profile_type": "FAST", "departure_time": "2019-06-23T12:00:00Z", "energy_need": 32.5}'
)


@pytest.mark.conformance(49)
async def test_check49_session_put_patch_and_charging_preferences(hub: HubUnderTest) -> None:
    started = parsed("session_example_1_simple_start.json")
    # The PATCH example's session started just before its charging period: the PUT is dated
    # before it, so the hub keeps the PATCH (it never stores an older push over a newer one).
    started.update(start_date_time="2019-06-23T08:00:00Z", last_updated="2019-06-23T08:00:00Z")
    put_raw = orjson.dumps(started)
    patch_raw = example("session_patch_example_charging_period.json")
    session_id = started["id"]
    path = f"/sessions/receiver/{CPO49[0]}/{CPO49[1]}/{session_id}"
    preferences_path = f"/sessions/sender/{session_id}/charging_preferences"
    async with connected(
        hub,
        {"role": "CPO", "country_code": CPO49[0], "party_id": CPO49[1]},
        {"role": "EMSP", "country_code": EMSP49[0], "party_id": EMSP49[1]},
    ) as (cpo, emsp):
        answers: list[bytes] = []
        emsp.on("PUT", path, answering(None, answers))
        emsp.on("PATCH", path, answering(None, answers))
        url = hub.endpoint("sessions", "receiver") + path.removeprefix("/sessions/receiver")
        put = await cpo.call("PUT", url, to=EMSP49, content=put_raw)
        patch = await cpo.call("PATCH", url, to=EMSP49, content=patch_raw)
        assert_relayed(put, answers[0], EMSP49, CPO49)
        assert_relayed(patch, answers[1], EMSP49, CPO49)

        preferences: list[bytes] = []
        cpo.on("PUT", preferences_path, answering("ACCEPTED", preferences))
        preferences_url = hub.endpoint("sessions", "sender") + preferences_path.removeprefix(
            "/sessions/sender"
        )
        named = await emsp.call("PUT", preferences_url, to=CPO49, content=CHARGING_PREFERENCES)
        # Without TO: a session id alone names no CPO (hub policy), so nothing is forwarded.
        open_routed = await emsp.call("PUT", preferences_url, content=CHARGING_PREFERENCES)
        stored_for_emsp = await listed(emsp, hub, "sessions")

    (put_in,) = exactly(emsp, "PUT", path)
    (patch_in,) = exactly(emsp, "PATCH", path)
    assert put_in.body == put_raw
    assert patch_in.body == patch_raw, "the spec's PATCH example is forwarded unchanged"
    for received in (put_in, patch_in):
        assert_hop(received, emsp, CPO49, EMSP49)

    assert_relayed(named, preferences[0], CPO49, EMSP49)
    assert assert_envelope(open_routed)["status_code"] == 4001, open_routed.text
    assert named.json()["data"] == "ACCEPTED"
    received_preferences = exactly(cpo, "PUT", preferences_path)
    assert [r.body for r in received_preferences] == [CHARGING_PREFERENCES]
    for received in received_preferences:
        assert_hop(received, cpo, EMSP49, CPO49)

    # The hub keeps the Session with the PATCH applied (charging periods added) and the
    # CPO's last_updated.
    patch_body = orjson.loads(patch_raw)
    expected = {**started, **patch_body}
    assert stored_for_emsp == [expected]
    assert stored_for_emsp[0]["last_updated"] == "2019-06-23T08:16:02Z"
    assert stored_for_emsp[0]["charging_periods"] == patch_body["charging_periods"]


# --- 50 Locations and Tariffs ----------------------------------------------------------------
CPO50: Party = ("NL", "TNM")  # the location_*_example requests go to .../locations/NL/TNM/1012
EMSP50: Party = ("DE", "EMA")
LOCATION_ID = "1012"


def base_location() -> dict[str, Any]:
    """``location_example.json`` as Location 1012 of NL*TNM with EVSEs 3255 and 3257, so the
    spec's PATCH examples (1012, 1012/3255, 1012/3255/2) and the added EVSE 3256 fit it."""
    body: dict[str, Any] = parsed("location_example.json")
    body.update(country_code=CPO50[0], party_id=CPO50[1], id=LOCATION_ID)
    body["evses"][0].update(uid="3255", evse_id="NL*TNM*E041503001")
    body["evses"][1].update(evse_id="NL*TNM*E041503002")
    return body


def repaired_added_evse() -> dict[str, Any]:
    """``location_put_example_add_evse.json`` with its defects fixed (the connector's required
    fields added, the non-spec ``floor`` dropped, ``physical_reference`` a string)."""
    evse: dict[str, Any] = parsed("location_put_example_add_evse.json")
    del evse["floor"]
    evse["physical_reference"] = "3"
    evse["connectors"][0].update(
        power_type="AC_3_PHASE",
        max_voltage=230,
        max_amperage=16,
        last_updated=evse["last_updated"],
    )
    return evse


async def push_locations(
    cpo: StrictPeer, hub: HubUnderTest, pushes: list[tuple[str, str, bytes]]
) -> list[httpx.Response]:
    base = hub.endpoint("locations", "receiver")
    return [
        await cpo.call(method, base + suffix, to=EMSP50, content=raw)
        for method, suffix, raw in pushes
    ]


@pytest.mark.conformance(50)
async def test_check50_locations_put_and_patch_at_every_depth_and_evse_removed(
    hub: HubUnderTest,
) -> None:
    location_raw = orjson.dumps(base_location())
    connector = {
        **base_location()["evses"][0]["connectors"][0],
        "max_amperage": 32,
        "last_updated": "2019-06-24T12:39:09Z",
    }
    pushes = [
        ("PUT", "/NL/TNM/1012", location_raw),
        ("PATCH", "/NL/TNM/1012", example("location_patch_example_location.json")),
        ("PUT", "/NL/TNM/1012/3256", orjson.dumps(repaired_added_evse())),
        ("PATCH", "/NL/TNM/1012/3255", example("location_patch_example_status.json")),
        ("PUT", "/NL/TNM/1012/3255/1", orjson.dumps(connector)),
        ("PATCH", "/NL/TNM/1012/3255/2", example("location_patch_example_tariff.json")),
        ("PATCH", "/NL/TNM/1012/3256", example("location_patch_example_remove_evse.json")),
    ]
    async with connected(
        hub,
        {"role": "CPO", "country_code": CPO50[0], "party_id": CPO50[1]},
        {"role": "EMSP", "country_code": EMSP50[0], "party_id": EMSP50[1]},
    ) as (cpo, emsp):
        answers: list[bytes] = []
        for method in ("PUT", "PATCH"):
            emsp.on(method, "/locations/receiver/", answering(None, answers))
        # The spec's add-EVSE example is invalid (connector fields missing): refused, unsent.
        (defective,) = await push_locations(
            cpo, hub, [("PUT", "/NL/TNM/1012/3256", example("location_put_example_add_evse.json"))]
        )
        assert defective.status_code == 200
        assert assert_envelope(defective)["status_code"] == 2001, defective.text
        assert addressed(defective) == (hub_party(hub), CPO50)
        assert emsp.received == []

        relayed = await push_locations(cpo, hub, pushes)
        stored = await listed(emsp, hub, "locations")

    for answer, sent in zip(relayed, answers, strict=True):
        assert_relayed(answer, sent, EMSP50, CPO50)
    received = emsp.requests(prefix="/locations/receiver/")
    assert [(r.method, r.path.removeprefix("/locations/receiver")) for r in received] == [
        (method, suffix) for method, suffix, _ in pushes
    ]
    for request, (_, _, raw) in zip(received, pushes, strict=True):
        assert request.body == raw, request.path
        assert_hop(request, emsp, CPO50, EMSP50)

    # What the hub keeps: every change applied, each object's last_updated as the CPO sent it.
    (location,) = stored
    expected = base_location()
    expected.update(name="Interparking Gent Zuid", last_updated="2019-06-24T12:39:09Z")
    evse_3255 = expected["evses"][0]
    evse_3255.update(status="CHARGING", last_updated="2019-06-24T12:39:09Z")
    evse_3255["connectors"][0] = connector
    evse_3255["connectors"][1].update(tariff_ids=["15"], last_updated="2019-06-24T12:39:09Z")
    added = {**repaired_added_evse(), "status": "REMOVED"}
    assert location == {**expected, "evses": [evse_3255, expected["evses"][1], added]}
    assert location["evses"][1]["last_updated"] == "2015-06-29T20:39:09Z", "untouched sibling"


@pytest.mark.conformance(50)
async def test_check50_transparent_hub_relays_the_defective_add_evse_example_untouched() -> None:
    raw = example("location_put_example_add_evse.json")
    async with (
        running_hub(validation="transparent") as hub,
        connected(
            hub,
            {"role": "CPO", "country_code": CPO50[0], "party_id": CPO50[1]},
            {"role": "EMSP", "country_code": EMSP50[0], "party_id": EMSP50[1]},
        ) as (cpo, emsp),
    ):
        answers: list[bytes] = []
        emsp.on("PUT", "/locations/receiver/", answering(None, answers))
        location_put, evse_put = await push_locations(
            cpo,
            hub,
            [
                ("PUT", "/NL/TNM/1012", orjson.dumps(base_location())),
                ("PUT", "/NL/TNM/1012/3256", raw),
            ],
        )
        stored = await listed(emsp, hub, "locations")

    assert_relayed(location_put, answers[0], EMSP50, CPO50)
    assert_relayed(evse_put, answers[1], EMSP50, CPO50)
    (received,) = exactly(emsp, "PUT", "/locations/receiver/NL/TNM/1012/3256")
    assert received.body == raw, "relayed byte for byte"
    assert_hop(received, emsp, CPO50, EMSP50)
    # Relayed, but an invalid object is not stored.
    assert stored == [base_location()]


CPO50_TARIFFS: Party = ("DE", "ALL")  # tariff_1_simple_2hour.json


@pytest.mark.conformance(50)
async def test_check50_tariff_put_and_delete(hub: HubUnderTest) -> None:
    raw = example("tariff_1_simple_2hour.json")
    tariff_id = orjson.loads(raw)["id"]
    path = f"/tariffs/receiver/{CPO50_TARIFFS[0]}/{CPO50_TARIFFS[1]}/{tariff_id}"
    url = hub.endpoint("tariffs", "receiver") + path.removeprefix("/tariffs/receiver")
    async with connected(
        hub,
        {"role": "CPO", "country_code": CPO50_TARIFFS[0], "party_id": CPO50_TARIFFS[1]},
        {"role": "EMSP", "country_code": EMSP50[0], "party_id": EMSP50[1]},
    ) as (cpo, emsp):
        answers: list[bytes] = []
        emsp.on("PUT", path, answering(None, answers))
        emsp.on("DELETE", path, answering(None, answers))
        put = await cpo.call("PUT", url, to=EMSP50, content=raw)
        after_put = await listed(emsp, hub, "tariffs")
        delete = await cpo.call("DELETE", url, to=EMSP50)
        after_delete = await listed(emsp, hub, "tariffs")

    assert_relayed(put, answers[0], EMSP50, CPO50_TARIFFS)
    assert_relayed(delete, answers[1], EMSP50, CPO50_TARIFFS)
    (put_in,) = exactly(emsp, "PUT", path)
    (delete_in,) = exactly(emsp, "DELETE", path)
    assert put_in.body == raw
    assert delete_in.body == b""
    assert delete_in.query == ""
    for received in (put_in, delete_in):
        assert_hop(received, emsp, CPO50_TARIFFS, EMSP50)
    assert after_put == [orjson.loads(raw)]
    assert after_put[0]["last_updated"] == "2015-06-29T20:39:09Z"
    assert after_delete == []
