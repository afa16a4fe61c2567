"""The accounting subgraph as clients meet it: a hub with a strict CPO and two strict eMSPs
registered, CDRs (and a session) pushed over OCPI, drivers logged in at their eMSP's OpenID
Connect provider (code + PKCE), every subgraph served over HTTP and a real Hive Gateway in
front."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.process import GatewayProcess
from incar.identity import AccessTokenVerifier, TrustedIssuer
from incar_cli import platform
from incar_cli.platform import authenticator
from subgraphs.catalog import subgraphs
from subgraphs.server import create_app
from tests.gateway.clients import post
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.subgraphs.accounting.cdr_world import a_cdr
from tests.support.hub import HubUnderTest, running_hub
from tests.support.hub_process import free_port
from tests.support.idp import RunningIdp, driver_realm, login, running_idp
from tests.support.servers import serve

CPO = ("FI", "CPA")
EMSP, OTHER_EMSP = ("DE", "EMA"), ("NL", "EMB")
API = "https://graph.incar.test"
REDIRECT = "http://127.0.0.1:9/callback"
DRIVERS = {"alice": "ALICE-1", "bob": "BOB-1"}

# C1 bills alice's session S1; C2 is bob's; C3 a customer of the other eMSP.
CDRS = [
    a_cdr(CPO, "C1", EMSP, uid="ALICE-1", location_id="ST1", start="2026-03-01T08:00:00Z",
          end="2026-03-01T09:00:00Z", session_id="S1"),
    a_cdr(CPO, "C2", EMSP, uid="BOB-1", location_id="ST1", start="2026-03-02T08:00:00Z",
          end="2026-03-02T09:00:00Z"),
    a_cdr(CPO, "C3", OTHER_EMSP, uid="ERIN-1", location_id="ST2", start="2026-03-03T08:00:00Z",
          end="2026-03-03T09:00:00Z"),
]  # fmt: skip
SESSION = {
    "country_code": CPO[0],
    "party_id": CPO[1],
    "id": "S1",
    "start_date_time": "2026-03-01T08:00:00Z",
    "end_date_time": "2026-03-01T09:00:00Z",
    "kwh": 10.0,
    "cdr_token": CDRS[0]["cdr_token"],
    "auth_method": "WHITELIST",
    "location_id": "ST1",
    "evse_uid": "ST1-E1",
    "connector_id": "1",
    "currency": "EUR",
    "status": "COMPLETED",
    "last_updated": "2026-03-01T09:00:00Z",
}


@dataclass
class Accounting:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer
    other_emsp: StrictPeer
    idp: RunningIdp
    gateway: GatewayProcess
    subgraphs_url: str

    async def driver(self, user: str) -> str:
        tokens = await login(
            self.idp.issuer("emsp-de"), "driver-app", REDIRECT, user, f"{user}-pw", resource=API
        )
        return f"Bearer {tokens.access_token}"

    def party(self, peer: StrictPeer) -> str:
        return peer.auth()["Authorization"]

    async def graph(self, query: str, token: str | None = None, **variables: Any) -> Any:
        return await post(self.gateway.url, query, variables=variables, token=token)


@contextlib.asynccontextmanager
async def accounting_platform(folder: Path) -> AsyncIterator[Accounting]:
    async with contextlib.AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub())
        cpo = await stack.enter_async_context(
            running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1])
        )
        emsps = [
            await stack.enter_async_context(
                running_peer(role="EMSP", country_code=cc, party_id=pid)
            )
            for cc, pid in (EMSP, OTHER_EMSP)
        ]
        for peer in (cpo, *emsps):
            await peer.register(hub)
        realm = driver_realm("emsp-de", audience=API, redirect_uri=REDIRECT, drivers=DRIVERS)
        idp = await stack.enter_async_context(running_idp([realm], folder))
        verifier = AccessTokenVerifier(
            [
                TrustedIssuer(
                    issuer=idp.issuer("emsp-de"),
                    country_code=EMSP[0],
                    party_id=EMSP[1],
                    audience=API,
                )
            ]
        )
        stack.push_async_callback(verifier.aclose)
        chosen = list(subgraphs().values())
        app = create_app(hub.hub.runtime, chosen, authenticator=authenticator(hub.hub, verifier))
        served = await stack.enter_async_context(serve(lambda _url: app))
        at = [(subgraph, f"{served.url}{subgraph.path}") for subgraph in chosen]
        supergraph = await asyncio.to_thread(platform.supergraph, at, folder)
        gateway = await stack.enter_async_context(GatewayProcess(supergraph, port=free_port()))
        answer = await cpo.call(
            "PUT", f"{hub.url}/ocpi/2.2.1/sessions/receiver/FI/CPA/S1", to=EMSP, json=SESSION
        )
        assert answer.json()["status_code"] == 1000, answer.text
        for body in CDRS:
            to = (body["cdr_token"]["country_code"], body["cdr_token"]["party_id"])
            answer = await cpo.call("POST", hub.endpoint("cdrs", "receiver"), to=to, json=body)
            assert answer.json()["status_code"] == 1000, answer.text
        await hub.settle()
        yield Accounting(hub, cpo, emsps[0], emsps[1], idp, gateway, served.url)
