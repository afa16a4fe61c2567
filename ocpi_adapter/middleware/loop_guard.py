"""Refuses any request that already passed this hub: a forwarding loop (docs/policies.md).

Every request the hub sends carries its Via element (ocpi_adapter/via.py). One that comes back,
whichever URL a peer registered (the hub's own under another name, a proxy in front of it), is
answered here at once, before authentication or routing, on every path: the loop ends after
one extra hop and costs one small answer.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from ocpi_adapter import via
from ocpi_adapter.envelope import OcpiResponse, OcpiStatus

log = logging.getLogger("incar.hub.loop_guard")


class LoopGuardMiddleware:
    def __init__(self, app: ASGIApp, *, pseudonym: str) -> None:
        self.app = app
        self.pseudonym = pseudonym

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = b", ".join(v for k, v in scope.get("headers", []) if k.lower() == b"via")
        # latin-1 reads any bytes; the hub's own element is ASCII.
        if raw and via.has_passed(raw.decode("latin-1"), self.pseudonym):
            log.warning(
                "refused a forwarding loop: %s %s had already passed this hub (Via: %s)",
                scope.get("method"),
                scope.get("path"),
                raw.decode("latin-1")[:200],
            )
            response = OcpiResponse(
                status=OcpiStatus.UNKNOWN_RECEIVER,
                message=(
                    f"forwarding loop: this request has already passed this hub ({self.pseudonym}"
                    " in Via); the receiver's URLs lead back to the hub"
                ),
            )
            await response(scope, receive, send)
            return
        # Passed on, with the hub's element appended, by every request sent for this one.
        scope.setdefault("state", {})["via"] = via.passable(raw) if raw else None
        await self.app(scope, receive, send)
