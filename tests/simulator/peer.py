"""A real HTTP peer for simulator tests: it answers OCPI 1000 and records what it receives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from simulator.server import HttpServer


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class RecordingPeer:
    """Listens on loopback; every request is answered with an OCPI success envelope."""

    def __init__(self) -> None:
        self.server = HttpServer()
        self.received: list[Received] = []
        self._arrived = asyncio.Condition()

    @property
    def url(self) -> str:
        return self.server.base_url

    async def start(self) -> None:
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}", self._record, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]
                )
            ]
        )
        await self.server.start(app)

    async def stop(self) -> None:
        await self.server.stop()

    async def _record(self, request: Request) -> Response:
        raw = await request.body()
        item = Received(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=json.loads(raw) if raw else None,
        )
        async with self._arrived:
            self.received.append(item)
            self._arrived.notify_all()
        headers = {}
        if request.method == "POST" and request.url.path.rstrip("/").endswith("/cdrs"):
            headers["Location"] = f"{self.url}/cdrs/{item.body['id']}"
        body = {"status_code": 1000, "timestamp": "2025-01-01T00:00:00Z"}
        return JSONResponse(body, headers=headers)

    async def wait_for(
        self,
        method: str,
        path_part: str,
        where: Callable[[Received], bool] = lambda _: True,
    ) -> Received:
        """The first request with ``method``, ``path_part`` in its path, and ``where`` true."""

        def found() -> Received | None:
            return next(
                (
                    r
                    for r in self.received
                    if r.method == method and path_part in r.path and where(r)
                ),
                None,
            )

        async with self._arrived:
            # a guard against hanging, not a speed requirement
            async with asyncio.timeout(30):
                await self._arrived.wait_for(lambda: found() is not None)
        item = found()
        assert item is not None
        return item
