"""Broadcast push (transport_and_format): the hub answers at once, then fans the push out.

Every copy goes to one CONNECTED party whose role may receive the push (the role matrix,
roles.py) and whose platform offers the module's interface, FROM the hub, with its own
X-Request-ID. Failures are logged, never retried or queued (offline behaviour, check 34).
"""

from __future__ import annotations

import asyncio
import logging

from starlette.responses import Response

from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.errors import OcpiError
from ocpi_adapter.headers import PartyRef, Routing
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.routing import forward
from ocpi_adapter.routing.recipient import hub_party
from ocpi_adapter.routing.request import RoutedRequest
from ocpi_adapter.types import ConnectionStatus
from ocpi_adapter.urls import join
from ocpi_adapter.versions.discovery import endpoint_url

log = logging.getLogger("incar.hub.broadcast")


async def recipients(hub: Hub, request: RoutedRequest) -> list[tuple[Platform, Party, str]]:
    # The registry as this process last read it: changes made here clear it at once (see
    # CallerCache), so a broadcast costs no registry queries.
    registry = await hub.callers.registry()
    # The role matrix names who receives a push of this interface: a CPO's Locations reach
    # every consumer role (eMSP, NSP, NAP, SCSP, OTHER), an eMSP's Tokens the CPOs.
    wanted = request.use.receivers
    found: list[tuple[Platform, Party, str]] = []
    for platform, parties in registry:
        if platform.id == request.caller.platform.id:
            continue
        if platform.status is not ConnectionStatus.CONNECTED or not platform.outgoing_token:
            continue
        endpoint = endpoint_url(
            platform.endpoints, request.module.module, request.operation.interface
        )
        if endpoint is None:
            continue
        # One copy per party: an eMSP that is also an NSP under one party gets one.
        addressed: set[tuple[str, str]] = set()
        for party in parties:
            if party.role not in wanted or party.status is not ConnectionStatus.CONNECTED:
                continue
            if (party.country_code, party.party_id) not in addressed:
                addressed.add((party.country_code, party.party_id))
                found.append((platform, party, endpoint))
    return found


async def _copy(
    hub: Hub, request: RoutedRequest, platform: Platform, party: Party, endpoint: str
) -> None:
    try:
        answer = await forward.send(
            hub,
            method=request.method,
            url=join(endpoint, request.suffix, request.query_string),
            body=request.raw_body,
            platform=platform,
            routing=Routing(
                sender=hub_party(hub), receiver=PartyRef(party.country_code, party.party_id)
            ),
            trace=request.trace,
            via=request.via,
        )
        if answer.status >= 300:
            log.info("broadcast copy to %s answered HTTP %s", platform.name, answer.status)
    except OcpiError as error:
        log.info("broadcast copy to %s failed: %s", platform.name, error.message)


async def fan_out(hub: Hub, request: RoutedRequest) -> None:
    targets = await recipients(hub, request)
    await asyncio.gather(*(_copy(hub, request, *target) for target in targets))


def accept(hub: Hub, request: RoutedRequest) -> Response:
    """The sender's answer: 1000 from the hub, whatever the receivers later say (check 32)."""
    hub.spawn(fan_out(hub, request), name=f"broadcast-{request.trace.request_id}")
    return OcpiResponse(
        headers=Routing(sender=hub_party(hub), receiver=request.sender).as_headers()
    )
