"""Conformance checks 1-7 (A. Envelope, auth, types)."""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.conformance.support import assert_envelope, location, token_header
from tests.peers.strict.peer import running_peer
from tests.support.hub import HubUnderTest


@pytest.mark.conformance(1)
async def test_check01_every_response_is_an_envelope_with_an_ocpi_timestamp(
    hub: HubUnderTest,
) -> None:
    token_a = await hub.onboard("CPO", "NL", "AAA")
    async with httpx.AsyncClient() as client:
        answers = [
            await client.get(hub.versions_url, headers=token_header(token_a)),
            await client.get(hub.details_url, headers=token_header(token_a)),
            await client.get(f"{hub.url}/ocpi/2.2.1/credentials", headers=token_header(token_a)),
            await client.get(hub.versions_url),
            await client.get(f"{hub.url}/ocpi/2.2.1/nothing", headers=token_header(token_a)),
        ]
    codes = [assert_envelope(a)["status_code"] for a in answers]
    assert codes[:3] == [1000, 1000, 1000]
    assert "+00:00" not in answers[0].text


@pytest.mark.conformance(2)
async def test_check02_body_that_is_not_json_is_http_400_with_2001(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="CPA") as cpo:
        await cpo.register(hub)
        answer = await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
            to=cpo.hub_party,
            content=b'{"id": "L1", ',
        )
    assert answer.status_code == 400
    assert assert_envelope(answer)["status_code"] == 2001


@pytest.mark.conformance(3)
async def test_check03_missing_or_unknown_token_is_401(hub: HubUnderTest) -> None:
    async with httpx.AsyncClient() as client:
        for url in (hub.versions_url, hub.details_url, hub.endpoint("locations", "sender")):
            missing = await client.get(url)
            unknown = await client.get(url, headers=token_header("no-such-token"))
            garbage = await client.get(url, headers={"Authorization": "Bearer xyz"})
            for answer in (missing, unknown, garbage):
                assert answer.status_code == 401, (url, answer.text)
                assert_envelope(answer)


@pytest.mark.conformance(4)
async def test_check04_token_a_only_opens_versions_and_credentials(hub: HubUnderTest) -> None:
    token_a = await hub.onboard("CPO", "NL", "AAA")
    auth = token_header(token_a)
    async with httpx.AsyncClient() as client:
        assert (await client.get(hub.versions_url, headers=auth)).status_code == 200
        assert (await client.get(hub.details_url, headers=auth)).status_code == 200
        credentials = await client.get(f"{hub.url}/ocpi/2.2.1/credentials", headers=auth)
        assert credentials.status_code == 200
        for module in (
            "locations/sender",
            "tokens/receiver/NL/AAA/1",
            "commands/receiver/START_SESSION",
        ):
            answer = await client.get(f"{hub.url}/ocpi/2.2.1/{module}", headers=auth)
            assert answer.status_code == 401, module
        clientinfo = await client.get(f"{hub.url}/ocpi/2.2.1/hubclientinfo", headers=auth)
        assert clientinfo.status_code == 401


@pytest.mark.conformance(5)
async def test_check05_base64_tokens_in_and_out(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="CPA") as cpo:
        await cpo.register(hub)
        expected = "Token " + base64.b64encode(cpo.token_b.encode()).decode()
        # The hub's GETs during registration used the peer's token B, Base64-encoded.
        assert {r.headers["authorization"] for r in cpo.received} == {expected}
        # A raw (not encoded) token C is refused for a platform that is not flagged legacy.
        async with httpx.AsyncClient() as client:
            raw = await client.get(
                hub.versions_url, headers={"Authorization": f"Token {cpo.token_c}"}
            )
        assert raw.status_code == 401


@pytest.mark.conformance(5)
async def test_check05_legacy_flag_uses_raw_tokens_both_ways(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="CPL", legacy=True) as cpo:
        await cpo.register(hub)
        assert {r.headers["authorization"] for r in cpo.received} == {f"Token {cpo.token_b}"}
        answer = await cpo.call("GET", hub.endpoint("locations", "sender"), to=cpo.hub_party)
        assert answer.status_code == 200


@pytest.mark.conformance(6)
async def test_check06_country_code_and_party_id_are_case_insensitive(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="nl", party_id="cpa") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        # Lower-case FROM header, URL segments and body; upper-case TO as the eMSP knows it.
        answer = await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/nl/cpa/L1",
            to=("de", "ema"),
            json=location("nl", "cpa", "L1"),
        )
        assert answer.json()["status_code"] == 1000, answer.text
        assert emsp.requests("PUT", "/locations/receiver/nl/cpa/L1")
        reply = await emsp.call(
            "GET", hub.endpoint("locations", "sender") + "/L1", to=("NL", "CPA")
        )
        assert reply.status_code == 200
        assert cpo.requests("GET", "/locations/sender/L1")


@pytest.mark.conformance(7)
async def test_check07_outgoing_bodies_are_json_typed(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
            to=cpo.hub_party,
            json=location("NL", "CPA", "L1"),
        )
        await hub.settle()
    with_body = [r for r in cpo.received + emsp.received if r.body]
    assert with_body, "the hub sent no request with a body"
    assert all(r.headers["content-type"] == "application/json" for r in with_body)
