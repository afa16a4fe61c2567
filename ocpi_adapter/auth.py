"""Authenticates a request's credentials token (transport_and_format, Authorization header)."""

from __future__ import annotations

from starlette.requests import Request

from ocpi_adapter.context import Hub
from ocpi_adapter.errors import Unauthorized
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.service import Caller, TokenKind


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


async def authenticate(request: Request, *, registration_allowed: bool) -> Caller:
    """The calling platform; token A only on versions and credentials (check 4)."""
    hub = hub_of(request)
    caller = await hub.callers.lookup(request.headers.get("authorization"))
    if caller is None:
        raise Unauthorized("unknown or missing credentials token")
    if caller.kind is TokenKind.REGISTRATION and not registration_allowed:
        raise Unauthorized("a registration token (A) is only valid on versions and credentials")
    return caller


__all__ = ["Caller", "authenticate", "hub_of", "platforms"]
