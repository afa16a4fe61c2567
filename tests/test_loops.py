"""No forwarding loops (docs/policies.md, Peers' answers, trace ids and loops).

A platform registered with the hub's own URLs would make the hub forward to itself without
end. Over real HTTP:

- registration (hub as Receiver, POST and PUT, and as Sender, ``incar platform connect``) with
  a versions URL, version details URL or endpoint under the hub's own base URL is refused and
  stores nothing; token A stays usable;
- every request the hub sends carries its Via element, after any Via the incoming request had;
- a platform whose URLs are an alias of the hub (``localhost`` for ``127.0.0.1``, or a proxy in
  front of it), which registration cannot see, is put straight into the registry: a request
  forwarded to it comes back once, is refused, and everything settles; so does a broadcast,
  and a registration whose versions URL is such an alias.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from incar.columns import utcnow
from ocpi_adapter import via
from ocpi_adapter.credentials import flows
from ocpi_adapter.errors import NoMatchingEndpoints, UnableToUseClientApi
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Party as PartyRow
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.types import ConnectionStatus, Role
from tests.conformance.support import (
    Party,
    exactly,
    hub_party,
    location,
    register_all,
    token_header,
)
from tests.peers.strict.peer import StrictPeer, ocpi, running_peer
from tests.support.databases import fresh_database
from tests.support.hub import HubUnderTest
from tests.support.hub_process import free_port, incar_env, run_incar
from tests.support.servers import serve

CPO: Party = ("NL", "CPL")
EMSP: Party = ("DE", "EML")
LOOPING_CPO: Party = ("NL", "LOP")
LOOPING_EMSP: Party = ("DE", "LOE")
PROMPTLY = 1.5  # seconds; the forward timeout of the hub under test is 2 s
ELEMENT = re.compile(r"^1\.1 incar-[0-9a-f]{16}$")


# --- helpers -----------------------------------------------------------------------------------
@pytest.fixture
def loops(caplog: pytest.LogCaptureFixture) -> Callable[[], int]:
    """How many looping requests the hub has refused so far (it logs each one)."""
    caplog.set_level(logging.WARNING, logger="incar.hub.loop_guard")

    def count() -> int:
        return sum(
            1
            for record in caplog.records
            if record.name == "incar.hub.loop_guard" and "forwarding loop" in record.getMessage()
        )

    return count


def alias_of(hub: HubUnderTest) -> str:
    """The hub under another name: what registration cannot tell from the hub's base URL."""
    assert hub.url.startswith("http://127.0.0.1:")
    return hub.url.replace("127.0.0.1", "localhost")


@contextlib.asynccontextmanager
async def proxy_to(target: str) -> AsyncIterator[str]:
    """A reverse proxy in front of ``target`` that, as RFC 9110 asks, appends to Via."""

    async def forward(request: Request) -> Response:
        kept = [
            (k, v) for k, v in request.headers.raw if k not in (b"host", b"content-length", b"via")
        ]
        incoming = request.headers.get("via")
        element = "1.1 test-proxy"
        kept.append((b"via", (f"{incoming}, {element}" if incoming else element).encode()))
        url = target + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        async with httpx.AsyncClient(timeout=30) as client:
            answer = await client.request(
                request.method, url, headers=kept, content=await request.body()
            )
        return Response(
            answer.content,
            status_code=answer.status_code,
            headers={"content-type": answer.headers.get("content-type", "application/json")},
        )

    app = Starlette(
        routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
    )
    async with serve(lambda _: app) as running:
        yield running.url


async def plant(
    hub: HubUnderTest, *, role: Role, party: Party, endpoints: list[dict[str, str]], token: str
) -> None:
    """A CONNECTED platform put straight into the registry (registration would refuse it).

    ``token`` is what the hub presents to it: here a token the hub itself accepts, so that a
    request that reaches the hub again would be routed again (a loop, but for the guard).
    """
    async with hub.hub.db.transaction() as tx:
        platform = Platform(
            name=f"alias of the hub {party[0]}*{party[1]}",
            status=ConnectionStatus.CONNECTED,
            outgoing_token=token,
            versions_url=endpoints[0]["url"],
            version="2.2.1",
            endpoints=endpoints,
            registered_at=utcnow(),
            last_seen_at=utcnow(),
        )
        tx.add(platform)
        await tx.flush()
        assert platform.id is not None
        tx.add(
            PartyRow(
                platform_id=platform.id,
                country_code=party[0],
                party_id=party[1],
                role=role,
                status=ConnectionStatus.CONNECTED,
            )
        )
    hub.hub.callers.clear()


