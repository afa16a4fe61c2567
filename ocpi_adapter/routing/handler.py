"""The one endpoint behind every functional module interface: the pipeline's order."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from starlette.convertors import PathConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from incar import exactjson
from incar.documents import Outcome
from ocpi_adapter import paths
from ocpi_adapter.auth import authenticate, hub_of
from ocpi_adapter.body import parse_json
from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import OcpiResponse, OcpiStatus
from ocpi_adapter.errors import (
    ConnectionProblem,
    InvalidParameters,
    MethodNotAllowed,
    NotFound,
    OcpiError,
)
from ocpi_adapter.headers import PartyRef, Routing, Trace
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.registry import HubEndpoint, ModuleMount
from ocpi_adapter.roles import use_of
from ocpi_adapter.routing import (
    broadcast,
    callbacks,
    checks,
    forward,
    getall,
    kept,
    recipient,
    rewrite,
)
from ocpi_adapter.routing.models import Callback
from ocpi_adapter.routing.operations import ModuleRoutes, Operation
from ocpi_adapter.routing.recipient import Kind, hub_party
from ocpi_adapter.routing.request import RoutedRequest
from ocpi_adapter.types import ConnectionStatus, InterfaceRole

log = logging.getLogger("incar.hub.store")

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


def _match(
    routes: ModuleRoutes, interface: InterfaceRole, method: str, suffix: str
) -> tuple[Operation, dict[str, str]]:
    parts = paths.segments(suffix)
    allowed = []
    for operation in routes.operations:
        if operation.interface is not interface:
            continue
        params = operation.match(parts)
        if params is None:
            continue
        if operation.method == method:
            paths.check_ids(params)
            return operation, params
        allowed.append(operation.method)
    if allowed:
        raise MethodNotAllowed(f"{method} is not allowed here; allowed: {', '.join(allowed)}")
    raise NotFound(
        f"no {routes.module} {interface} operation at '{suffix}'",
        status=OcpiStatus.INVALID_PARAMETERS,
    )


def _raw_suffix(request: Request, prefix: str) -> tuple[str, str]:
    """The path after the module endpoint and the query, both as received (still encoded)."""
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    path = raw_path.split("?", 1)[0]
    suffix = (
        path[len(prefix) :] if path.startswith(prefix) else request.path_params.get("suffix", "")
    )
    return suffix.strip("/"), request.scope.get("query_string", b"").decode("latin-1")


def _error(hub: Hub, error: OcpiError, requester: PartyRef | None) -> Response:
    headers = Routing(sender=hub_party(hub), receiver=requester).as_headers() if requester else {}
    return OcpiResponse(
        error.data,
        status=error.status,
        message=error.message,
        http_status=error.http_status,
        headers=headers,
    )


def _endpoint(
    routes: ModuleRoutes, interface: InterfaceRole
) -> Callable[[Request], Awaitable[Response]]:
    prefix = f"/ocpi/2.2.1/{routes.module}/{interface.path}"

    async def endpoint(request: Request) -> Response:
        hub = hub_of(request)
        trace: Trace = request.scope["state"]["trace"]
        requester: PartyRef | None = None
        try:
            caller = await authenticate(request, registration_allowed=False)
            routing = Routing.parse(request.headers)
            requester = routing.sender
            suffix, query_string = _raw_suffix(request, prefix)
            operation, params = _match(routes, interface, request.method, suffix)
            checks.check_query(operation, request.query_params)
            raw = await request.body() if request.method in WITH_BODY else b""
            body = (
                parse_json(raw, stored_at=operation.stored_at)
                if request.method in WITH_BODY and (raw.strip() or not operation.body_optional)
                else None
            )
            callback: Callback | None = None
            assert caller.platform.id is not None
            owned = await hub.callers.parties_of(caller.platform.id)
            try:
                sender = checks.sender_of(owned, routing, optional=operation.callback)
            except OcpiError:
                requester = None  # not the caller's party: the refusal names no one
                raise
            if operation.callback:
                async with hub.db.transaction() as tx:
                    callback = await callbacks.resolve(
                        tx,
                        callback_id=params["callback_id"],
                        module=routes.module,
                        caller_platform_id=caller.platform.id,
                    )
            if sender is None:
                assert callback is not None
                sender = PartyRef(callback.caller_country_code, callback.caller_party_id)
            requester = sender
            acting = checks.acting_roles(
                owned,
                sender,
                use_of(routes.module, interface, request.method),
                f"{request.method} on the {routes.module} {interface.path} interface",
            )
            checks.check_owner_in_url(operation, params, sender)
            checks.check_owner_in_body(operation, body, sender)
            problem = checks.body_problem(operation, params, body) or checks.clock_problem(
                body, hub.horizon()
            )
            if problem is not None and hub.settings.validation == "validating":
                raise problem
            routed = RoutedRequest(
                module=routes,
                operation=operation,
                params=params,
                method=request.method,
                suffix=suffix,
                query_string=query_string,
                query=request.query_params,
                raw_body=raw,
                body=body,
                body_valid=problem is None,
                caller=caller,
                sender=sender,
                roles=acting,
                routing=routing,
                trace=trace,
                via=request.scope["state"].get("via"),
            )
            if callback is not None:
                return await _through_callback(hub, routed, callback)
            return await _route(hub, routed)
        except OcpiError as error:
            return _error(hub, error, requester)

    return endpoint


async def _route(hub: Hub, request: RoutedRequest) -> Response:
    outgoing: rewrite.Outgoing | None = None
    added: Mapping[str, str] = {}
    store = request.operation.store if request.body_valid else None
    # A push that may be broadcast writes its owed copies even when nothing is stored.
    write = store is not None or (request.operation.broadcast and request.method != "GET")
    async with hub.db.transaction(write=write) as tx:
        destination = await recipient.destination(hub, tx, request)
        if request.operation.customer_session:
            await checks.customer_session(tx, request, destination)
        if destination.kind is Kind.PARTY:
            outgoing = await rewrite.outgoing(hub, tx, request, destination)
        if store is not None and destination.kind is not Kind.GET_ALL:
            stored = request.store_input(
                receiver=destination.party,
                callback_id=outgoing.callback_id if outgoing else None,
            )
            try:
                outcome = await store(tx, stored)
            except exactjson.TooDeep as error:
                # A PATCH merged into an object an older version stored deeper than the limit:
                # the result could not be served, so it is refused before anything is sent.
                raise InvalidParameters(
                    f"body: with this change the stored object would nest {error.depth} levels "
                    f"deep, more than the {error.limit} a stored document may (hub policy)"
                ) from None
            _report(request, outcome)
            if request.operation.stored_headers is not None:
                added = await request.operation.stored_headers(tx, stored)
        if destination.kind is Kind.BROADCAST:
            await broadcast.owe(hub, tx, request)
    # Committed: what the hub stored, the copies it owes and any hub URL it hands out survive
    # a restart from here.
    if destination.kind is Kind.GET_ALL:
        return await getall.serve(hub, request)
    if destination.kind is Kind.BROADCAST:
        return broadcast.accept(hub, request)
    assert outgoing is not None
    return await forward.to_party(hub, request, destination, outgoing, added=added)


def _report(request: RoutedRequest, outcome: Outcome) -> None:
    """What the store made of a request that is relayed whatever it made of it: an operator
    sees why a change did not land (an out-of-order or orphan PATCH is OCPI-legal); a repeat
    of what is stored (UNCHANGED) is an ordinary retry."""
    if outcome in (Outcome.STALE, Outcome.UNKNOWN):
        log.info(
            "%s %s/%s not stored (%s): %s",
            request.method,
            request.module.module,
            request.suffix,
            outcome.value,
            "older than the stored object"
            if outcome is Outcome.STALE
            else "the hub holds no object it changes",
        )
    else:
        log.debug(
            "%s %s/%s stored: %s",
            request.method,
            request.module.module,
            request.suffix,
            outcome.value,
        )


async def _through_callback(hub: Hub, request: RoutedRequest, callback: Callback) -> Response:
    """A CPO calling a hub URL: on to the URL it stands for, on behalf of the original party;
    the result of a command the hub sent itself (for the graph) is kept by the hub."""
    if callback.kept_by_hub:
        return await kept.accept(hub, request, callback)
    if request.method == "POST":
        callbacks.refuse_repeat(callback, request.raw_body)
    async with hub.db.transaction() as tx:
        target = await tx.get(Platform, callback.target_platform_id)
    if (
        target is None
        or target.status is not ConnectionStatus.CONNECTED
        or not target.outgoing_token
    ):
        raise ConnectionProblem("the party this URL leads to is not connected")
    requester = PartyRef(callback.target_country_code, callback.target_party_id)
    answer = await forward.send(
        hub,
        method=request.method,
        url=callback.target_url,
        body=request.raw_body if request.method in WITH_BODY else None,
        platform=target,
        routing=Routing(sender=request.sender, receiver=requester),
        trace=Trace(request_id=request.trace.request_id, correlation_id=callback.correlation_id),
        via=request.via,
    )
    if request.method == "POST" and forward.accepted(answer):
        async with hub.db.transaction(write=True) as tx:
            await callbacks.delivered(tx, callback_id=callback.id, body=request.raw_body)
            if request.operation.store is not None and request.body_valid:
                outcome = await request.operation.store(
                    tx, request.store_input(receiver=requester, callback_id=callback.id)
                )
                _report(request, outcome)
    return forward.relay(answer, requester=request.sender, responder=requester)


class _AnySuffix(PathConvertor):
    """Starlette's ``path``, but a control character (an encoded line feed) matches as well,
    so that the path's own check refuses it in OCPI's terms (2001), not the router (404)."""

    regex = "(?s:.*)"


register_url_convertor("anysuffix", _AnySuffix())


def mount(routes: ModuleRoutes) -> ModuleMount:
    """The hub endpoints and Starlette routes of one functional module (STYLE 7)."""
    endpoints = []
    starlette_routes = []
    for interface in routes.interfaces():
        path = f"{routes.module}/{interface.path}"
        endpoints.append(HubEndpoint(routes.module, interface, path))
        endpoint = _endpoint(routes, interface)
        starlette_routes.append(Route(f"/{path}", endpoint, methods=METHODS))
        starlette_routes.append(Route(f"/{path}/{{suffix:anysuffix}}", endpoint, methods=METHODS))
    return ModuleMount(endpoints=tuple(endpoints), routes=tuple(starlette_routes))
