"""The extrawest peer harness over real HTTP against real peer processes."""

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.peers.extrawest.launcher import ExtrawestPeer, auth_header, encode_token

pytestmark = pytest.mark.extrawest


def location(peer: ExtrawestPeer, location_id: str) -> dict[str, Any]:
    return {
        "country_code": peer.country_code,
        "party_id": peer.party_id,
        "id": location_id,
        "publish": True,
        "address": "Stationsplein 1",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.089700", "longitude": "5.110500"},
        "time_zone": "Europe/Amsterdam",
        "last_updated": "2025-03-01T10:00:00Z",
    }


def token(peer: ExtrawestPeer, uid: str, *, valid: bool = True) -> dict[str, Any]:
    return {
        "country_code": peer.country_code,
        "party_id": peer.party_id,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"NL-EXE-C{uid}",
        "issuer": "extrawest test eMSP",
        "valid": valid,
        "whitelist": "ALLOWED",
        "last_updated": "2025-03-01T10:00:00Z",
    }


def credentials_for(peer: ExtrawestPeer, token_value: str) -> dict[str, Any]:
    """A credentials object naming ``peer`` as the registering party."""
    return {
        "token": token_value,
        "url": peer.versions_url,
        "roles": [
            {
                "role": peer.role,
                "business_details": {"name": "registering party"},
                "country_code": peer.country_code,
                "party_id": peer.party_id,
            }
        ],
    }


async def wait_for(probe: Callable[[], Any], what: str) -> Any:
    """Poll ``probe()`` until it returns something truthy (work done in a background task)."""
    for _ in range(150):
        found = await asyncio.to_thread(probe)
        if found:
            return found
        await asyncio.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


async def test_versions_list_221_with_token_a(extrawest_cpo: ExtrawestPeer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            extrawest_cpo.versions_url, headers=auth_header(extrawest_cpo.token_a)
        )
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert body["data"] == [{"version": "2.2.1", "url": extrawest_cpo.details_url}]


async def test_cpo_details_advertise_commands(extrawest_cpo: ExtrawestPeer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            extrawest_cpo.details_url, headers=auth_header(extrawest_cpo.token_a)
        )
    data = response.json()["data"]
    assert data["version"] == "2.2.1"
    endpoints = {(e["identifier"], e["role"]): e["url"] for e in data["endpoints"]}
    assert endpoints[("commands", "RECEIVER")] == extrawest_cpo.endpoint_url("commands")
    assert endpoints[("locations", "SENDER")] == extrawest_cpo.endpoint_url("locations")
    assert endpoints[("credentials", "RECEIVER")] == extrawest_cpo.endpoint_url("credentials")
    assert endpoints[("hubclientinfo", "RECEIVER")].endswith("/ocpi/cpo/2.2.1/clientinfo/")


async def test_emsp_details_list_emsp_interfaces(extrawest_emsp: ExtrawestPeer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            extrawest_emsp.details_url, headers=auth_header(extrawest_emsp.token_c)
        )
    endpoints = {(e["identifier"], e["role"]) for e in response.json()["data"]["endpoints"]}
    assert {("commands", "SENDER"), ("tokens", "SENDER"), ("locations", "RECEIVER")} <= endpoints


async def test_unknown_token_is_refused_with_403(extrawest_cpo: ExtrawestPeer) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            extrawest_cpo.endpoint_url("locations"), headers=auth_header("not-a-known-token")
        )
    assert response.status_code == 403


