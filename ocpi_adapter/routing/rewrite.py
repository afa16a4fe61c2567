"""Hub URLs in place of peers' URLs, both ways, so no peer's URL reaches another (check 31).

Requests: a ``response_url`` in the body (commands, charging profiles PUT) or in the query
(charging profiles GET/DELETE) becomes a unique hub URL per request. Responses: a paginated
``Link`` is moved onto the hub's own endpoint, a CDR ``Location`` becomes a hub URL.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode

from sqlalchemy.ext.asyncio import AsyncSession

from ocpi_adapter import query as query_params
from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import dumps
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.routing import callbacks
from ocpi_adapter.routing.models import Callback
from ocpi_adapter.routing.recipient import Destination
from ocpi_adapter.routing.request import RoutedRequest
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.urls import join

log = logging.getLogger("incar.hub.rewrite")

# A command's result may come long after the POST (OCPP timeouts are minutes): the mapping
# lives this long until the CPO's CommandResponse says how long it will really take.
FIRST_ANSWER_WINDOW = 600.0

_PAGE_PARAMS = ("offset", "limit", "date_from", "date_to")
_LINK = re.compile(r"<([^>]*)>\s*;\s*rel=\"?next\"?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Outgoing:
    url: str
    body: bytes | None
    callback_id: str | None = None


def hub_endpoint(hub: Hub, module: ModuleID, interface: InterfaceRole) -> str:
    return f"{hub.base_url}/{module}/{interface.path}"


def callback_url(hub: Hub, module: ModuleID, callback_id: str) -> str:
    """The hub URL a receiver gets as ``response_url``: the module's Sender interface at the hub."""
    return f"{hub_endpoint(hub, module, InterfaceRole.SENDER)}/{callback_id}"


async def outgoing(
    hub: Hub, tx: AsyncSession, request: RoutedRequest, destination: Destination
) -> Outgoing:
    assert destination.endpoint is not None
    body = request.raw_body if request.method in ("POST", "PUT", "PATCH") else None
    query = request.query_string
    where = request.operation.response_url
    if where is None:
        return Outgoing(join(destination.endpoint, request.suffix, query), body)
    original = (
        request.body.get("response_url")
        if where == "body" and isinstance(request.body, dict)
        else query_params.response_url(request.query)
    )
    if not isinstance(original, str) or not original:
        raise InvalidParameters("response_url is required")
    callback = await _callback(hub, tx, request, destination, original)
    url = callback_url(hub, request.module.module, callback.id)
    if where == "body":
        assert isinstance(request.body, dict)
        body = dumps({**request.body, "response_url": url})
    else:
        query = _replace_param(query, "response_url", url)
    return Outgoing(join(destination.endpoint, request.suffix, query), body, callback.id)


def _replace_param(query: str, name: str, value: str) -> str:
    """The raw query with ``name``'s value replaced; every other byte kept as sent (check 57)."""
    parts = []
    for part in query.split("&"):
        key = part.split("=", 1)[0]
        parts.append(f"{key}={quote(value, safe='')}" if unquote_plus(key) == name else part)
    return "&".join(parts)


async def _callback(
    hub: Hub,
    tx: AsyncSession,
    request: RoutedRequest,
    destination: Destination,
    original: str,
) -> Callback:
    assert destination.platform is not None and destination.party is not None
    return await callbacks.create(
        tx,
        module=request.module.module,
        caller=(destination.platform, destination.party),
        target=(request.caller.platform, request.sender),
        target_url=original,
        correlation_id=request.trace.correlation_id,
        expires_at=callbacks.expiry(FIRST_ANSWER_WINDOW, hub.settings.command_grace),
    )


def link(hub: Hub, request: RoutedRequest, destination: Destination, value: str) -> str | None:
    """The peer's next-page Link moved onto the hub's endpoint, query kept (check 30).

    A Link under the peer's endpoint keeps its path and query. One that is not (some peers
    print a wrong scheme or path) is rebuilt from its pagination parameters, as ocpi-tool does.
    """
    match = _LINK.search(value)
    if match is None or destination.endpoint is None or not match.group(1):
        return None
    target = match.group(1)
    hub_base = hub_endpoint(hub, request.module.module, request.operation.interface)
    base = destination.endpoint.rstrip("/")
    if target.startswith(base):
        return f'<{hub_base}{target[len(base) :]}>; rel="next"'
    _, _, query = target.partition("?")
    kept = [
        (k, v)
        for k, v in parse_qsl(query, keep_blank_values=False)
        if k in _PAGE_PARAMS and v not in ("None", "null")
    ]
    if not any(k == "offset" for k, _ in kept):
        log.warning("dropping a Link the hub cannot map: %s", target)
        return None
    suffix = f"/{request.suffix}" if request.suffix else ""
    return f'<{hub_base}{suffix}?{urlencode(kept)}>; rel="next"'


async def location(
    hub: Hub,
    tx: AsyncSession,
    request: RoutedRequest,
    destination: Destination,
    value: str,
) -> str:
    """A receiver's CDR Location replaced by a hub URL only the posting platform may GET."""
    assert destination.platform is not None and destination.party is not None
    callback = await callbacks.create(
        tx,
        module=request.module.module,
        caller=(request.caller.platform, request.sender),
        target=(destination.platform, destination.party),
        target_url=value,
        correlation_id=request.trace.correlation_id,
        expires_at=None,
    )
    return f"{hub_endpoint(hub, request.module.module, request.operation.interface)}/{callback.id}"
