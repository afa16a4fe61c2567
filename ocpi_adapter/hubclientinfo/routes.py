"""The hub's hubclientinfo Sender interface: the paginated ClientInfo list."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ocpi_adapter.auth import authenticate, hub_of
from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.hubclientinfo import service
from ocpi_adapter.pagination import PageRequest
from ocpi_adapter.registry import HubEndpoint, ModuleMount, routes
from ocpi_adapter.types import InterfaceRole, ModuleID

PATH = "hubclientinfo"


async def client_infos(request: Request) -> Response:
    caller = await authenticate(request, registration_allowed=False)
    hub = hub_of(request)
    page = PageRequest.parse(request.query_params, max_limit=hub.settings.page_limit)
    assert caller.platform.id is not None
    async with hub.db.transaction() as tx:
        items, total = await service.page(tx, viewer_platform_id=caller.platform.id, request=page)
    headers = page.headers(
        url=f"{hub.base_url}/{PATH}",
        total=total,
        returned=len(items),
        max_limit=hub.settings.page_limit,
    )
    return OcpiResponse(items, headers=headers)


MOUNT = ModuleMount(
    endpoints=(HubEndpoint(ModuleID.HUB_CLIENT_INFO, InterfaceRole.SENDER, PATH),),
    routes=tuple(routes(f"/{PATH}", client_infos, ["GET"])),
)
