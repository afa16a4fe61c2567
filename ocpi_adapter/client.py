"""The one outbound HTTP client of the hub: every request to a peer goes through here.

aiohttp, not the project's usual httpx: on the broadcast benchmark (bench/, alternating runs)
httpx's outbound requests were 55 % of the hub's CPU; with aiohttp the hub spent 29 % less CPU
per PATCH and acknowledged 48 % more PATCHes per second. httpx stays for the simulator and tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ocpi_adapter import credentials_token
from ocpi_adapter import via as via_header
from ocpi_adapter.errors import AnswerTooLarge, ConnectionProblem, ForwardTimeout

#: Encodings under which Content-Length is the size of the body the hub ends up holding.
_UNENCODED = frozenset({"", "identity"})


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
    #: Case-insensitive; a header sent more than once reads as its values joined by ", ".
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def _joined(raw: CIMultiDictProxy[str]) -> Mapping[str, str]:
    """Names lower-cased (as httpx gave them), repeated headers joined by ", " (as HTTP allows)."""
    merged: CIMultiDict[str] = CIMultiDict()
    for key, value in raw.items():
        name = key.lower()
        if name in merged:
            merged[name] = f"{merged[name]}, {value}"
        else:
            merged[name] = value
    return CIMultiDictProxy(merged)


async def _read_bounded(response: aiohttp.ClientResponse, limit: int, what: str) -> bytes:
    """The answer's body as the hub will hold it (decompressed), never more than ``limit``.

    Counted as it arrives, after decompression: Content-Length is only a shortcut (it is the
    compressed size under Content-Encoding, and absent on a chunked or endless body). aiohttp
    inflates a compressed body in bounded steps as it is read (http_parser.DeflateBuffer), so
    a small gzip answer that inflates to gigabytes is stopped at the limit like any other.
    """
    declared = response.content_length
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if declared is not None and declared > limit and encoding in _UNENCODED:
        raise AnswerTooLarge(f"{what} announced {declared} bytes, over the hub's limit of {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(f"{what} answered more than the hub's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class PeerClient:
    """Sends requests to peers with a hard deadline and a size limit per answer.

    Timeouts become 4002 and connection failures 4003 (``ForwardTimeout``/``ConnectionProblem``),
    so a slow or dead peer only ever costs its caller the deadline, never other peers. An answer
    over ``max_answer_bytes`` becomes 4003 (``AnswerTooLarge``) as soon as it passes the limit, so
    a peer can make the hub hold at most that much for one request. Every request carries the
    hub's ``via_element`` (loop detection, ocpi_adapter/via.py).
    """

    def __init__(
        self,
        *,
        timeout: float,
        max_answer_bytes: int,
        via_element: str,
        max_connections: int = 200,
    ) -> None:
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self.via_element = via_element
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use: an aiohttp session belongs to the running event loop.
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_connections),
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.timeout, sock_read=self.timeout
            ),
            auto_decompress=True,
            trust_env=False,
            # Only a request with a body says Content-Type (application/json, set below);
            # aiohttp would otherwise add application/octet-stream to a body-less POST.
            skip_auto_headers=("Content-Type",),
        )
        return self._session

    async def request(
        self,
        method: str,
        url: str,
        *,
        auth: PeerAuth,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        deadline: float | None = None,
        via: str | None = None,
    ) -> PeerResponse:
        """``via``: the Via of the request this one is sent for, kept in front of the hub's."""
        out = {"Authorization": auth.header(), **(headers or {})}
        # Last, so no caller can leave it out: it is what ends a forwarding loop.
        out["Via"] = via_header.appended(via, self.via_element)
        if body is not None:
            out["Content-Type"] = "application/json"
        deadline = self.timeout if deadline is None else deadline
        tx = self._session or self._open()
        try:
            async with asyncio.timeout(deadline):
                # encoded=True: the path and query go out byte for byte, never re-quoted.
                async with tx.request(
                    method, URL(url, encoded=True), headers=out, data=body, allow_redirects=False
                ) as response:
                    try:
                        content = await _read_bounded(
                            response, self.max_answer_bytes, f"{method} {url}"
                        )
                    except AnswerTooLarge:
                        # The rest of the body is still on the wire: this connection cannot
                        # carry another request, so it is closed, never returned to the pool.
                        response.close()
                        raise
        except TimeoutError:
            raise ForwardTimeout(f"{method} {url} did not answer within {deadline:g} s") from None
        except aiohttp.ClientError as error:
            raise ConnectionProblem(f"{method} {url} failed: {type(error).__name__}") from None
        return PeerResponse(status=response.status, headers=_joined(response.headers), body=content)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
