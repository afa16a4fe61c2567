"""Registers an extrawest peer at the hub under test on the peer's behalf.

extrawest cannot start a credentials handshake, so the test POSTs the peer's credentials to
the hub with a token A, then tells the peer the token C the hub issued, and forgets what the
peer recorded meanwhile (the hub's version discovery and ClientInfo pushes).
"""

from __future__ import annotations

import asyncio

import httpx

from tests.conformance.support import token_header
from tests.peers.extrawest.launcher import ExtrawestPeer
from tests.support.hub import HubUnderTest


async def register_extrawest(
    hub: HubUnderTest, peer: ExtrawestPeer, *, token_b: str | None = None
) -> str:
    """Returns the token C the hub issued to the peer.

    The hub calls the peer with its pre-shared token C, or with ``token_b`` when given: a token
    the test plants among the peer's registrations, so that it can revoke it later.
    """
    if token_b is not None:
        await asyncio.to_thread(peer.set_item, "registrations", token_b, {"credentials": {}})
    token_a = await hub.onboard(peer.role, peer.country_code, peer.party_id)
    role = {
        "role": peer.role,
        "business_details": {"name": f"extrawest {peer.role}"},
        "country_code": peer.country_code,
        "party_id": peer.party_id,
    }
    async with httpx.AsyncClient(timeout=30) as client:
        answer = await client.post(
            f"{hub.details_url}/credentials",
            headers=token_header(token_a),
            json={"token": token_b or peer.token_c, "url": peer.versions_url, "roles": [role]},
        )
    body = answer.json()
    assert body["status_code"] == 1000, body
    token_c = str(body["data"]["token"])
    if token_b is not None:
        registration = {"credentials": {"token": token_c}}
        await asyncio.to_thread(peer.set_item, "registrations", token_b, registration)
    await asyncio.to_thread(peer.set_item, "config", "client_token", token_c)
    await hub.settle()
    await asyncio.to_thread(peer.clear_requests)
    await asyncio.to_thread(peer.clear_outbound)
    return token_c
