"""Every response echoes the request's X-Request-ID and X-Correlation-ID (check 26).

The ids are read from the raw header bytes and echoed as raw bytes (UTF-8), so an id such as
"Zürich-€-1" comes back, and goes on to the next hop, exactly as it arrived. A request with an
id the hub could not pass on exactly is refused here (2001), before anything else is done.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.headers import CORRELATION_ID, REQUEST_ID, Trace

_ECHOED = frozenset({REQUEST_ID.lower().encode(), CORRELATION_ID.lower().encode()})


class TraceMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("headers", [])
        refusal: InvalidParameters | None = None
        try:
            trace = Trace.parse(raw)
        except InvalidParameters as error:
            refusal, trace = error, Trace.salvage(raw)
        scope.setdefault("state", {})["trace"] = trace

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Whatever ids an inner layer set give way to the request's own, as raw bytes
                # (Starlette's header strings would go out as latin-1).
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _ECHOED]
                message["headers"] = [*kept, *trace.raw_headers()]
            await send(message)

        if refusal is not None:
            # As a header error of the routing pipeline (Routing.parse): HTTP 200, 2001, no
            # OCPI-to headers (the requester is not known yet), nothing forwarded.
            response = OcpiResponse(status=refusal.status, message=refusal.message)
            await response(scope, receive, send_with_ids)
            return
        await self.app(scope, receive, send_with_ids)
