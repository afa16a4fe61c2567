"""A strict OCPI 2.2.1 platform of the project's own, for what extrawest cannot do.

It records every request exactly as it arrived (headers, raw body), answers with scripted
responses, and drives requests to the hub itself: registration as credentials Sender,
commands, token authorize, broadcast pushes.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from incar.timestamps import format_timestamp
from tests.support.hub import HubUnderTest
from tests.support.servers import serve

Handler = Callable[["Received"], Awaitable[Response] | Response]

DEFAULT_MODULES: dict[str, dict[str, list[str]]] = {
    "CPO": {
        "locations": ["SENDER"],
        "sessions": ["SENDER"],
        "cdrs": ["SENDER"],
        "tariffs": ["SENDER"],
        "tokens": ["RECEIVER"],
        "commands": ["RECEIVER"],
        "chargingprofiles": ["RECEIVER"],
        "hubclientinfo": ["RECEIVER"],
    },
    "EMSP": {
        "locations": ["RECEIVER"],
        "sessions": ["RECEIVER"],
        "cdrs": ["RECEIVER"],
        "tariffs": ["RECEIVER"],
        "tokens": ["SENDER"],
        "commands": ["SENDER"],
        "chargingprofiles": ["SENDER"],
        "hubclientinfo": ["RECEIVER"],
    },
}


def envelope(data: Any = None, status_code: int = 1000, message: str | None = None) -> bytes:
    body: dict[str, Any] = {"status_code": status_code, "timestamp": format_timestamp()}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return orjson.dumps(body)


def ocpi(
    data: Any = None,
    status_code: int = 1000,
    *,
    http_status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        envelope(data, status_code),
        status_code=http_status,
        headers=headers,
        media_type="application/json",
    )


@dataclass
class Received:
    method: str
    path: str  # relative to the peer's base URL
    query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class StrictPeer:
    role: str = "CPO"
    country_code: str = "NL"
    party_id: str = "AAA"
    extra_roles: list[tuple[str, str, str]] = field(default_factory=list)
    modules: dict[str, list[str]] | None = None
    legacy: bool = False
    url: str = ""
    token_b: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token_c: str | None = None
    hub_party: tuple[str, str] | None = None
    received: list[Received] = field(default_factory=list)
    handlers: list[tuple[str, str, Handler]] = field(default_factory=list)

    # --- the peer's own server -------------------------------------------------------------
    @property
    def versions_url(self) -> str:
        return f"{self.url}/versions"

    def endpoint(self, module: str, interface: str) -> str:
        return f"{self.url}/{module}/{interface.lower()}"

    def roles(self) -> list[dict[str, Any]]:
        roles = [(self.role, self.country_code, self.party_id), *self.extra_roles]
        return [
            {
                "role": role,
                "business_details": {"name": f"Strict {role} {cc}*{pid}"},
                "party_id": pid,
                "country_code": cc,
            }
            for role, cc, pid in roles
        ]

    def on(self, method: str, path_prefix: str, handler: Handler) -> None:
        """Scripts the answer to requests whose path starts with ``path_prefix``; latest wins."""
        self.handlers.insert(0, (method, path_prefix, handler))

    def requests(self, method: str | None = None, prefix: str = "") -> list[Received]:
        return [
            r
            for r in self.received
            if (method is None or r.method == method) and r.path.startswith(prefix)
        ]

    def _authorized(self, request: Request) -> bool:
        expected = (
            f"Token {self.token_b}"
            if self.legacy
            else "Token " + base64.b64encode(self.token_b.encode()).decode()
        )
        return request.headers.get("authorization") == expected

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        received = Received(
            method=request.method,
            path=path,
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=await request.body(),
        )
        self.received.append(received)
        if not self._authorized(request):
            return ocpi(status_code=2000, http_status=401)
        for method, prefix, handler in self.handlers:
            if method == request.method and path.startswith(prefix):
                answer = handler(received)
                return await answer if isinstance(answer, Awaitable) else answer
        return self._default(received)

    def _default(self, received: Received) -> Response:
        if received.path == "/versions":
            return ocpi([{"version": "2.2.1", "url": f"{self.url}/2.2.1"}])
        if received.path == "/2.2.1":
            return ocpi({"version": "2.2.1", "endpoints": self._endpoints()})
        if received.path.startswith("/credentials"):
            return ocpi({"token": self.token_b, "url": self.versions_url, "roles": self.roles()})
        if received.path.startswith("/commands/receiver/"):
            return ocpi({"result": "ACCEPTED", "timeout": 30})
        if received.path.startswith("/chargingprofiles/receiver/"):
            return ocpi({"result": "ACCEPTED", "timeout": 30})
        if received.method == "GET" and received.path.rstrip("/").endswith("/sender"):
            return ocpi([], headers={"X-Total-Count": "0", "X-Limit": "50"})
        return ocpi()

    def _endpoints(self) -> list[dict[str, str]]:
        modules = self.modules or DEFAULT_MODULES[self.role]
        endpoints = [
            {"identifier": "credentials", "role": "SENDER", "url": f"{self.url}/credentials"}
        ]
        for module, interfaces in modules.items():
            for interface in interfaces:
                endpoints.append(
                    {
                        "identifier": module,
                        "role": interface,
                        "url": self.endpoint(module, interface),
                    }
                )
        return endpoints

    def app(self, url: str) -> Starlette:
        self.url = url
        return Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    self._dispatch,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                )
            ]
        )

    # --- the peer as a client of the hub ---------------------------------------------------
    def auth(self, token: str | None = None) -> dict[str, str]:
        value = token or self.token_c
        assert value is not None, "register first"
        if self.legacy:
            return {"Authorization": f"Token {value}"}
        return {"Authorization": "Token " + base64.b64encode(value.encode()).decode()}

    def routing(self, to: tuple[str, str] | None) -> dict[str, str]:
        headers = {
            "OCPI-from-country-code": self.country_code,
            "OCPI-from-party-id": self.party_id,
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
        }
        if to is not None:
            headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = to
        return headers

    async def call(
        self,
        method: str,
        url: str,
        *,
        to: tuple[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        routing: bool = True,
    ) -> httpx.Response:
        sent = {**(self.routing(to) if routing else {}), **self.auth(), **(headers or {})}
        if json is not None:
            content = orjson.dumps(json)
        if content is not None:
            sent.setdefault("Content-Type", "application/json")
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.request(method, url, headers=sent, content=content)

    async def register(self, hub: HubUnderTest) -> dict[str, Any]:
        """The credentials handshake with the peer as Sender; returns the hub's credentials."""
        token_a = await hub.onboard(self.role, self.country_code, self.party_id, legacy=self.legacy)
        async with httpx.AsyncClient(timeout=30) as client:
            versions = await client.get(hub.versions_url, headers=self.auth(token_a))
            versions.raise_for_status()
            answer = await client.post(
                f"{hub.url}/ocpi/2.2.1/credentials",
                headers=self.auth(token_a),
                json={"token": self.token_b, "url": self.versions_url, "roles": self.roles()},
            )
        body = answer.json()
        assert body["status_code"] == 1000, body
        self.token_c = body["data"]["token"]
        hub_role = body["data"]["roles"][0]
        self.hub_party = (hub_role["country_code"], hub_role["party_id"])
        return dict(body["data"])


@contextlib.asynccontextmanager
async def running_peer(**options: Any) -> AsyncIterator[StrictPeer]:
    peer = StrictPeer(**options)
    async with serve(peer.app):
        yield peer
