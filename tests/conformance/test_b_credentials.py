"""Conformance checks 8-17 (B. Versions and credentials)."""

from __future__ import annotations

import httpx
import pytest
from starlette.responses import Response

from ocpi_adapter.credentials import flows
from ocpi_adapter.errors import OcpiError
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.types import ConnectionStatus
from tests.conformance.support import assert_envelope, location, token_header
from tests.peers.strict.peer import Received, ocpi, running_peer
from tests.support.hub import HubUnderTest

FUNCTIONAL = ("locations", "sessions", "cdrs", "tariffs", "tokens", "commands", "chargingprofiles")


@pytest.mark.conformance(8)
async def test_check08_versions_and_details(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="CPA") as cpo:
        token_a = await hub.onboard("CPO", "NL", "CPA")
        async with httpx.AsyncClient() as client:
            with_a = (await client.get(hub.versions_url, headers=token_header(token_a))).json()
            await cpo.register(hub)
            with_c = (await client.get(hub.versions_url, headers=cpo.auth())).json()
            details = (await client.get(hub.details_url, headers=cpo.auth())).json()["data"]
    for versions in (with_a, with_c):
        assert {"version": "2.2.1", "url": hub.details_url} in versions["data"]
    assert details["version"] == "2.2.1"
    offered = {(e["identifier"], e["role"]) for e in details["endpoints"]}
    assert ("hubclientinfo", "SENDER") in offered
    assert any(identifier == "credentials" for identifier, _ in offered)
    for module in FUNCTIONAL:
        assert {(module, "SENDER"), (module, "RECEIVER")} <= offered, module


@pytest.mark.conformance(9)
async def test_check09_urls_with_and_without_trailing_slash(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="CPA") as cpo:
        await cpo.register(hub)
        async with httpx.AsyncClient() as client:
            for url in (hub.versions_url, hub.details_url, f"{hub.url}/ocpi/2.2.1/credentials"):
                assert (await client.get(url + "/", headers=cpo.auth())).status_code == 200
                assert (await client.get(url, headers=cpo.auth())).status_code == 200
        base = hub.endpoint("locations", "receiver") + "/NL/CPA/L1"
        for url in (base, base + "/"):
            answer = await cpo.call("PUT", url, to=cpo.hub_party, json=location("NL", "CPA", "L1"))
            assert answer.json()["status_code"] == 1000, answer.text
        listing = await cpo.call("GET", hub.endpoint("tokens", "sender") + "/", to=cpo.hub_party)
        assert listing.json()["status_code"] == 1000


@pytest.mark.conformance(10)
async def test_check10_registration_with_token_a(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="CPA") as cpo:
        token_a = await hub.onboard("CPO", "NL", "CPA")
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                f"{hub.url}/ocpi/2.2.1/credentials",
                headers=token_header(token_a),
                json={"token": cpo.token_b, "url": cpo.versions_url, "roles": cpo.roles()},
            )
            body = assert_envelope(answer)
            assert body["status_code"] == 1000
            data = body["data"]
            assert data["token"] != token_a
            assert data["url"] == hub.versions_url
            assert len(data["roles"]) == 1
            assert data["roles"][0]["role"] == "HUB"
            # The hub fetched the peer's versions and details with the peer's token B.
            assert [r.path for r in cpo.requests("GET")][:2] == ["/versions", "/2.2.1"]
            token_c = data["token"]
            assert (
                await client.get(hub.details_url, headers=token_header(token_c))
            ).status_code == 200
            assert (
                await client.get(hub.details_url, headers=token_header(token_a))
            ).status_code == 401


@pytest.mark.conformance(11)
async def test_check11_post_twice_and_put_or_delete_before_registering_are_405(
    hub: HubUnderTest,
) -> None:
    async with running_peer(role="CPO", party_id="CPA") as cpo:
        await cpo.register(hub)
        credentials = {"token": cpo.token_b, "url": cpo.versions_url, "roles": cpo.roles()}
        async with httpx.AsyncClient() as client:
            again = await client.post(
                f"{hub.url}/ocpi/2.2.1/credentials", headers=cpo.auth(), json=credentials
            )
            assert again.status_code == 405
            assert_envelope(again)
            token_a = await hub.onboard("EMSP", "DE", "EMA")
            put = await client.put(
                f"{hub.url}/ocpi/2.2.1/credentials", headers=token_header(token_a), json=credentials
            )
            delete = await client.delete(
                f"{hub.url}/ocpi/2.2.1/credentials", headers=token_header(token_a)
            )
    assert put.status_code == 405
    assert delete.status_code == 405


