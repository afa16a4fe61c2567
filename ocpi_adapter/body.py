"""Reads a request body as JSON, or fails with the transport error the spec asks for."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from ocpi_adapter.errors import MalformedBody


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise MalformedBody("the request has no body; a JSON object is expected")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise MalformedBody(f"the request body is not valid JSON: {error}") from None


async def json_body(request: Request) -> Any:
    return parse_json(await request.body())
