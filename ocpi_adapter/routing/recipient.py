"""Where a request goes: the hub itself, one party (named or found), or every party."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ocpi_adapter import roles
from ocpi_adapter.context import Hub
from ocpi_adapter.errors import ConnectionProblem, InvalidParameters, UnknownReceiver
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.routing.operations import OpenRoute
from ocpi_adapter.routing.request import RoutedRequest
from ocpi_adapter.types import ConnectionStatus
from ocpi_adapter.versions.discovery import endpoint_url
from subgraphs.sessions import service as sessions


class Kind(StrEnum):
    PARTY = "party"  # party to party, named in OCPI-to or found by open routing
    BROADCAST = "broadcast"  # a push to every connected party of the opposite role
    GET_ALL = "get_all"  # a list the hub serves from what it stored


@dataclass(frozen=True, slots=True)
class Destination:
    kind: Kind
    party: PartyRef | None = None
    platform: Platform | None = None
    endpoint: str | None = None


def hub_party(hub: Hub) -> PartyRef:
    return PartyRef(hub.settings.hub_country_code, hub.settings.hub_party_id)


async def destination(hub: Hub, tx: AsyncSession, request: RoutedRequest) -> Destination:
    operation = request.operation
    receiver = request.routing.receiver
    is_list_get = request.method == "GET" and operation.get_all is not None
    if receiver == hub_party(hub):
        if is_list_get:
            return Destination(Kind.GET_ALL)
        if request.method == "GET":
            raise InvalidParameters("GET cannot be broadcast; use open routing or GET All")
        if not operation.broadcast:
            raise InvalidParameters(
                f"{request.method} on {request.module.module} cannot be broadcast: "
                "address the receiving party in OCPI-to"
            )
        return Destination(Kind.BROADCAST)
    if receiver is not None:
        return await party(hub, tx, request, receiver)
    # Open routing: the hub decides; it never guesses between several candidates.
    if is_list_get:
        return Destination(Kind.GET_ALL)
    found = await _owner(tx, request)
    if found is not None:
        return await party(hub, tx, request, found)
    if operation.broadcast and request.method != "GET":
        return Destination(Kind.BROADCAST)
    raise UnknownReceiver(
        "the receiver cannot be determined: set OCPI-to-country-code/party-id (ids are unique "
        "per owner only, so the hub routes no request by an id alone)"
    )


async def party(hub: Hub, tx: AsyncSession, request: RoutedRequest, ref: PartyRef) -> Destination:
    found = await platforms.find_parties(tx, ref=ref)
    if not found:
        raise UnknownReceiver(f"{ref} is not known to the hub")
    # A role the platform no longer registers (SUSPENDED while the platform stays connected)
    # receives nothing; an unregistered platform's parties are all SUSPENDED: 4003 below.
    live = {p.role for p in found if p.status is not ConnectionStatus.SUSPENDED}
    party_roles = live or {p.role for p in found}
    receivers = request.use.receivers
    if not party_roles & receivers:
        raise InvalidParameters(
            f"{ref} is {roles.names(party_roles)}: {request.method} on the "
            f"{request.module.module} {request.operation.interface.path} interface reaches "
            f"{roles.names(receivers)} only (hub policy: the role matrix)"
        )
    owner = await tx.get(Platform, found[0].platform_id)
    assert owner is not None
    if owner.status is not ConnectionStatus.CONNECTED or not owner.outgoing_token:
        raise ConnectionProblem(f"{ref} is not connected ({owner.status})")
    endpoint = endpoint_url(owner.endpoints, request.module.module, request.operation.interface)
    if endpoint is None:
        # Policy (check 23): a receiver without the interface is unknown for this module.
        raise UnknownReceiver(
            f"{ref} does not offer the {request.module.module} "
            f"{request.operation.interface} interface"
        )
    return Destination(Kind.PARTY, party=ref, platform=owner, endpoint=endpoint)


def _body(request: RoutedRequest, field: str) -> Any:
    return request.body.get(field) if isinstance(request.body, dict) else None


async def _owner(tx: AsyncSession, request: RoutedRequest) -> PartyRef | None:
    """The receiver an open-routed request names through an owner, or None (policy: an id
    alone never decides, since ids are unique per owner only)."""
    rule = request.operation.open_route
    if rule is OpenRoute.OWN_SESSION:
        # The CPO speaks of its own Session (its URL's cc/pid, checked to be the sender).
        found = await sessions.session_emsp(
            tx,
            country_code=request.sender.country_code,
            party_id=request.sender.party_id,
            session_id=request.params["session_id"],
        )
        return PartyRef.of(*found) if found else None
    if rule is OpenRoute.OWN_RESERVATION:
        reservation_id = _body(request, "reservation_id")
        if not isinstance(reservation_id, str):
            return None
        # Only the requester's own RESERVE_NOW: reservation ids are the eMSP's.
        cpos = await sessions.reservation_cpos(
            tx,
            emsp=(request.sender.country_code, request.sender.party_id),
            reservation_id=reservation_id,
        )
        if len(cpos) > 1:
            raise UnknownReceiver(
                f"reservation {reservation_id} went to {len(cpos)} CPOs; set OCPI-to"
            )
        return PartyRef.of(*cpos[0]) if cpos else None
    if rule is OpenRoute.CDR_TOKEN:
        token = _body(request, "cdr_token")
        if isinstance(token, dict) and token.get("country_code") and token.get("party_id"):
            return PartyRef.of(str(token["country_code"]), str(token["party_id"]))
    return None
