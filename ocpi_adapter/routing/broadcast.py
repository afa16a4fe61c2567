"""Broadcast push (transport_and_format): the hub answers at once; the copies are owed.

Every copy goes to one party whose role may receive the push (the role matrix, roles.py) and
whose platform offers the module's interface, FROM the hub, with its own X-Request-ID. The
copies are written in the transaction that stores the push (ocpi_adapter/owed), so a crash
delays them, never drops them. A failed copy is not retried or queued (offline behaviour,
check 34): its receiver is cued to resynchronise (owed/resync.py). An OFFLINE party gets no
copy; it is owed one all the same, so that it is cued for what it missed once it is back.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from incar.columns import utcnow
from ocpi_adapter import paths
from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.headers import PartyRef, Routing
from ocpi_adapter.owed import record
from ocpi_adapter.owed.models import Kind
from ocpi_adapter.owed.record import Owed
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.routing.recipient import hub_party
from ocpi_adapter.routing.request import RoutedRequest
from ocpi_adapter.types import ConnectionStatus
from ocpi_adapter.urls import join
from ocpi_adapter.versions.discovery import endpoint_url

#: Who is owed a copy: the connected, and the OFFLINE (whose copy only marks them, see above).
_OWED = (ConnectionStatus.CONNECTED, ConnectionStatus.OFFLINE)


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
        if platform.status not in _OWED or not platform.outgoing_token:
            continue
        endpoint = endpoint_url(
            platform.endpoints, request.module.module, request.operation.interface
        )
        if endpoint is None:
            continue
        # One copy per party: an eMSP that is also an NSP under one party gets one.
        addressed: set[tuple[str, str]] = set()
        for party in parties:
            if party.role not in wanted or party.status is not platform.status:
                continue
            if (party.country_code, party.party_id) not in addressed:
                addressed.add((party.country_code, party.party_id))
                found.append((platform, party, endpoint))
    return found


def object_key(module: str, suffix: str) -> str:
    """Copies of one object keep their order: the owner and the object's id (a Location's
    EVSE and Connector changes are changes of the Location)."""
    return "/".join([module, *(part.upper() for part in paths.segments(suffix)[:3])])


async def owe(hub: Hub, tx: AsyncSession, request: RoutedRequest) -> None:
    """Records the copies of ``request`` in ``tx``, the transaction that stores it."""
    now = utcnow()
    key = object_key(request.module.module, request.suffix)
    last_updated = record.last_updated_of(request.body)
    sender = hub_party(hub)
    copies = []
    for platform, party, endpoint in await recipients(hub, request):
        assert platform.id is not None
        headers = {
            **Routing(
                sender=sender, receiver=PartyRef(party.country_code, party.party_id)
            ).as_headers(),
            **request.trace.next_hop().as_headers(),
        }
        if request.via is not None:
            headers["Via"] = request.via
        copies.append(
            Owed(
                receiver_platform_id=platform.id,
                kind=Kind.COPY,
                object_key=key,
                owner_country_code=request.sender.country_code,
                owner_party_id=request.sender.party_id,
                method=request.method,
                url=join(endpoint, request.suffix, request.query_string),
                headers=headers,
                body=request.raw_body,
                object_last_updated=last_updated,
                created_at=now,
            )
        )
    await record.owe(tx, copies, hub.owed)


def accept(hub: Hub, request: RoutedRequest) -> Response:
    """The sender's answer: 1000 from the hub, whatever the receivers later say (check 32)."""
    return OcpiResponse(
        headers=Routing(sender=hub_party(hub), receiver=request.sender).as_headers()
    )
