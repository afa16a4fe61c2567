"""GET versions and GET version details (version_information_endpoint)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocpi_adapter.auth import authenticate, hub_of
from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.registry import HubEndpoint
from ocpi_adapter.types import OCPI_VERSION


async def versions(request: Request) -> Response:
    await authenticate(request, registration_allowed=True)
    hub = hub_of(request)
    return OcpiResponse([{"version": str(OCPI_VERSION), "url": hub.base_url}])


async def details(request: Request) -> Response:
    await authenticate(request, registration_allowed=True)
    hub = hub_of(request)
    endpoints: list[HubEndpoint] = request.app.state.endpoints
    return OcpiResponse(
        {
            "version": str(OCPI_VERSION),
            "endpoints": [
                {
                    "identifier": str(e.identifier),
                    "role": str(e.role),
                    "url": f"{hub.base_url}/{e.path}",
                }
                for e in endpoints
            ],
        }
    )
