"""Broadcast push (transport_and_format): the hub answers at once, then fans the push out.

Every copy goes to one CONNECTED party of the opposite role that offers the module's
interface, FROM the hub, with its own X-Request-ID. Failures are logged, never retried or
queued (offline behaviour, check 34).
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
from ocpi_adapter.types import ConnectionStatus, Role
from ocpi_adapter.urls import join
from ocpi_adapter.versions.discovery import endpoint_url

log = logging.getLogger("incar.hub.broadcast")

# Policy: a CPO's broadcast reaches every role that consumes CPO data (NAP and SCSP included);
# every other role's broadcast reaches CPOs only ("Other" counts as an eMSP-type role).
OPPOSITE: dict[Role, frozenset[Role]] = {
    Role.CPO: frozenset({Role.EMSP, Role.NSP, Role.OTHER, Role.NAP, Role.SCSP}),
    Role.EMSP: frozenset({Role.CPO}),
    Role.OTHER: frozenset({Role.CPO}),
    Role.NSP: frozenset({Role.CPO}),
    Role.NAP: frozenset({Role.CPO}),
    Role.SCSP: frozenset({Role.CPO}),
}


async def recipients(hub: Hub, request: RoutedRequest) -> list[tuple[Platform, Party, str]]:
    # The registry as this process last read it: changes made here clear it at once (see
    # CallerCache), so a broadcast costs no registry queries.
    registry = await hub.callers.registry()
    sender = request.sender
    sender_roles = {
        party.role
        for _, parties in registry
        for party in parties
        if party.country_code == sender.country_code and party.party_id == sender.party_id
    }
    # A platform with several roles under one party pushes as the module's data owner.
    acting = (sender_roles & request.module.owner_roles) or sender_roles
    wanted = frozenset().union(*(OPPOSITE.get(r, frozenset()) for r in acting))
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
        found.extend(
            (platform, party, endpoint)
            for party in parties
            if party.role in wanted and party.status is ConnectionStatus.CONNECTED
        )
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
