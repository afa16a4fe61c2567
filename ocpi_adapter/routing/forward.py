"""How a request reaches its receiver and how the answer comes back (checks 21, 22, 27)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from ocpi_adapter.client import PeerAuth, PeerResponse
from ocpi_adapter.context import Hub
from ocpi_adapter.errors import AnswerTooLarge, ConnectionProblem
from ocpi_adapter.headers import PartyRef, Routing, Trace
from ocpi_adapter.hubclientinfo import push as clientinfo
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.routing import callbacks, rewrite
from ocpi_adapter.routing.recipient import Destination
from ocpi_adapter.routing.request import RoutedRequest
from ocpi_adapter.types import ConnectionStatus

log = logging.getLogger("incar.hub.forward")

# Response headers a receiver sets that the requester needs; Link and Location are rewritten.
RELAYED = ("content-type", "x-total-count", "x-limit")


async def send(
    hub: Hub,
    *,
    method: str,
    url: str,
    body: bytes | None,
    platform: Platform,
    routing: Routing,
    trace: Trace,
    via: str | None,
    added: Mapping[str, str] | None = None,
) -> PeerResponse:
    """One hop to a peer: its token, the routing headers given, a fresh X-Request-ID, the
    incoming Via with the hub's element appended, and any headers the hub ``added``."""
    assert platform.outgoing_token is not None
    headers = {**(added or {}), **routing.as_headers(), **trace.next_hop().as_headers()}
    try:
        answer = await hub.client.request(
            method,
            url,
            auth=PeerAuth(platform.outgoing_token, platform.legacy_raw_token),
            headers=headers,
            body=body,
            via=via,
        )
    except ConnectionProblem:
        await mark_unreachable(hub, platform)
        raise
    except AnswerTooLarge as error:
        # Like an answer that is not JSON (below): the peer was reached, its status stays.
        log.info("%s", error.message)
        raise
    if not _is_json(answer.body):
        # Not an answer the hub can relay as OCPI (check 1): an error page of a proxy, an
        # empty or cut-off body. Policy: 4003, the party's status unchanged (check 20).
        log.info("%s %s answered HTTP %s without a JSON body", method, url, answer.status)
        raise ConnectionProblem(f"the receiver answered HTTP {answer.status} without a JSON body")
    return answer


def _is_json(body: bytes) -> bool:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


async def mark_unreachable(hub: Hub, platform: Platform) -> None:
    """A peer that cannot be reached is OFFLINE until the still-alive check reaches it again."""
    async with hub.db.transaction() as tx:
        stored = await tx.get(Platform, platform.id)
        if stored is None or stored.status is not ConnectionStatus.CONNECTED:
            return
        changed = await platforms.set_status(tx, platform=stored, status=ConnectionStatus.OFFLINE)
        await clientinfo.push(hub, tx, changed)
    await hub.callers.changed()


def relay(
    answer: PeerResponse,
    *,
    requester: PartyRef | None,
    responder: PartyRef | None,
    extra: dict[str, str] | None = None,
) -> Response:
    """The receiver's answer, unchanged, addressed back to the requester.

    The requester's own trace ids are set on it by the TraceMiddleware (never the receiver's).
    """
    headers = {k: v for k, v in answer.headers.items() if k.lower() in RELAYED}
    headers.setdefault("content-type", "application/json")
    headers.update(Routing(sender=responder, receiver=requester).as_headers())
    headers.update(extra or {})
    return Response(answer.body, status_code=answer.status, headers=headers)


async def _keep_callback(
    hub: Hub, request: RoutedRequest, callback_id: str, answer: dict[str, Any]
) -> None:
    until = callbacks.answered_expiry(answer, request.body, hub.settings.command_grace)
    if until is None:
        return
    async with hub.db.transaction() as tx:
        await callbacks.extend(tx, callback_id=callback_id, until=until)


def _envelope(answer: PeerResponse) -> dict[str, Any] | None:
    if answer.status >= 300:
        return None
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def accepted(answer: PeerResponse) -> bool:
    """Whether the receiver took the request: HTTP 2xx and an OCPI 1xxx status code."""
    code = (_envelope(answer) or {}).get("status_code")
    return isinstance(code, int) and 1000 <= code < 2000


def envelope_data(answer: PeerResponse) -> Any:
    """The ``data`` of a successful answer, or None (used to record command states)."""
    body = _envelope(answer)
    if body is None or body.get("status_code") != 1000:
        return None
    data = body.get("data")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    return data


async def to_party(
    hub: Hub,
    request: RoutedRequest,
    destination: Destination,
    outgoing: rewrite.Outgoing,
    *,
    added: Mapping[str, str] | None = None,
) -> Response:
    """The request to its receiver and the answer back; headers the hub ``added`` (of what it
    stored: Operation.stored_headers) go with both."""
    assert destination.platform is not None and destination.party is not None
    answer = await send(
        hub,
        method=request.method,
        url=outgoing.url,
        body=outgoing.body,
        platform=destination.platform,
        routing=Routing(sender=request.sender, receiver=destination.party),
        trace=request.trace,
        via=request.via,
        added=added,
    )
    extra: dict[str, str] = dict(added or {})
    if (value := answer.headers.get("link")) is not None:
        moved = rewrite.link(hub, request, destination, value)
        if moved is not None:
            extra["Link"] = moved
    observe = request.operation.observe
    data = envelope_data(answer)
    if outgoing.callback_id is not None and isinstance(data, dict):
        await _keep_callback(hub, request, outgoing.callback_id, data)
    location_value = answer.headers.get("location")
    if (location_value and request.operation.location_header) or (observe and data is not None):
        async with hub.db.transaction() as tx:
            if location_value and request.operation.location_header:
                extra["Location"] = await rewrite.location(
                    hub, tx, request, destination, location_value
                )
            if observe is not None and data is not None:
                await observe(
                    tx,
                    request.store_input(
                        receiver=destination.party, callback_id=outgoing.callback_id
                    ),
                    data,
                )
    return relay(
        answer,
        requester=request.sender,
        responder=destination.party,
        extra=extra,
    )
