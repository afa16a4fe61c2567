"""Checks a request must pass before the hub routes it: sender, body, object ownership."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import QueryParams

from incar.timestamps import format_timestamp, parse_timestamp
from ocpi_adapter import query as query_params
from ocpi_adapter import roles
from ocpi_adapter.errors import InvalidParameters, OcpiError
from ocpi_adapter.headers import PartyRef, Routing
from ocpi_adapter.platforms.models import Party
from ocpi_adapter.roles import Use
from ocpi_adapter.routing.operations import Operation
from ocpi_adapter.types import ConnectionStatus, Role
from ocpi_adapter.validation import validate
from subgraphs.sessions import service as sessions

if TYPE_CHECKING:
    from ocpi_adapter.routing.recipient import Destination
    from ocpi_adapter.routing.request import RoutedRequest


def sender_of(owned: Sequence[Party], routing: Routing, *, optional: bool) -> PartyRef | None:
    """The OCPI-from party, which must be one of the calling platform's own parties ``owned``
    (no spoofing)."""
    if routing.sender is None:
        if optional:
            return None
        raise InvalidParameters("OCPI-from-country-code and OCPI-from-party-id are required")
    if not any(
        p.country_code == routing.sender.country_code and p.party_id == routing.sender.party_id
        for p in owned
    ):
        raise InvalidParameters(f"OCPI-from {routing.sender} is not a role of the calling platform")
    return routing.sender


def acting_roles(owned: Sequence[Party], sender: PartyRef, use: Use, what: str) -> frozenset[Role]:
    """The sender's roles that OCPI lets use this interface (the role matrix, roles.py).

    A platform may hold several roles under one party (a CPO that is also an eMSP); a role it
    no longer registers (SUSPENDED) counts for nothing.
    """
    held = frozenset(
        p.role
        for p in owned
        if p.country_code == sender.country_code
        and p.party_id == sender.party_id
        and p.status is not ConnectionStatus.SUSPENDED
    )
    acting = held & use.senders
    if not acting:
        raise InvalidParameters(
            f"{sender} is {roles.names(held)}: {what} is for {roles.names(use.senders)} "
            "only (hub policy: the role matrix)"
        )
    return acting


def check_owner_in_url(operation: Operation, params: dict[str, str], sender: PartyRef) -> None:
    """Client-owned object URLs carry the owner, who must be the sender (check 25)."""
    if not operation.client_owned:
        return
    url_owner = PartyRef.of(params["country_code"], params["party_id"])
    if url_owner != sender:
        raise InvalidParameters(
            f"the URL names objects of {url_owner}, but the request is from {sender}"
        )


def check_owner_in_body(operation: Operation, body: Any, sender: PartyRef) -> None:
    """An object pushed on a URL without an owner (a CDR POST) names its owner in the body,
    who must be the sender too: otherwise a CPO could file CDRs as another CPO (anti spoofing,
    always enforced)."""
    if operation.client_owned or operation.store is None or not isinstance(body, dict):
        return
    cc, pid = body.get("country_code"), body.get("party_id")
    if not isinstance(cc, str) or not isinstance(pid, str):
        return
    body_owner = PartyRef.of(cc, pid)
    if body_owner != sender:
        raise InvalidParameters(
            f"the body is an object of {body_owner}, but the request is from {sender}"
        )


def body_problem(operation: Operation, params: dict[str, str], body: Any) -> OcpiError | None:
    """Why the body is not a valid object for this operation, or None if it is."""
    if operation.body is None or (body is None and operation.body_optional):
        return None
    try:
        validate(operation.body, body)
    except OcpiError as error:
        return error
    assert isinstance(body, dict)
    if operation.client_owned:
        for field in ("country_code", "party_id"):
            if field in body and str(body[field]).upper() != params[field].upper():
                return InvalidParameters(
                    f"{field} {body[field]!r} in the body differs from {params[field]!r} in the URL"
                )
    if operation.id_field is not None:
        url_id = params[operation.segments[-1][1:-1]]
        stated = body.get(operation.id_field)
        # Ids are CiStrings: "loc9" in the URL and "LOC9" in the body name one object.
        if operation.id_field in body and str(stated).upper() != url_id.upper():
            return InvalidParameters(
                f"{operation.id_field} {body[operation.id_field]!r} in the body differs "
                f"from {url_id!r} in the URL"
            )
    return None


async def customer_session(
    tx: AsyncSession, request: RoutedRequest, destination: Destination
) -> None:
    """Charging preferences come only from the session's own eMSP (mod_sessions): the hub
    must know the receiving CPO's Session, and its cdr_token must be the sender's."""
    assert destination.party is not None
    session_id = request.params["session_id"]
    emsp = await sessions.session_emsp(
        tx,
        country_code=destination.party.country_code,
        party_id=destination.party.party_id,
        session_id=session_id,
    )
    if emsp is None or PartyRef.of(*emsp) != request.sender:
        raise InvalidParameters(
            f"session {session_id} of {destination.party} is not a session of "
            f"{request.sender}'s customers: only its eMSP may send its charging preferences"
        )


def check_query(operation: Operation, query: QueryParams) -> None:
    """The query parameters the hub reads itself are valid before anything is routed."""
    if "token_uid" in operation.segments_params:
        query_params.token_type(query)
    if operation.response_url == "query":
        query_params.response_url(query)


def clock_problem(body: Any, horizon: datetime) -> OcpiError | None:
    """A last_updated (at any depth: a Location's EVSEs and Connectors have their own) more
    than INCAR_MAX_CLOCK_SKEW ahead of the hub's clock: hub policy, since such a stamp would
    make every real update of the object stale until that moment."""
    for stamp in _stamps(body):
        try:
            moment = parse_timestamp(stamp)
        except ValueError:
            continue  # not a DateTime: validation says so, or transparent mode relays it
        if moment > horizon:
            return InvalidParameters(
                f"last_updated {stamp} is ahead of the hub's clock by more than the skew it "
                f"accepts (until {format_timestamp(horizon)})"
            )
    return None


def _stamps(value: Any) -> list[str]:
    found: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            stamp = item.get("last_updated")
            if isinstance(stamp, str):
                found.append(stamp)
            pending.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            pending.extend(v for v in item if isinstance(v, dict | list))
    return found
