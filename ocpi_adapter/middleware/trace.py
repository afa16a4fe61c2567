"""Every response echoes the request's X-Request-ID and X-Correlation-ID (check 26)."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi_adapter.headers import CORRELATION_ID, REQUEST_ID, Trace


class TraceMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = Trace.parse(Headers(scope=scope))
        scope.setdefault("state", {})["trace"] = trace

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID] = trace.request_id
                headers[CORRELATION_ID] = trace.correlation_id
            await send(message)

        await self.app(scope, receive, send_with_ids)