async def post_credentials(
    hub: HubUnderTest, token: str, url: str, peer: StrictPeer, method: str = "POST"
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.request(
            method,
            f"{hub.url}/ocpi/2.2.1/credentials",
            headers=token_header(token),
            json={"token": peer.token_b, "url": url, "roles": peer.roles()},
        )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def registry(hub: HubUnderTest) -> list[tuple[str | None, ConnectionStatus, str | None]]:
    async with hub.hub.db.transaction() as tx:
        return [
            (p.versions_url, p.status, p.outgoing_token) for p, _ in await platforms.list_all(tx)
        ]


def peer_endpoints(peer: StrictPeer, **replaced: str) -> list[dict[str, str]]:
    """A CPO's endpoints (credentials, locations and tariffs Sender); ``replaced`` by module."""
    endpoints = [
        {"identifier": "credentials", "role": "SENDER", "url": f"{peer.url}/credentials"},
        {"identifier": "locations", "role": "SENDER", "url": peer.endpoint("locations", "SENDER")},
        {"identifier": "tariffs", "role": "SENDER", "url": peer.endpoint("tariffs", "SENDER")},
    ]
    for endpoint in endpoints:
        endpoint["url"] = replaced.get(endpoint["identifier"], endpoint["url"])
    return endpoints


# --- registration with the hub's own URLs ------------------------------------------------------
async def test_registration_with_the_hubs_own_versions_url_is_3001_and_stores_nothing(
    hub: HubUnderTest, loops: Callable[[], int]
) -> None:
    port = hub.url.rsplit(":", 1)[1]
    spellings = [
        hub.versions_url,
        hub.versions_url + "/",
        f"HTTP://127.0.0.1:{port}//ocpi/./versions",
        f"http://127.0.0.1:{port}/ocpi/2.2.1/credentials",
        hub.url,
    ]
    async with running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo:
        token_a = await hub.onboard("CPO", *CPO)
        for url in spellings:
            refused = await post_credentials(hub, token_a, url, cpo)
            assert refused["status_code"] == 3001, (url, refused)
            assert "this hub's own URL" in refused["status_message"]
        assert await registry(hub) == [(None, ConnectionStatus.PLANNED, None)]
        assert cpo.received == [], "refused before anything was sent"
        assert loops() == 0, "the hub did not call itself"
        # Token A is still usable: the platform fixes its URL and registers.
        accepted = await post_credentials(hub, token_a, cpo.versions_url, cpo)
        assert accepted["status_code"] == 1000, accepted
        cpo.token_c = accepted["data"]["token"]
        # PUT (token C) with the hub's URL: refused, the registration stays as it was.
        updated = await post_credentials(hub, cpo.token_c, hub.versions_url, cpo, method="PUT")
        assert updated["status_code"] == 3001, updated
        assert await registry(hub) == [(cpo.versions_url, ConnectionStatus.CONNECTED, cpo.token_b)]
        async with httpx.AsyncClient() as client:
            assert (await client.get(hub.versions_url, headers=cpo.auth())).status_code == 200
        await hub.settle()


async def test_registration_with_version_details_or_an_endpoint_at_the_hub_is_refused(
    hub: HubUnderTest, loops: Callable[[], int]
) -> None:
    async with running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo:
        token_a = await hub.onboard("CPO", *CPO)
        cpo.on("GET", "/versions", lambda _: ocpi([{"version": "2.2.1", "url": hub.details_url}]))
        details = await post_credentials(hub, token_a, cpo.versions_url, cpo)
        assert details["status_code"] == 3001, details
        assert "version details URL" in details["status_message"]
        cpo.handlers.clear()
        at_hub = peer_endpoints(cpo, locations=hub.endpoint("locations", "SENDER"))
        cpo.on("GET", "/2.2.1", lambda _: ocpi({"version": "2.2.1", "endpoints": at_hub}))
        endpoint = await post_credentials(hub, token_a, cpo.versions_url, cpo)
        assert endpoint["status_code"] == 3003, endpoint
        assert "locations SENDER endpoint" in endpoint["status_message"]
        assert await registry(hub) == [(None, ConnectionStatus.PLANNED, None)]
        assert loops() == 0
        cpo.handlers.clear()
        accepted = await post_credentials(hub, token_a, cpo.versions_url, cpo)
        assert accepted["status_code"] == 1000, accepted
        await hub.settle()


async def test_the_hub_as_sender_refuses_to_connect_to_its_own_urls(
    hub: HubUnderTest, loops: Callable[[], int]
) -> None:
    with pytest.raises(UnableToUseClientApi, match="this hub's own URL"):
        await flows.connect(hub.hub, versions_url=hub.versions_url, token_a="token-a")
    async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
        emsp.token_b = "token-a"
        at_hub = [
            {"identifier": "credentials", "role": "SENDER", "url": f"{emsp.url}/credentials"},
            {"identifier": "tokens", "role": "SENDER", "url": hub.endpoint("tokens", "SENDER")},
        ]
        emsp.on("GET", "/2.2.1", lambda _: ocpi({"version": "2.2.1", "endpoints": at_hub}))
        with pytest.raises(NoMatchingEndpoints, match="tokens SENDER endpoint"):
            await flows.connect(hub.hub, versions_url=emsp.versions_url, token_a="token-a")
        # Refused before the hub handed the peer any credentials of its own.
        assert emsp.requests("POST") == []
    assert await registry(hub) == []
    assert loops() == 0


async def test_incar_platform_connect_to_the_hubs_own_versions_url_is_one_line_3001() -> None:
    async with fresh_database() as database_url:
        with tempfile.TemporaryDirectory(prefix="incar-loops-") as folder:
            port = free_port()
            env = incar_env(database_url, Path(folder) / "data", port)
            own = f"http://127.0.0.1:{port}/ocpi/versions"
            done = await run_incar(
                "platform", "connect", "--versions-url", own, "--token", "A", env=env
            )
            listed = await run_incar("platform", "list", "--json", env=env)
    assert done.returncode == 1, done
    assert done.stdout == ""
    (line,) = done.stderr_lines
    assert "this hub's own URL" in line and "OCPI status 3001" in line, line
    assert listed.returncode == 0 and listed.stdout.strip() == "[]", listed


# --- the hub's Via -----------------------------------------------------------------------------
def test_the_pseudonym_is_one_per_public_url() -> None:
    name = via.pseudonym("https://hub.example.com/incar")
    assert name == via.pseudonym("HTTPS://hub.example.com:443/incar/")
    assert name != via.pseudonym("https://hub.example.com/other")
    assert name != via.pseudonym("https://hub.example.org/incar")
    assert ELEMENT.match(via.element(name))
    assert via.has_passed(f"1.0 fred, 1.1 {name} (INCAR), 1.1 p.example", name)
    assert not via.has_passed(f"1.1 fred ({name})", name), "a comment is not an element"


async def test_every_request_the_hub_sends_carries_its_via_after_the_incoming_one(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        own = via.element(via.pseudonym(hub.url))
        url = hub.endpoint("locations", "sender") + "/L1"
        await emsp.call("GET", url, to=CPO)
        await emsp.call("GET", url, to=CPO, headers={"Via": "1.0 fred, 1.1 p.example (Proxy)"})
        await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPL/L1",
            to=hub_party(hub),
            json=location(*CPO, "L1"),
            headers={"Via": "1.1 cpo-gateway"},
        )
        await hub.settle()
    # Registration GETs, ClientInfo pushes, forwarded requests, broadcast copies: all marked.
    sent = cpo.received + emsp.received
    assert {(r.method, r.path) for r in sent} >= {
        ("GET", "/versions"),
        ("GET", "/2.2.1"),
        ("PUT", "/hubclientinfo/receiver/DE/EML"),
        ("GET", "/locations/sender/L1"),
        ("PUT", "/locations/receiver/NL/CPL/L1"),
    }
    plain, proxied = exactly(cpo, "GET", "/locations/sender/L1")
    (copy,) = exactly(emsp, "PUT", "/locations/receiver/NL/CPL/L1")
    assert plain.headers["via"] == own
    assert proxied.headers["via"] == f"1.0 fred, 1.1 p.example (Proxy), {own}"
    assert copy.headers["via"] == f"1.1 cpo-gateway, {own}"
    others = [r for r in sent if r not in (proxied, copy)]
    assert {r.headers["via"] for r in others} == {own}


# --- loops through an alias of the hub ---------------------------------------------------------
@pytest.mark.parametrize("route", ["alias", "proxy"])
async def test_a_request_forwarded_to_an_alias_of_the_hub_comes_back_once_and_ends(
    hub: HubUnderTest, loops: Callable[[], int], route: str
) -> None:
    async with (
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        proxy_to(hub.url) as proxy,
    ):
        await register_all(hub, emsp)
        assert emsp.token_c is not None
        base = alias_of(hub) if route == "alias" else proxy
        # The looped request authenticates as the eMSP, FROM the eMSP TO the looping CPO: were
        # it not refused, the hub would forward it to the same URL again, and again.
        await plant(
            hub,
            role=Role.CPO,
            party=LOOPING_CPO,
            endpoints=[
                {"identifier": "credentials", "role": "SENDER", "url": f"{base}/ocpi/versions"},
                {
                    "identifier": "locations",
                    "role": "SENDER",
                    "url": f"{base}/ocpi/2.2.1/locations/sender",
                },
            ],
            token=emsp.token_c,
        )
        started = time.monotonic()
        answer = await emsp.call("GET", hub.endpoint("locations", "sender") + "/L1", to=LOOPING_CPO)
        elapsed = time.monotonic() - started
        body = answer.json()
        # The hub's refusal of the looped hop is the "receiver's" answer, relayed.
        assert body["status_code"] == 4001, (body, elapsed)
        assert "forwarding loop" in body["status_message"]
        assert elapsed < PROMPTLY, elapsed
        await asyncio.wait_for(hub.settle(), 5)
        await asyncio.sleep(0.5)  # a loop would still be making hops now
        assert loops() == 1, "exactly one request came back, and no further hop"
        assert [t for t in hub.hub.runtime.tasks if not t.done()] == []
    async with hub.hub.db.transaction() as tx:
        statuses = {p.name: p.status for p in (await tx.execute(select(Platform))).scalars()}
    assert set(statuses.values()) == {ConnectionStatus.CONNECTED}, statuses


async def test_a_broadcast_copy_to_an_alias_of_the_hub_comes_back_once_and_ends(
    hub: HubUnderTest, loops: Callable[[], int]
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        assert cpo.token_c is not None
        alias = alias_of(hub)
        await plant(
            hub,
            role=Role.EMSP,
            party=LOOPING_EMSP,
            endpoints=[
                {"identifier": "credentials", "role": "SENDER", "url": f"{alias}/ocpi/versions"},
                {
                    "identifier": "locations",
                    "role": "RECEIVER",
                    "url": f"{alias}/ocpi/2.2.1/locations/receiver",
                },
            ],
            token=cpo.token_c,
        )
        pushed = await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPL/L1",
            to=hub_party(hub),
            json=location(*CPO, "L1"),
        )
        await asyncio.wait_for(hub.settle(), 5)
        await asyncio.sleep(0.5)
        assert loops() == 1
    assert pushed.json()["status_code"] == 1000, pushed.text
    assert len(exactly(emsp, "PUT", "/locations/receiver/NL/CPL/L1")) == 1


async def test_registration_at_an_alias_of_the_hub_fails_after_one_looped_get(
    hub: HubUnderTest, loops: Callable[[], int]
) -> None:
    async with running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo:
        token_a = await hub.onboard("CPO", *CPO)
        refused = await post_credentials(hub, token_a, f"{alias_of(hub)}/ocpi/versions", cpo)
        assert refused["status_code"] == 3001, refused
        assert loops() == 1
        assert await registry(hub) == [(None, ConnectionStatus.PLANNED, None)]
        accepted = await post_credentials(hub, token_a, cpo.versions_url, cpo)
        assert accepted["status_code"] == 1000, accepted
        await hub.settle()
