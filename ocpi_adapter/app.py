"""Composes the hub's ASGI application: modules, middleware, error rendering, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from incar.columns import utcnow
from incar.http_limits import CLOSED_BY_SERVER
from incar.runtime import Runtime
from incar.settings import Settings
from ocpi_adapter import metrics, via
from ocpi_adapter.client import PeerClient
from ocpi_adapter.context import Hub
from ocpi_adapter.credentials.routes import MOUNT as CREDENTIALS
from ocpi_adapter.envelope import OcpiResponse, OcpiStatus
from ocpi_adapter.errors import OcpiError
from ocpi_adapter.hubclientinfo.routes import MOUNT as HUBCLIENTINFO
from ocpi_adapter.hubclientinfo.still_alive import StillAlive
from ocpi_adapter.ledger import consistency as ledger_consistency
from ocpi_adapter.membership import membership_of
from ocpi_adapter.middleware.body_limit import BodyLimitMiddleware
from ocpi_adapter.middleware.loop_guard import LoopGuardMiddleware
from ocpi_adapter.middleware.trace import TraceMiddleware
from ocpi_adapter.modules import FUNCTIONAL_MOUNTS
from ocpi_adapter.owed.sender import OwedSender
from ocpi_adapter.platforms.callers import CallerCache
from ocpi_adapter.registry import ModuleMount
from ocpi_adapter.versions import routes as versions
from subgraphs.accounting.ledger.backfill import LedgerGap, backfill
from subgraphs.accounting.ledger.outbox import OutboxSender

log = logging.getLogger("incar.hub")

MOUNTS: tuple[ModuleMount, ...] = (CREDENTIALS, HUBCLIENTINFO, *FUNCTIONAL_MOUNTS)


async def _ocpi_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OcpiError)
    return OcpiResponse(
        exc.data, status=exc.status, message=exc.message, http_status=exc.http_status
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return OcpiResponse(
        status=OcpiStatus.CLIENT_ERROR, message=exc.detail, http_status=exc.status_code
    )


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The connection ended before the request's body did: expected, so one line, no trace.

    Registered for ClientDisconnect itself, so it is handled in Starlette's
    ExceptionMiddleware and goes no further: the ``Exception`` handler (ServerErrorMiddleware)
    would log it as unexpected and re-raise it to uvicorn, which logs it again.
    """
    assert isinstance(exc, ClientDisconnect)
    if CLOSED_BY_SERVER not in request.scope.get("state", {}):  # else the server logged why
        log.info(
            "%s %s: the client disconnected before its body was complete",
            request.method,
            request.url.path,
        )
    # Never delivered (the connection is gone); the ASGI cycle still wants an answer.
    return Response(status_code=400)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return OcpiResponse(
        status=OcpiStatus.SERVER_ERROR, message="internal error of the hub", http_status=500
    )


def create_hub(runtime: Runtime) -> Hub:
    settings = runtime.settings
    hub = Hub(
        runtime=runtime,
        client=PeerClient(
            timeout=settings.forward_timeout,
            max_answer_bytes=settings.max_answer_bytes,
            via_element=via.element(via.pseudonym(settings.base_url)),
        ),
        callers=CallerCache(runtime.db, bus=runtime.bus, ttl=settings.registry_cache_ttl),
        membership=membership_of(settings.database_url),
    )
    return hub


def create_app(
    settings: Settings,
    *,
    mounts: Sequence[ModuleMount] = MOUNTS,
    clock: Callable[[], datetime] = utcnow,
) -> Starlette:
    runtime = Runtime.create(settings, clock=clock)
    hub = create_hub(runtime)
    # The serving hub sends what is owed; other processes only write it (found by the poll).
    hub.owed = OwedSender(hub)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        await hub.membership.start()
        await hub.callers.follow()
        # Before the first request, so CDRs stored before the ledger keep their order in it.
        try:
            await backfill(runtime.db)
        except LedgerGap as gap:  # tampering to report, not to repair: the hub serves on
            log.error("ledger: %s", gap)
        assert hub.owed is not None
        await hub.owed.start()
        still_alive = StillAlive(hub)
        still_alive.start()
        ledger_outbox = OutboxSender.of(runtime.db, settings)
        if ledger_outbox is not None:
            ledger_outbox.start()
        try:
            yield
        finally:
            if ledger_outbox is not None:
                await ledger_outbox.stop()
            await still_alive.stop()
            await hub.owed.stop()
            await hub.callers.stop_following()
            await hub.membership.close()
            await hub.close()
            await runtime.close()

    version_routes: list[BaseRoute] = [
        *versions_routes(),
        *ledger_consistency.ROUTES,
        *metrics.ROUTES,
        *(_under(VERSION_PREFIX, route) for m in mounts for route in m.routes),
    ]
    app = Starlette(
        routes=version_routes,
        middleware=[
            # Outermost first: every answer echoes the trace ids, a loop refusal included; a
            # looping request is refused before its body is even counted.
            Middleware(TraceMiddleware),
            Middleware(LoopGuardMiddleware, pseudonym=via.pseudonym(settings.base_url)),
            Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes),
        ],
        exception_handlers={
            OcpiError: _ocpi_error,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _unexpected,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.hub = hub
    app.state.endpoints = [e for m in mounts for e in m.endpoints]
    return app


VERSION_PREFIX = "/ocpi/2.2.1"


def _under(prefix: str, route: BaseRoute) -> Route:
    """A module's route at its full path. Not a Mount: a Mount's own path pattern would not
    match a path holding an encoded line feed, which then never reached the check that
    refuses it in OCPI's terms (ocpi_adapter/paths.py)."""
    assert isinstance(route, Route)
    return Route(prefix + route.path, route.endpoint, methods=route.methods)


def versions_routes() -> list[Route]:
    return [
        Route("/ocpi/versions", versions.versions, methods=["GET"]),
        Route("/ocpi/versions/", versions.versions, methods=["GET"]),
        Route("/ocpi/2.2.1", versions.details, methods=["GET"]),
        Route("/ocpi/2.2.1/", versions.details, methods=["GET"]),
    ]
