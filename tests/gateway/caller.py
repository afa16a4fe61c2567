"""Who called a subgraph: the client's Authorization, whichever way the gateway passed it on.

Over HTTP (queries, mutations, and the entity fetches a subscription's events need) the gateway
forwards the client's ``Authorization`` header; over a WebSocket (subscriptions) it sends the
token in the ``connection_init`` payload, because a WebSocket from a browser cannot carry the
header. Each subgraph authenticates the driver itself from this one value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import HTTPConnection

AUTHORIZATION = "Authorization"


def authorization(context: Mapping[str, Any]) -> str | None:
    """The caller's Authorization value in a Strawberry ASGI context, or None."""
    params = context.get("connection_params")
    if isinstance(params, Mapping):
        for key, value in params.items():
            if isinstance(key, str) and key.lower() == AUTHORIZATION.lower():
                return value if isinstance(value, str) and value else None
        return None
    connection = context.get("request")
    if isinstance(connection, HTTPConnection):
        return connection.headers.get(AUTHORIZATION)
    return None
