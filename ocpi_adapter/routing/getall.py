"""GET All via the hub: the lists the hub serves from what passed through it (check 39)."""

from __future__ import annotations

from starlette.responses import Response

from incar import exactjson
from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.headers import Routing
from ocpi_adapter.pagination import PageRequest
from ocpi_adapter.routing.recipient import hub_party
from ocpi_adapter.routing.request import RoutedRequest
from ocpi_adapter.routing.rewrite import hub_endpoint


async def serve(hub: Hub, request: RoutedRequest) -> Response:
    lister = request.operation.get_all
    assert lister is not None
    limit = hub.settings.page_limit
    page_request = PageRequest.parse(request.query, max_limit=limit)
    added = request.operation.page_headers
    async with hub.db.transaction() as tx:
        page = await lister(tx, request.sender, page_request)
        extra = {} if added is None else dict(await added(tx, page))
    headers = page_request.headers(
        url=hub_endpoint(hub, request.module.module, request.operation.interface),
        total=page.total,
        returned=len(page.items),
        max_limit=limit,
    )
    headers.update(extra)
    headers.update(Routing(sender=hub_party(hub), receiver=request.sender).as_headers())
    # Each object is its stored text, spliced in as it is: what the owner pushed, byte for byte,
    # and never parsed or written again (so no document can make a page fail to serialise).
    return OcpiResponse([exactjson.verbatim(text) for text in page.items], headers=headers)
