"""The demo's graph: the subgraphs and the gateway on the demo's hub, and an OpenID Connect
provider with one realm per simulated eMSP, whose drivers hold tokens that eMSP pushed
through the hub. What a developer needs to try it is printed: GraphiQL, a driver's login, a
first query and a subscription."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.process import GatewayProcess
from incar.identity import AccessTokenVerifier, TrustedIssuer
from incar.settings import Settings
from incar_cli import platform
from incar_cli.idp_process import running_idp
from incar_cli.oidc_login import DEMO_AUDIENCE, DEMO_CLIENT, DEMO_REDIRECT
from ocpi_adapter.context import Hub
from simulator.emsp import SimEmsp
from subgraphs.catalog import subgraphs

AUDIENCE, CLIENT, REDIRECT = DEMO_AUDIENCE, DEMO_CLIENT, DEMO_REDIRECT
DRIVERS_PER_EMSP = 3


@dataclass(frozen=True)
class DemoDriver:
    issuer: str
    username: str
    password: str
    token_uid: str


def realm_name(emsp: SimEmsp) -> str:
    return f"emsp-{emsp.me.country_code}-{emsp.me.party_id}".lower()


def realms(emsps: Sequence[SimEmsp]) -> list[dict[str, Any]]:
    """A Keycloak-shaped realm per eMSP; its drivers are the holders of the eMSP's first valid
    tokens (their uid is the access token's ``ocpi_token_uid``)."""
    found = []
    for emsp in emsps:
        valid = [t for t in emsp.tokens.values() if t.get("valid")][:DRIVERS_PER_EMSP]
        found.append(
            {
                "name": realm_name(emsp),
                "token_shape": "keycloak",
                "audience": AUDIENCE,
                "scope": "charging",
                "token_uid_claim": "ocpi_token_uid",
                "access_token_ttl": 3600,
                "clients": [{"client_id": CLIENT, "redirect_uris": [REDIRECT]}],
                "users": [
                    {
                        "username": f"driver{n}",
                        "password": f"demo-driver{n}",
                        "claims": {"ocpi_token_uid": token["uid"]},
                    }
                    for n, token in enumerate(valid, start=1)
                ],
            }
        )
    return found


@contextlib.asynccontextmanager
async def demo_graph(
    settings: Settings, hub: Hub, emsps: Sequence[SimEmsp], folder: Path
) -> AsyncIterator[list[DemoDriver]]:
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    demo_realms = realms(emsps)
    async with contextlib.AsyncExitStack() as stack:
        idp = await stack.enter_async_context(running_idp(demo_realms, folder))
        issuers = [
            TrustedIssuer(
                issuer=idp.issuer(realm_name(emsp)),
                country_code=emsp.me.country_code,
                party_id=emsp.me.party_id,
                audience=AUDIENCE,
            )
            for emsp in emsps
        ]
        verifier = AccessTokenVerifier(issuers, leeway=settings.oidc_leeway)
        stack.push_async_callback(verifier.aclose)
        chosen = list(subgraphs().values())
        server = platform.subgraphs_server(
            hub.runtime, hub, chosen, port=settings.subgraphs_port, verifier=verifier
        )
        part = await platform.started(server, "the subgraphs")

        async def stop_subgraphs() -> None:
            server.should_exit = True
            await part.done

        stack.push_async_callback(stop_subgraphs)
        path = await asyncio.to_thread(
            platform.supergraph, platform.served_at(settings, chosen), folder
        )
        await stack.enter_async_context(
            GatewayProcess(path, port=settings.gateway_port, host=settings.host)
        )
        yield [
            DemoDriver(idp.issuer(realm["name"]), user["username"], user["password"], uid)
            for realm in demo_realms
            for user in realm["users"]
            for uid in [user["claims"]["ocpi_token_uid"]]
        ]


def instructions(settings: Settings, drivers: Sequence[DemoDriver]) -> str:
    """What to paste: GraphiQL's address, a login, a first query and a subscription."""
    first = drivers[0] if drivers else None
    login = (
        f"  ./dev incar login {first.issuer} --user {first.username} --password "
        f"{first.password}\n"
        "  (prints an access token; in GraphiQL's Headers tab: "
        '{"Authorization": "Bearer <token>"})\n'
        if first
        else ""
    )
    return (
        f"GraphiQL: {settings.gateway_url}\n"
        f"A demo driver ({len(drivers)} in all, driver1..3 of each eMSP realm):\n{login}"
        "A first query:\n"
        "  { stations(near: {latitude: 60.1699, longitude: 24.9384, radiusMeters: 3000},\n"
        "             filter: {availableNow: true}) { totalCount edges { distanceMeters\n"
        "      node { name address } matchingEvses { uid status maxPowerKw booked } } } }\n"
        "  { me { tokenUid tokens { uid type } sessions { id status kwh } } }   (logged in)\n"
        "A subscription:\n"
        "  subscription { evseStatusChanged(box: {south: 60.1, west: 24.8, north: 60.3,\n"
        "    east: 25.1}) { status locationId evseUid changedAt } }\n"
    )
