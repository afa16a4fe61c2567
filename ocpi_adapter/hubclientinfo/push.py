"""Pushes changed ClientInfo objects to every other connected platform (push model)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from urllib.parse import quote

from ocpi_adapter.client import PeerAuth
from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import dumps
from ocpi_adapter.errors import OcpiError
from ocpi_adapter.headers import Trace, new_id
from ocpi_adapter.hubclientinfo.service import client_info
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.urls import join
from ocpi_adapter.versions.discovery import endpoint_url

log = logging.getLogger("incar.hub.clientinfo")


async def _put(hub: Hub, target: Platform, party: Party) -> None:
    base = endpoint_url(target.endpoints, ModuleID.HUB_CLIENT_INFO, InterfaceRole.RECEIVER)
    if base is None or target.outgoing_token is None:
        return  # check 55: a peer without a hubclientinfo Receiver is skipped without error
    url = join(base, f"{quote(party.country_code)}/{quote(party.party_id)}")
    # Configuration module: no OCPI-to/from headers, fresh trace ids.
    trace = Trace(request_id=new_id(), correlation_id=new_id())
    try:
        await hub.client.request(
            "PUT",
            url,
            auth=PeerAuth(target.outgoing_token, target.legacy_raw_token),
            headers=trace.as_headers(),
            body=dumps(client_info(party)),
        )
    except OcpiError as error:
        # Not queued or retried (OCPI offline behaviour); the still-alive check notices outages.
        log.warning("ClientInfo push to %s failed: %s", target.name, error.message)


async def push(hub: Hub, parties: Sequence[Party]) -> None:
    """Sends each party's ClientInfo to every connected platform but its own."""
    if not parties:
        return
    async with hub.db.transaction() as tx:
        targets = await platforms.connected(tx)
    jobs = [
        _put(hub, target, party)
        for target in targets
        for party in parties
        if party.platform_id != target.id
    ]
    await asyncio.gather(*jobs)


async def welcome(hub: Hub, newcomer: Platform) -> None:
    """A newly connected platform gets the ClientInfo of every other party at once."""
    async with hub.db.transaction() as tx:
        everyone = [
            party
            for platform, parts in await platforms.list_all(tx)
            if platform.id != newcomer.id
            for party in parts
        ]
    await asyncio.gather(*(_put(hub, newcomer, party) for party in everyone))