async def test_registration_with_token_a_returns_working_token_c(
    extrawest_cpo: ExtrawestPeer, extrawest_emsp: ExtrawestPeer
) -> None:
    """Registration driven like a hub: the eMSP peer stands in as the registering party."""
    extrawest_emsp.clear_requests()
    token_b = extrawest_emsp.token_a
    credentials_url = extrawest_cpo.endpoint_url("credentials")
    async with httpx.AsyncClient() as client:
        posted = await client.post(
            credentials_url,
            json=credentials_for(extrawest_emsp, token_b),
            headers=auth_header(extrawest_cpo.token_a),
        )
        body = posted.json()
        assert posted.status_code == 200, body
        assert body["status_code"] == 1000
        token_c = body["data"]["token"]
        assert token_c not in {extrawest_cpo.token_a, extrawest_cpo.token_c}
        assert body["data"]["url"] == extrawest_cpo.versions_url
        assert body["data"]["roles"][0]["party_id"] == extrawest_cpo.party_id

        fetched = await client.get(credentials_url, headers=auth_header(token_c))
        listed = await client.get(
            extrawest_cpo.endpoint_url("locations"), headers=auth_header(token_c)
        )
        again = await client.post(
            credentials_url,
            json=credentials_for(extrawest_emsp, token_b),
            headers=auth_header(token_c),
        )
    assert fetched.json()["data"]["token"] == token_c
    assert listed.json()["status_code"] == 1000
    assert again.status_code == 405
    assert token_c in extrawest_cpo.accepted_tokens

    seen = [(r["method"], r["path"]) for r in extrawest_emsp.requests()]
    assert seen == [("GET", "/ocpi/versions"), ("GET", "/ocpi/2.2.1/details")]
    sent_by_cpo = {r["url"]: r for r in extrawest_cpo.outbound()}
    handshake = sent_by_cpo[extrawest_emsp.versions_url]
    assert handshake["headers"]["authorization"] == f"Token {encode_token(token_b)}"
    assert handshake["response_status"] == 200


async def test_side_door_records_requests_and_store(extrawest_emsp: ExtrawestPeer) -> None:
    extrawest_emsp.clear_requests()
    owner = ExtrawestPeer("CPO", party_id="ABC")
    url = f"{extrawest_emsp.endpoint_url('locations')}NL/ABC/loc-7?trace=1"
    async with httpx.AsyncClient() as client:
        response = await client.put(
            url,
            json=location(owner, "loc-7"),
            headers={**auth_header(extrawest_emsp.token_c), "X-Request-ID": "req-1"},
        )
    assert response.json()["status_code"] == 1000

    (seen,) = extrawest_emsp.requests()
    assert seen["method"] == "PUT"
    assert seen["path"] == "/ocpi/emsp/2.2.1/locations/NL/ABC/loc-7"
    assert seen["query"] == "trace=1"
    assert seen["headers"]["x-request-id"] == "req-1"
    assert seen["json"]["id"] == "loc-7"
    assert seen["response_status"] == 200
    stored = extrawest_emsp.store("locations")["NL/ABC/LOC-7"]
    assert stored["id"] == "LOC-7", "the peer upper-cases CiString fields"


async def test_authorize_answers_from_seeded_tokens(extrawest_emsp: ExtrawestPeer) -> None:
    extrawest_emsp.seed("tokens", token(extrawest_emsp, "AB12"), token(extrawest_emsp, "CD34"))
    extrawest_emsp.seed("tokens", token(extrawest_emsp, "CD34", valid=False))
    async with httpx.AsyncClient() as client:
        answers = [
            await client.post(
                f"{extrawest_emsp.endpoint_url('tokens')}{uid}/authorize",
                headers=auth_header(extrawest_emsp.token_c),
            )
            for uid in ("AB12", "CD34", "EF56")
        ]
    allowed, blocked, unknown = answers
    assert allowed.json()["data"][0]["allowed"] == "ALLOWED"
    assert blocked.json()["data"][0]["allowed"] == "BLOCKED"
    assert unknown.status_code == 404


async def test_cpo_posts_command_result_to_response_url(
    extrawest_cpo: ExtrawestPeer, extrawest_emsp: ExtrawestPeer
) -> None:
    extrawest_cpo.seed("locations", location(extrawest_cpo, "LOC1"))
    extrawest_cpo.set_item("config", "client_token", extrawest_emsp.token_c)
    response_url = f"{extrawest_emsp.endpoint_url('commands')}cmd-42"
    command = {
        "response_url": response_url,
        "token": token(extrawest_emsp, "AB12"),
        "location_id": "LOC1",
        "evse_uid": "EVSE1",
    }
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{extrawest_cpo.endpoint_url('commands')}START_SESSION",
            json=command,
            headers=auth_header(extrawest_cpo.token_c),
        )
    body = response.json()
    assert body["status_code"] == 1000
    assert body["data"] == [{"result": "ACCEPTED", "timeout": 30, "message": []}]

    result = await wait_for(
        lambda: extrawest_emsp.store("command_results").get("cmd-42"), "the CommandResult"
    )
    assert result["result"] == "ACCEPTED"
    (callback,) = [r for r in extrawest_cpo.outbound() if r["url"] == response_url]
    assert callback["headers"]["authorization"] == f"Token {encode_token(extrawest_emsp.token_c)}"
    assert not any(h.startswith("ocpi-") for h in callback["headers"])
