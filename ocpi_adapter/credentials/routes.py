"""The hub's credentials endpoint (credentials.asciidoc, Interfaces and endpoints)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocpi_adapter.auth import authenticate, hub_of
from ocpi_adapter.body import json_body
from ocpi_adapter.credentials import flows
from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.registry import HubEndpoint, ModuleMount, routes
from ocpi_adapter.types import InterfaceRole, ModuleID


async def credentials(request: Request) -> Response:
    caller = await authenticate(request, registration_allowed=True)
    hub = hub_of(request)
    if request.method == "GET":
        return OcpiResponse(flows.hub_credentials(hub, caller.token))
    if request.method == "DELETE":
        await flows.unregister(hub, caller)
        return OcpiResponse()
    body = await json_body(request)
    if request.method == "POST":
        return OcpiResponse(await flows.register(hub, caller, body))
    return OcpiResponse(await flows.update(hub, caller, body))


MOUNT = ModuleMount(
    # The role of a credentials endpoint carries no meaning; SENDER is the advised value.
    endpoints=(HubEndpoint(ModuleID.CREDENTIALS, InterfaceRole.SENDER, "credentials"),),
    routes=tuple(routes("/credentials", credentials, ["GET", "POST", "PUT", "DELETE"])),
)
