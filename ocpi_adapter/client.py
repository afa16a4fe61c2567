"""The one outbound HTTP client of the hub: every request to a peer goes through here."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from ocpi_adapter import credentials_token
from ocpi_adapter.errors import ConnectionProblem, ForwardTimeout


@dataclass(frozen=True, slots=True)
class PeerAuth:
    """The token the hub presents to a peer, and how it encodes it."""

    token: str
    legacy_raw: bool = False

    def header(self) -> str:
        return credentials_token.authorization(self.token, legacy_raw=self.legacy_raw)


@dataclass(frozen=True, slots=True)
class PeerResponse:
    status: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class PeerClient:
    """Sends requests to peers with a hard deadline per request.

    Timeouts become 4002 and connection failures 4003 (``ForwardTimeout``/``ConnectionProblem``),
    so a slow or dead peer only ever costs its caller the deadline, never other peers.
    """

    def __init__(self, *, timeout: float, max_connections: int = 200) -> None:
        self.timeout = timeout
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
            trust_env=False,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        auth: PeerAuth,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        deadline: float | None = None,
    ) -> PeerResponse:
        out = {"Authorization": auth.header(), **(headers or {})}
        if body is not None:
            out["Content-Type"] = "application/json"
        deadline = self.timeout if deadline is None else deadline
        try:
            async with asyncio.timeout(deadline):
                response = await self._http.request(method, url, headers=out, content=body)
                content = await response.aread()
        except (TimeoutError, httpx.TimeoutException):
            raise ForwardTimeout(f"{method} {url} did not answer within {deadline:g} s") from None
        except httpx.HTTPError as error:
            raise ConnectionProblem(f"{method} {url} failed: {type(error).__name__}") from None
        return PeerResponse(status=response.status_code, headers=response.headers, body=content)

    async def aclose(self) -> None:
        await self._http.aclose()
