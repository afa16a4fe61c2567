"""Where a request goes: the hub itself, one party (named or found), or every party."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ocpi_adapter.context import Hub
from ocpi_adapter.errors import ConnectionProblem, InvalidParameters, UnknownReceiver
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.routing.operations import OpenRoute
from ocpi_adapter.routing.request import RoutedRequest
from ocpi_adapter.types import ConnectionStatus
from ocpi_adapter.versions.discovery import endpoint_url
from subgraphs.locations import service as locations
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


async def destination(hub: Hub, session: AsyncSession, request: RoutedRequest) -> Destination:
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
        return await party(hub, session, request, receiver)
    # Open routing: the hub decides; it never guesses between several candidates.
    if is_list_get:
        return Destination(Kind.GET_ALL)
    found = await _owner(session, request)
    if found is not None:
        return await party(hub, session, request, found)
    if operation.broadcast and request.method != "GET":
        return Destination(Kind.BROADCAST)
    raise UnknownReceiver("the receiver cannot be determined: set OCPI-to-country-code/party-id")


async def party(
    hub: Hub, session: AsyncSession, request: RoutedRequest, ref: PartyRef
) -> Destination:
    owner = await platforms.owner_of(session, ref=ref)
    if owner is None:
        raise UnknownReceiver(f"{ref} is not known to the hub")
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


def _one(candidates: list[tuple[str, str]], what: str) -> PartyRef | None:
    unique = sorted(set(candidates))
    if len(unique) > 1:
        raise UnknownReceiver(f"{what} is ambiguous ({len(unique)} owners); set OCPI-to")
    return PartyRef.of(*unique[0]) if unique else None


def _body(request: RoutedRequest, field: str) -> Any:
    return request.body.get(field) if isinstance(request.body, dict) else None


async def _owner(session: AsyncSession, request: RoutedRequest) -> PartyRef | None:
    rule = request.operation.open_route
    params = request.params
    if rule is OpenRoute.LOCATION:
        return _one(
            await locations.owners_of_location(session, location_id=params["location_id"]),
            f"location {params['location_id']}",
        )
    if rule is OpenRoute.BODY_LOCATION and isinstance(_body(request, "location_id"), str):
        location_id = _body(request, "location_id")
        return _one(
            await locations.owners_of_location(session, location_id=location_id),
            f"location {location_id}",
        )
    if rule in (OpenRoute.SESSION_CPO, OpenRoute.SESSION_EMSP):
        session_id = params.get("session_id") or _body(request, "session_id")
        if not isinstance(session_id, str):
            return None
        pairs = await sessions.find_session_parties(session, session_id=session_id)
        sender = (request.sender.country_code, request.sender.party_id)
        if rule is OpenRoute.SESSION_CPO:
            # Session ids are unique per CPO only: the requester's own (as eMSP) come first.
            own = [cpo for cpo, emsp in pairs if emsp == sender]
            return _one(own or [cpo for cpo, _ in pairs], f"session {session_id}")
        # The CPO speaks of its own session: the one its URL names, or the sender's.
        owner = (
            PartyRef.of(params["country_code"], params["party_id"])
            if "country_code" in params and "party_id" in params
            else request.sender
        )
        return _one(
            [emsp for cpo, emsp in pairs if emsp and cpo == (owner.country_code, owner.party_id)],
            f"session {session_id}",
        )
    if rule is OpenRoute.TOKEN:
        return _one(
            await sessions.token_owners(
                session, uid=params["token_uid"], token_type=request.query.get("type") or "RFID"
            ),
            f"token {params['token_uid']}",
        )
    if rule is OpenRoute.RESERVATION and isinstance(_body(request, "reservation_id"), str):
        reservation_id = _body(request, "reservation_id")
        return _one(
            await sessions.reservation_owner(session, reservation_id=reservation_id),
            f"reservation {reservation_id}",
        )
    if rule is OpenRoute.CDR_TOKEN:
        token = _body(request, "cdr_token")
        if isinstance(token, dict) and token.get("country_code") and token.get("party_id"):
            return PartyRef.of(str(token["country_code"]), str(token["party_id"]))
    return None
