"""The inbound OCPI 2.2.1 server of one simulated party.

Every party gets its own uvicorn server on its own loopback port. The servers share the
simulation's process and event loop: one seeded process is deterministic in its draws, cheap to
start and stop, and the traffic between parties and hub is still real HTTP over sockets.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from simulator.clock import SimClock
from simulator.protocol import (
    CLIENT_ERROR,
    CORRELATION_ID,
    INVALID_PARAMETERS,
    RECEIVER,
    REQUEST_ID,
    VERSION,
    PartyRef,
    envelope,
    new_id,
    routing_headers,
    token_of,
)
from simulator.store import BadQuery, ObjectStore

Endpoint = Callable[[Request], Awaitable[Response]]
VERSIONS_PATH = "/ocpi/versions"
DETAILS_PATH = f"/ocpi/{VERSION}"


class OcpiFailure(Exception):
    """An expected failure answered with an OCPI envelope."""

    def __init__(self, message: str, *, status: int = CLIENT_ERROR, http_status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.http_status = http_status


@dataclass(frozen=True, slots=True)
class Interface:
    """One module interface a party offers: its routes, relative to the module's URL."""

    module: str
    role: str
    routes: Sequence[tuple[str, Endpoint, list[str]]]


@dataclass
class PartyIdentity:
    me: PartyRef
    role: str
    name: str
    clock: SimClock
    accepted_tokens: set[str] = field(default_factory=set)
    client_info: ObjectStore = field(default_factory=ObjectStore)

    def connected(self, role: str) -> list[PartyRef]:
        """Parties of ``role`` the hub reported CONNECTED through hubclientinfo."""
        return [
            PartyRef.of(info["country_code"], info["party_id"])
            for info in self.client_info.values()
            if info.get("role") == role and info.get("status") == "CONNECTED"
        ]

    def usable(self, party: PartyRef) -> bool:
        """Known CONNECTED, or not reported at all (the hub may not push ClientInfo)."""
        statuses = [
            info.get("status")
            for info in self.client_info.values()
            if PartyRef.of(info["country_code"], info["party_id"]) == party
        ]
        return not statuses or "CONNECTED" in statuses


