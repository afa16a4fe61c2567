"""register(): the credentials handshake as Sender, against the real hub over HTTP."""

from __future__ import annotations

import pytest

from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.types import ConnectionStatus
from simulator.clock import SimClock
from simulator.emsp import SimEmsp
from simulator.ocpi_client import OcpiClientError
from simulator.platform import SimParty
from tests.support.hub import HubUnderTest


async def emsp_for(token_a: str) -> SimEmsp:
    party = SimParty("EMSP", "FI", "EMA", "Simulated eMSP A", token_a)
    emsp = SimEmsp(party, clock=SimClock(60.0), seed=1, tokens=3)
    await emsp.start_server()
    return emsp


async def test_registration_yields_token_c_hub_endpoints_and_hub_party(hub: HubUnderTest) -> None:
    token_a = await hub.onboard("EMSP", "FI", "EMA")
    emsp = await emsp_for(token_a)
    try:
        registration = await emsp.register(hub.versions_url)
    finally:
        await emsp.stop()
    assert registration.token_c != token_a
    assert (registration.hub_party.country_code, registration.hub_party.party_id) == (
        hub.party.country_code,
        hub.party.party_id,
    )
    assert registration.endpoints.url("tokens", "RECEIVER") == hub.endpoint("tokens", "receiver")
    async with hub.hub.db.transaction() as tx:
        [(platform, parties)] = await platforms.list_all(tx)
    # The hub reached the eMSP's own versions and details with its token B during the POST.
    assert platform.outgoing_token == emsp.token_b
    assert platform.status is ConnectionStatus.CONNECTED
    assert [(p.role, p.country_code, p.party_id) for p in parties] == [("EMSP", "FI", "EMA")]


async def test_an_unknown_token_a_fails_registration(hub: HubUnderTest) -> None:
    emsp = await emsp_for("not-a-token-the-hub-issued")
    try:
        with pytest.raises(OcpiClientError, match="hub versions"):
            await emsp.register(hub.versions_url)
    finally:
        await emsp.stop()


async def test_an_unreachable_hub_fails_registration_with_a_clear_error() -> None:
    emsp = await emsp_for("any")
    try:
        with pytest.raises(OcpiClientError, match="unreachable"):
            await emsp.register("http://127.0.0.1:9/ocpi/versions")
    finally:
        await emsp.stop()