@pytest.mark.conformance(12)
async def test_check12_put_credentials_rotates_tokens_and_refetches_endpoints(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        old_c = emsp.token_c
        emsp.received.clear()
        moved = f"{emsp.url}/v2/locations"
        emsp.modules = {"locations": [], "tokens": ["SENDER"], "hubclientinfo": ["RECEIVER"]}
        emsp.token_b = "rotated-token-b-" + emsp.token_b[:8]

        def details(_: Received) -> Response:
            return ocpi(
                {
                    "version": "2.2.1",
                    "endpoints": [
                        *emsp._endpoints(),
                        {"identifier": "locations", "role": "RECEIVER", "url": moved},
                    ],
                }
            )

        emsp.on("GET", "/2.2.1", details)
        async with httpx.AsyncClient() as client:
            answer = await client.put(
                f"{hub.url}/ocpi/2.2.1/credentials",
                headers=emsp.auth(),
                json={"token": emsp.token_b, "url": emsp.versions_url, "roles": emsp.roles()},
            )
            body = answer.json()
            assert body["status_code"] == 1000, body
            emsp.token_c = body["data"]["token"]
            assert emsp.token_c != old_c
            refetched = emsp.requests("GET")
            assert [r.path for r in refetched][:2] == ["/versions", "/2.2.1"]
            assert {r.headers["authorization"] for r in refetched} == {
                token_header(emsp.token_b)["Authorization"]
            }
            stale = await client.get(hub.details_url, headers=token_header(old_c or ""))
            assert stale.status_code == 401
        await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
            to=("DE", "EMA"),
            json=location("NL", "CPA", "L1"),
        )
        assert emsp.requests("PUT", "/v2/locations/NL/CPA/L1")


@pytest.mark.conformance(13)
async def test_check13_delete_unregisters(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        cpo.received.clear()
        async with httpx.AsyncClient() as client:
            gone = await client.delete(f"{hub.url}/ocpi/2.2.1/credentials", headers=emsp.auth())
            assert gone.json()["status_code"] == 1000
            await hub.settle()
            after = await client.get(hub.details_url, headers=emsp.auth())
        assert after.status_code == 401
        suspended = [r.json() for r in cpo.requests("PUT", "/hubclientinfo/receiver/DE/EMA")]
        assert suspended and suspended[-1]["status"] == "SUSPENDED"
        emsp.received.clear()
        await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
            to=cpo.hub_party,
            json=location("NL", "CPA", "L1"),
        )
        await hub.settle()
        assert emsp.received == []


async def _post_credentials(
    hub: HubUnderTest, token_a: str, url: str, roles: list[dict[str, object]], token_b: str
) -> dict[str, object]:
    async with httpx.AsyncClient() as client:
        answer = await client.post(
            f"{hub.url}/ocpi/2.2.1/credentials",
            headers=token_header(token_a),
            json={"token": token_b, "url": url, "roles": roles},
        )
    body: dict[str, object] = assert_envelope(answer)
    return body


async def _nothing_stored(hub: HubUnderTest) -> None:
    async with hub.hub.db.transaction() as tx:
        for platform, _ in await platforms.list_all(tx):
            assert platform.status is ConnectionStatus.PLANNED
            assert platform.outgoing_token is None


@pytest.mark.conformance(14)
async def test_check14_registration_errors_store_nothing(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="CPA") as cpo:
        token_a = await hub.onboard("CPO", "NL", "CPA")
        roles, b = cpo.roles(), cpo.token_b
        unreachable = await _post_credentials(hub, token_a, "http://127.0.0.1:9/versions", roles, b)
        assert unreachable["status_code"] == 3001
        cpo.on("GET", "/versions", lambda _: Response("<html>hello</html>", media_type="text/html"))
        not_ocpi = await _post_credentials(hub, token_a, cpo.versions_url, roles, b)
        assert not_ocpi["status_code"] == 3001
        cpo.on(
            "GET", "/versions", lambda _: ocpi([{"version": "2.1.1", "url": f"{cpo.url}/2.1.1"}])
        )
        old = await _post_credentials(hub, token_a, cpo.versions_url, roles, b)
        assert old["status_code"] == 3002
        cpo.handlers.clear()
        cpo.modules = {"tariffs": ["SENDER"]}  # a CPO without the locations Sender interface
        lacking = await _post_credentials(hub, token_a, cpo.versions_url, roles, b)
        assert lacking["status_code"] == 3003
        await _nothing_stored(hub)
        # Policy: token A stays usable after a failed registration, so the peer can retry.
        cpo.modules = None
        retry = await _post_credentials(hub, token_a, cpo.versions_url, roles, b)
        assert retry["status_code"] == 1000