def reply(
    request: Request,
    data: Any = None,
    *,
    status: int = 1000,
    message: str | None = None,
    http_status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    now = request.app.state.identity.clock.now()
    body = envelope(data, status=status, message=message, now=now)
    return JSONResponse(body, status_code=http_status, headers=headers)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise OcpiFailure("body is not JSON", status=INVALID_PARAMETERS, http_status=400) from None
    if not isinstance(body, dict):
        raise OcpiFailure("body must be a JSON object", status=INVALID_PARAMETERS)
    return body


def require(body: dict[str, Any], *fields: str) -> None:
    missing = [name for name in fields if body.get(name) in (None, "")]
    if missing:
        raise OcpiFailure(f"missing field(s): {', '.join(missing)}", status=INVALID_PARAMETERS)


class _OcpiHeaders:
    """Pure ASGI: token check on every OCPI path, trace and routing headers on every answer."""

    def __init__(self, app: ASGIApp, identity: PartyIdentity) -> None:
        self.app = app
        self.identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        trace = {
            REQUEST_ID: request.headers.get(REQUEST_ID) or new_id(),
            CORRELATION_ID: request.headers.get(CORRELATION_ID) or new_id(),
        }
        extra = dict(trace)
        if request.url.path.startswith(f"{DETAILS_PATH}/") and not _is_configuration(request):
            extra.update(routing_headers(self.identity.me, PartyRef.from_headers(request.headers)))
        token = token_of(request.headers.get("authorization"))
        if token is None or token not in self.identity.accepted_tokens:
            body = envelope(
                status=CLIENT_ERROR, message="unknown token", now=self.identity.clock.now()
            )
            response = JSONResponse(body, status_code=401, headers=extra)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(k.encode(), v.encode()) for k, v in extra.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_configuration(request: Request) -> bool:
    rest = request.url.path.removeprefix(f"{DETAILS_PATH}/")
    return rest.startswith(("credentials", "hubclientinfo"))


def build_app(identity: PartyIdentity, interfaces: list[Interface], base_url: str) -> ASGIApp:
    """The party's OCPI app; its version details are derived from ``interfaces``."""
    everything = [_client_info_interface(), _credentials_interface(base_url), *interfaces]

    async def versions(request: Request) -> Response:
        return reply(request, [{"version": VERSION, "url": base_url + DETAILS_PATH}])

    async def details(request: Request) -> Response:
        endpoints = [
            {
                "identifier": item.module,
                "role": item.role,
                "url": f"{base_url}{DETAILS_PATH}/{item.module}",
            }
            for item in everything
        ]
        return reply(request, {"version": VERSION, "endpoints": endpoints})

    routes = [Route(VERSIONS_PATH, versions), Route(DETAILS_PATH, details)]
    for item in everything:
        prefix = f"{DETAILS_PATH}/{item.module}"
        for path, endpoint, methods in item.routes:
            routes.append(Route(prefix + path, endpoint, methods=methods))
            if path == "":
                routes.append(Route(prefix + "/", endpoint, methods=methods))

    async def on_failure(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OcpiFailure)
        return reply(request, status=exc.status, message=exc.message, http_status=exc.http_status)

    async def on_bad_query(request: Request, exc: Exception) -> Response:
        return reply(request, status=INVALID_PARAMETERS, message=str(exc))

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return reply(request, status=CLIENT_ERROR, message=exc.detail, http_status=exc.status_code)

    app = Starlette(
        routes=routes,
        exception_handlers={
            OcpiFailure: on_failure,
            BadQuery: on_bad_query,
            HTTPException: on_http,
        },
    )
    app.state.identity = identity
    return _OcpiHeaders(app, identity)


def _client_info_interface() -> Interface:
    async def put(request: Request) -> Response:
        identity: PartyIdentity = request.app.state.identity
        body = await json_body(request)
        require(body, "party_id", "country_code", "role", "status", "last_updated")
        cc, pid = request.path_params["cc"], request.path_params["pid"]
        if PartyRef.of(cc, pid) != PartyRef.of(body["country_code"], body["party_id"]):
            raise OcpiFailure("URL and body name different parties", status=INVALID_PARAMETERS)
        identity.client_info.put((cc, pid, body["role"]), body)
        return reply(request)

    async def get(request: Request) -> Response:
        identity: PartyIdentity = request.app.state.identity
        cc, pid = request.path_params["cc"], request.path_params["pid"]
        found = [
            info
            for info in identity.client_info.values()
            if PartyRef.of(info["country_code"], info["party_id"]) == PartyRef.of(cc, pid)
        ]
        if not found:
            raise OcpiFailure("unknown party", http_status=404)
        return reply(request, found[0])

    return Interface(
        "hubclientinfo", RECEIVER, [("/{cc}/{pid}", put, ["PUT"]), ("/{cc}/{pid}", get, ["GET"])]
    )


def _credentials_interface(base_url: str) -> Interface:
    async def get(request: Request) -> Response:
        identity: PartyIdentity = request.app.state.identity
        token = token_of(request.headers.get("authorization"))
        return reply(
            request,
            {
                "token": token,
                "url": base_url + VERSIONS_PATH,
                "roles": [credentials_role(identity)],
            },
        )

    return Interface("credentials", RECEIVER, [("", get, ["GET"])])


def credentials_role(identity: PartyIdentity) -> dict[str, Any]:
    return {
        "role": identity.role,
        "business_details": {"name": identity.name},
        "party_id": identity.me.party_id,
        "country_code": identity.me.country_code,
    }


class HttpServer:
    """A uvicorn server on a socket it binds itself, so the port is known once started."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        self._bound: int | None = None
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        if self._bound is None:
            raise RuntimeError("the server is not started")
        return self._bound

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def bind(self) -> None:
        """Binds the listening socket (once); the app can then be built with the URL."""
        if self._socket is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._port))
            self._socket = sock
            self._bound = int(sock.getsockname()[1])

    async def start(self, app: ASGIApp) -> None:
        self.bind()
        assert self._socket is not None
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._socket]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        if self._socket is not None:
            self._socket.close()
