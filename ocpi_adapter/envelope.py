"""The OCPI response envelope, status codes and pagination headers: the one place they live."""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Any, Final

from starlette.responses import Response

from incar import exactjson
from incar.timestamps import format_timestamp


class OcpiStatus(IntEnum):
    """status_codes.asciidoc."""

    SUCCESS = 1000
    CLIENT_ERROR = 2000
    INVALID_PARAMETERS = 2001
    NOT_ENOUGH_INFORMATION = 2002
    UNKNOWN_LOCATION = 2003
    UNKNOWN_TOKEN = 2004
    SERVER_ERROR = 3000
    UNABLE_TO_USE_CLIENT_API = 3001
    UNSUPPORTED_VERSION = 3002
    NO_MATCHING_ENDPOINTS = 3003
    HUB_ERROR = 4000
    UNKNOWN_RECEIVER = 4001
    FORWARD_TIMEOUT = 4002
    CONNECTION_PROBLEM = 4003


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def envelope(
    status: int = OcpiStatus.SUCCESS, data: Any = MISSING, message: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not MISSING:
        body["data"] = data
    body["status_code"] = int(status)
    if message:
        body["status_message"] = message
    body["timestamp"] = format_timestamp()
    return body


def dumps(value: Any) -> bytes:
    """The exact writer: numbers parsed from a body keep their literals, stored texts put in
    with ``exactjson.verbatim`` are written as they are."""
    return exactjson.dumps(value)


class OcpiResponse(Response):
    media_type = "application/json"

    def __init__(
        self,
        data: Any = MISSING,
        *,
        status: int = OcpiStatus.SUCCESS,
        message: str | None = None,
        http_status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(dumps(envelope(status, data, message)), http_status, headers=headers)


def page_headers(*, total: int, limit: int, next_url: str | None) -> dict[str, str]:
    headers = {"X-Total-Count": str(total), "X-Limit": str(limit)}
    if next_url is not None:
        headers["Link"] = f'<{next_url}>; rel="next"'
    return headers