@pytest.mark.conformance(15)
async def test_check15_get_credentials_returns_the_hub(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="CPA") as cpo:
        await cpo.register(hub)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"{hub.url}/ocpi/2.2.1/credentials", headers=cpo.auth())
    data = answer.json()["data"]
    assert data["token"] == cpo.token_c
    assert data["url"] == hub.versions_url
    assert [r["role"] for r in data["roles"]] == ["HUB"]


@pytest.mark.conformance(16)
async def test_check16_multi_role_platform_and_taken_parties(hub: HubUnderTest) -> None:
    async with (
        running_peer(
            role="CPO",
            country_code="BE",
            party_id="BEC",
            extra_roles=[("CPO", "NL", "TNM"), ("CPO", "NL", "ALL")],
        ) as platform,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
        running_peer(role="CPO", country_code="NL", party_id="TNM") as impostor,
    ):
        await platform.register(hub)
        await emsp.register(hub)
        for cc, pid in (("BE", "BEC"), ("NL", "TNM"), ("NL", "ALL")):
            answer = await emsp.call(
                "GET", hub.endpoint("locations", "sender") + "/L1", to=(cc, pid)
            )
            assert answer.json()["status_code"] == 1000, (cc, pid, answer.text)
        assert len(platform.requests("GET", "/locations/sender/L1")) == 3
        token_a = await hub.onboard("CPO", "FI", "IMP")
        taken = await _post_credentials(
            hub, token_a, impostor.versions_url, impostor.roles(), impostor.token_b
        )
        assert taken["status_code"] == 2001
        assert "NL*TNM" in str(taken["status_message"])


@pytest.mark.conformance(17)
async def test_check17_hub_as_sender_registers_itself(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="SND") as peer:
        token_a = "peer-issued-token-a"
        token_c = "peer-issued-token-c"
        peer.token_b = token_a  # the peer accepts A until the handshake is done

        async def register(request: Received) -> Response:
            hub_token = request.json()["token"]
            # The receiving platform calls back with the hub's token B, as the spec says.
            async with httpx.AsyncClient() as client:
                versions = await client.get(hub.versions_url, headers=token_header(hub_token))
                assert versions.status_code == 200
            peer.token_b = token_c
            return ocpi({"token": token_c, "url": peer.versions_url, "roles": peer.roles()})

        peer.on("POST", "/credentials", register)
        platform = await flows.connect(hub.hub, versions_url=peer.versions_url, token_a=token_a)
        assert platform.status is ConnectionStatus.CONNECTED
        posted = peer.requests("POST", "/credentials")
        assert posted[0].headers["authorization"] == token_header(token_a)["Authorization"]
        hub_token_b = posted[0].json()["token"]
        async with httpx.AsyncClient() as client:
            answer = await client.get(hub.details_url, headers=token_header(hub_token_b))
        assert answer.status_code == 200
        # Later calls to the peer use its token C.
        peer.received.clear()
        async with running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp:
            await emsp.register(hub)
            await emsp.call("GET", hub.endpoint("locations", "sender") + "/X", to=("NL", "SND"))
        assert (
            peer.requests("GET", "/locations/sender/X")[0].headers["authorization"]
            == (token_header(token_c)["Authorization"])
        )


@pytest.mark.conformance(17)
async def test_check17_peer_refusals_surface_as_errors(hub: HubUnderTest) -> None:
    async with running_peer(role="CPO", party_id="SND") as peer:
        peer.token_b = "token-a"
        peer.on("POST", "/credentials", lambda _: ocpi(status_code=2000, http_status=405))
        with pytest.raises(OcpiError, match="405"):
            await flows.connect(hub.hub, versions_url=peer.versions_url, token_a="token-a")
        peer.on("POST", "/credentials", lambda _: ocpi(status_code=3001))
        with pytest.raises(OcpiError, match="3001"):
            await flows.connect(hub.hub, versions_url=peer.versions_url, token_a="token-a")
        async with hub.hub.db.transaction() as tx:
            assert await platforms.list_all(tx) == []
