"""Small helpers for the conformance tests (shared/ocpi/CONFORMANCE.md)."""

from __future__ import annotations

import base64
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ocpi_adapter.headers import PartyRef
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.types import ConnectionStatus
from tests.peers.strict.peer import Received, StrictPeer
from tests.support.hub import HubUnderTest

Party = tuple[str, str]

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?$")


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def assert_envelope(response: httpx.Response) -> dict[str, Any]:
    """Check 1: every hub body is ``{status_code:int, timestamp, status_message?, data?}``."""
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) <= {"status_code", "timestamp", "status_message", "data"}, body
    assert isinstance(body["status_code"], int)
    assert TIMESTAMP.match(body["timestamp"]), body["timestamp"]
    if "status_message" in body:
        assert isinstance(body["status_message"], str)
    return body


def location(cc: str, pid: str, location_id: str, **changes: Any) -> dict[str, Any]:
    """A minimal valid Location of mod_locations."""
    body: dict[str, Any] = {
        "country_code": cc,
        "party_id": pid,
        "id": location_id,
        "publish": True,
        "address": "Mannerheimintie 1",
        "city": "Helsinki",
        "country": "FIN",
        "coordinates": {"latitude": "60.169000", "longitude": "24.938000"},
        "time_zone": "Europe/Helsinki",
        "evses": [
            {
                "uid": f"{location_id}-E1",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "last_updated": "2026-01-01T00:00:00Z",
                    }
                ],
                "last_updated": "2026-01-01T00:00:00Z",
            }
        ],
        "last_updated": "2026-01-01T00:00:00Z",
    }
    body.update(changes)
    return body


# --- objects ---------------------------------------------------------------------------------
def tariff(cc: str, pid: str, tariff_id: str, last_updated: str = "2026-01-01T00:00:00Z") -> Any:
    return {
        "country_code": cc,
        "party_id": pid,
        "id": tariff_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.25, "step_size": 1}]}],
        "last_updated": last_updated,
    }


def token(cc: str, pid: str, uid: str, last_updated: str = "2026-01-01T00:00:00Z") -> Any:
    return {
        "country_code": cc,
        "party_id": pid,
        "uid": uid,
        "type": "RFID",
        "contract_id": f"{cc}-{pid}-C{uid}",
        "issuer": "Conformance eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": last_updated,
    }


def cdr_token(emsp: Party, uid: str = "T1") -> dict[str, str]:
    return {
        "country_code": emsp[0],
        "party_id": emsp[1],
        "uid": uid,
        "type": "RFID",
        "contract_id": f"{emsp[0]}-{emsp[1]}-C{uid}",
    }


def charging_session(
    cpo: Party,
    session_id: str,
    emsp: Party,
    *,
    location_id: str = "L1",
    last_updated: str = "2026-01-01T00:10:00Z",
) -> Any:
    return {
        "country_code": cpo[0],
        "party_id": cpo[1],
        "id": session_id,
        "start_date_time": "2026-01-01T00:00:00Z",
        "kwh": 1.5,
        "cdr_token": cdr_token(emsp),
        "auth_method": "WHITELIST",
        "location_id": location_id,
        "evse_uid": f"{location_id}-E1",
        "connector_id": "1",
        "currency": "EUR",
        "status": "ACTIVE",
        "last_updated": last_updated,
    }


def cdr(cpo: Party, cdr_id: str, emsp: Party, last_updated: str = "2026-01-01T02:00:00Z") -> Any:
    return {
        "country_code": cpo[0],
        "party_id": cpo[1],
        "id": cdr_id,
        "start_date_time": "2026-01-01T00:00:00Z",
        "end_date_time": "2026-01-01T01:00:00Z",
        "cdr_token": cdr_token(emsp),
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "L1",
            "address": "Mannerheimintie 1",
            "city": "Helsinki",
            "country": "FIN",
            "coordinates": {"latitude": "60.169000", "longitude": "24.938000"},
            "evse_uid": "L1-E1",
            "evse_id": f"{cpo[0]}*{cpo[1]}*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": "2026-01-01T00:00:00Z",
                "dimensions": [{"type": "ENERGY", "volume": 10.0}],
            }
        ],
        "total_cost": {"excl_vat": 2.5},
        "total_energy": 10.0,
        "total_time": 1.0,
        "last_updated": last_updated,
    }


# --- helpers over peers ----------------------------------------------------------------------
def trace() -> dict[str, str]:
    return {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}


def exactly(peer: StrictPeer, method: str, path: str) -> list[Received]:
    """The requests the peer got for exactly this path (a prefix would also match children)."""
    return [r for r in peer.received if r.method == method and r.path == path]


def to_of(received: Received) -> Party:
    return received.headers["ocpi-to-country-code"], received.headers["ocpi-to-party-id"]


def from_of(response: httpx.Response | Received) -> Party:
    return response.headers["ocpi-from-country-code"], response.headers["ocpi-from-party-id"]


def addressed(response: httpx.Response) -> tuple[Party, Party]:
    """(FROM, TO) of a hub response."""
    return from_of(response), (
        response.headers["ocpi-to-country-code"],
        response.headers["ocpi-to-party-id"],
    )


def hub_party(hub: HubUnderTest) -> Party:
    return hub.party.country_code, hub.party.party_id


async def set_status(hub: HubUnderTest, party: Party, status: ConnectionStatus) -> None:
    async with hub.hub.db.transaction() as db:
        platform = await platforms.owner_of(db, ref=PartyRef.of(*party))
        assert platform is not None
        await platforms.set_status(db, platform=platform, status=status)
    hub.hub.callers.clear()


async def status_of(hub: HubUnderTest, party: Party) -> ConnectionStatus:
    async with hub.hub.db.transaction() as db:
        platform = await platforms.owner_of(db, ref=PartyRef.of(*party))
        assert platform is not None
        return platform.status


async def register_all(hub: HubUnderTest, *peers: StrictPeer) -> None:
    for peer in peers:
        await peer.register(hub)
    await hub.settle()


async def get_all(peer: StrictPeer, url: str, to: Party | None) -> tuple[list[Any], list[str]]:
    """Walks a GET All list by its Link headers: every item and every X-Total-Count seen."""
    items: list[Any] = []
    totals: list[str] = []
    next_url: str | None = url
    while next_url is not None:
        answer = await peer.call("GET", next_url, to=to)
        body = assert_envelope(answer)
        assert body["status_code"] == 1000, answer.text
        items.extend(body["data"])
        totals.append(answer.headers["x-total-count"])
        link = answer.headers.get("link")
        next_url = link.split(">", 1)[0].lstrip("<") if link else None
    return items, totals


def serving_again(peer: StrictPeer) -> contextlib.AbstractAsyncContextManager[StrictPeer]:
    """Serves a stopped StrictPeer again at its old URL (same port), as after an outage.

    The peer keeps what it received and its scripted handlers; the hub, which still has the
    old URL, reaches it again.
    """
    import asyncio
    import socket
    from urllib.parse import urlsplit

    import uvicorn

    @contextlib.asynccontextmanager
    async def serve() -> AsyncIterator[StrictPeer]:
        port = urlsplit(peer.url).port
        assert port is not None, peer.url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        config = uvicorn.Config(
            peer.app(peer.url), log_level="warning", access_log=False, lifespan="on", loop="none"
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("peer stopped while starting")
                await asyncio.sleep(0.01)
            yield peer
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
            sock.close()

    return serve()
