"""A passive OCPI 2.2.1 CPO or eMSP built on extrawest-ocpi (``py_ocpi``), for the hub's tests.

Runs only inside the peer virtual environment (pydantic 1, FastAPI), started by ``launcher.py``
as ``python peer_app.py --role CPO --port N``. It must not import the project: the two
environments pin incompatible pydantic majors.

Besides the OCPI routes of ``py_ocpi`` it serves a side door under ``/_test/`` so that a test can
see what reached the peer (``/_test/requests``), what the peer itself sent (``/_test/outbound``),
and seed or read its in-memory objects (``/_test/store``).
"""

import argparse
import asyncio
import importlib
import itertools
import json
import os
import secrets
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SIDE_DOOR = "/_test"
ACCEPTED = {"result": "ACCEPTED", "timeout": 30}
# Keyed by section: what the peer answers when a test has not seeded anything else.
DEFAULTS: dict[str, dict[str, Any]] = {
    "command_responses": {"*": ACCEPTED},
    "command_outcomes": {"*": {"result": "ACCEPTED"}},
    "chargingprofile_responses": {"*": ACCEPTED},
    "chargingprofile_outcomes": {"*": {"result": "ACCEPTED"}},
}


@dataclass(frozen=True)
class PeerConfig:
    role: str
    host: str
    port: int
    country_code: str
    party_id: str
    token_a: str
    token_c: str
    client_token: str
    parent_pid: int = 0

    @property
    def public_host(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"http://{self.public_host}/ocpi/versions"


@dataclass
class PeerState:
    """Everything the peer remembers; one instance per process."""

    config: PeerConfig
    requests: list[dict[str, Any]] = field(default_factory=list)
    outbound: list[dict[str, Any]] = field(default_factory=list)
    store: dict[str, dict[str, Any]] = field(default_factory=dict)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def section(self, name: str) -> dict[str, Any]:
        return self.store.setdefault(name, dict(DEFAULTS.get(name, {})))

    def lookup(self, section: str, key: str) -> Any:
        items = self.section(section)
        return items.get(key, items.get("*"))

    def registrations(self) -> dict[str, Any]:
        return self.section("registrations")

    def valid_token_c(self) -> list[str]:
        return [self.config.token_c, *self.registrations()]


def object_key(obj: dict[str, Any], country_code: Any = None, party_id: Any = None) -> str:
    """``CC/PID/ID`` in upper case: the peer upper-cases every CiString it parses."""
    cc = country_code or obj.get("country_code") or ""
    pid = party_id or obj.get("party_id") or ""
    oid = obj.get("id") or obj.get("uid") or ""
    return f"{cc}/{pid}/{oid}".upper()


def find(items: dict[str, Any], oid: Any, country_code: Any, party_id: Any) -> str | None:
    if country_code and party_id:
        key = f"{country_code}/{party_id}/{oid}".upper()
        return key if key in items else None
    return next((k for k in items if k.split("/")[-1] == str(oid).upper()), None)


def py_ocpi(module: str) -> Any:
    """Import ``py_ocpi.<module>`` by name.

    Only after ``configure_py_ocpi``: py_ocpi reads its settings and builds its endpoint URLs at
    import time. By name also because the project's mypy runs where py_ocpi is not installed.
    """
    return importlib.import_module(f"py_ocpi.{module}")


def parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    else:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def to_json(data: Any) -> Any:
    return importlib.import_module("fastapi.encoders").jsonable_encoder(data)


def build_crud(state: PeerState) -> Any:
    """An in-memory implementation of ``py_ocpi.core.crud.Crud`` over ``state.store``."""
    enums = py_ocpi("core.enums")
    Action, ModuleID, RoleEnum = enums.Action, enums.ModuleID, enums.RoleEnum

    config = state.config

    def own_credentials(token: str) -> dict[str, Any]:
        return {
            "token": token,
            "url": config.versions_url,
            "roles": [
                {
                    "role": config.role,
                    "business_details": {"name": f"extrawest {config.role} peer"},
                    "country_code": config.country_code,
                    "party_id": config.party_id,
                }
            ],
        }

    def register(data: dict[str, Any], replaces: str | None) -> dict[str, Any]:
        registrations = state.registrations()
        if replaces is not None:
            registrations.pop(replaces, None)
        token = secrets.token_urlsafe(24)
        registrations[token] = to_json(data)
        return own_credentials(token)

    def is_charging_profile_poll(module: Any, oid: Any, kwargs: dict[str, Any]) -> bool:
        # py_ocpi polls ActiveChargingProfile/ClearProfile results through the hubclientinfo
        # module with id 0 and a session_id.
        return bool(module == ModuleID.hub_client_info and oid == 0 and "session_id" in kwargs)

    class MemoryCrud(py_ocpi("core.crud").Crud):  # type: ignore[misc]
        async def get(self, module: Any, role: Any, id: Any, *args: Any, **kwargs: Any) -> Any:
            if module == ModuleID.credentials_and_registration:
                return own_credentials(id) if id in state.valid_token_c() else None
            if module == ModuleID.commands:
                return state.lookup("command_outcomes", str(kwargs.get("command", "")))
            if is_charging_profile_poll(module, id, kwargs):
                return state.lookup("chargingprofile_outcomes", str(kwargs["session_id"]))
            cc, pid = kwargs.get("country_code"), kwargs.get("party_id")
            if module == ModuleID.hub_client_info:
                return state.section("clientinfo").get(f"{cc}/{pid}".upper())
            items = state.section(module.value)
            key = find(items, id, cc, pid)
            return items[key] if key else None

        async def list(
            self, module: Any, role: Any, filters: dict[str, Any], *args: Any, **kwargs: Any
        ) -> tuple[list[Any], int, bool]:
            items = list(state.section(module.value).values())
            if filters.get("date_from"):
                start = parse_time(filters["date_from"])
                items = [i for i in items if parse_time(i["last_updated"]) >= start]
            if filters.get("date_to"):
                end = parse_time(filters["date_to"])
                items = [i for i in items if parse_time(i["last_updated"]) < end]
            items.sort(key=lambda i: (parse_time(i["last_updated"]), object_key(i)))
            offset, limit = int(filters["offset"]), int(filters["limit"])
            page = items[offset : offset + limit]
            return page, len(items), offset + limit >= len(items)

        async def create(
            self, module: Any, role: Any, data: dict[str, Any], *args: Any, **kwargs: Any
        ) -> Any:
            if module == ModuleID.credentials_and_registration:
                return register(data, None)
            if module == ModuleID.charging_profile:
                results = state.section("chargingprofile_results")
                entry = {"data": data, "query": dict(kwargs.get("query_params") or {})}
                results[str(next(state.counter))] = to_json(entry)
                return data
            return self._put(module, data, None, kwargs)

        async def update(
            self, module: Any, role: Any, data: dict[str, Any], id: Any, *args: Any, **kwargs: Any
        ) -> Any:
            if module == ModuleID.credentials_and_registration:
                return register(data, kwargs.get("auth_token"))
            if module == ModuleID.commands:
                state.section("command_results")[str(id)] = to_json(data)
                return data
            if module == ModuleID.charging_profile:
                state.section("active_charging_profiles")[str(kwargs["session_id"])] = to_json(data)
                return data
            if module == ModuleID.sessions and role == RoleEnum.cpo:
                state.section("charging_preferences")[str(id).upper()] = to_json(data)
                return data
            return self._put(module, data, id, kwargs)

        async def delete(self, module: Any, role: Any, id: Any, *args: Any, **kwargs: Any) -> None:
            if module == ModuleID.credentials_and_registration:
                state.registrations().pop(id, None)
                return
            items = state.section(module.value)
            key = find(items, id, kwargs.get("country_code"), kwargs.get("party_id"))
            if key:
                del items[key]

        async def do(
            self,
            module: Any,
            role: Any,
            action: Any,
            *args: Any,
            data: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> Any:
            if action == Action.get_client_token:
                registration = state.registrations().get(str(kwargs.get("auth_token")))
                if registration:
                    return registration["credentials"]["token"]
                return state.lookup("config", "client_token") or config.client_token
            if action == Action.send_command:
                command = str(kwargs.get("command", ""))
                received = {"command": command, "data": to_json(args[0] if args else data)}
                state.section("commands")[str(next(state.counter))] = received
                return state.lookup("command_responses", command)
            if action == Action.authorize_token:
                return authorize(data or {})
            received = {"action": str(action.value), "kwargs": to_json(kwargs)}
            state.section("chargingprofile_requests")[str(next(state.counter))] = received
            return state.lookup("chargingprofile_responses", str(action.value))

        def _put(self, module: Any, data: dict[str, Any], id: Any, kwargs: dict[str, Any]) -> Any:
            cc, pid = kwargs.get("country_code"), kwargs.get("party_id")
            stored = to_json(data)
            if module == ModuleID.hub_client_info:
                state.section("clientinfo")[f"{cc}/{pid}".upper()] = stored
            else:
                state.section(module.value)[object_key(stored, cc, pid)] = stored
            return stored

    def authorize(request: dict[str, Any]) -> Any:
        uid = str(request.get("token_uid", "")).upper()
        override = state.section("authorizations").get(uid)
        if override is not None:
            return override
        tokens = state.section("tokens")
        key = find(tokens, uid, None, None)
        if key is None:
            return None
        token = tokens[key]
        return {"allowed": "ALLOWED" if token.get("valid") else "BLOCKED", "token": token}

    return MemoryCrud()


def build_authenticator(state: PeerState) -> Any:
    base = "core.authentication.authenticator"

    class MemoryAuthenticator(py_ocpi(base).Authenticator):  # type: ignore[misc]
        @classmethod
        async def get_valid_token_c(cls) -> list[str]:
            return state.valid_token_c()

        @classmethod
        async def get_valid_token_a(cls) -> list[str]:
            return [state.config.token_a]

    return MemoryAuthenticator


def advertise_cpo_commands() -> None:
    """py_ocpi's CPO version details omit the commands endpoint although it mounts the router."""
    enums = py_ocpi("core.enums")
    schemas = py_ocpi("modules.versions.v_2_2_1.schemas")
    endpoints = py_ocpi("core.endpoints").ENDPOINTS[schemas.VersionNumber.v_2_2_1]
    endpoints[enums.RoleEnum.cpo][enums.ModuleID.commands] = py_ocpi(
        "core.endpoints.v_2_2_1.utils"
    ).cpo_generator.generate_endpoint(enums.ModuleID.commands, schemas.InterfaceRole.receiver)


def build_ocpi_app(state: PeerState) -> ASGIApp:
    enums = py_ocpi("core.enums")
    role = enums.RoleEnum(state.config.role)
    if role == enums.RoleEnum.cpo:
        advertise_cpo_commands()
    app: ASGIApp = py_ocpi("main").get_application(
        version_numbers=[py_ocpi("modules.versions.enums").VersionNumber.v_2_2_1],
        roles=[role],
        crud=build_crud(state),
        modules=[m for m in enums.ModuleID if m != enums.ModuleID.client_info],
        authenticator=build_authenticator(state),
        adapter=py_ocpi("core.adapter").BaseAdapter,
    )
    return app


def decode_body(body: bytes) -> dict[str, Any]:
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return {"body": text, "json": parsed}


class RecordingMiddleware:
    """Records each OCPI request and the peer's answer; the side door passes unrecorded."""

    def __init__(self, app: ASGIApp, side_door: ASGIApp, state: PeerState) -> None:
        self.app = app
        self.side_door = side_door
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith(SIDE_DOOR):
            await self.side_door(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        entry: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode("latin-1"),
            "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            **decode_body(body),
        }
        self.state.requests.append(entry)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        answer: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["response_status"] = message["status"]
                entry["response_headers"] = {
                    k.decode("latin-1"): v.decode("latin-1") for k, v in message["headers"]
                }
            elif message["type"] == "http.response.body":
                answer.append(message.get("body", b""))
                if not message.get("more_body", False):
                    entry["response"] = decode_body(b"".join(answer))
            await send(message)

        await self.app(scope, replay, capture)


def record_outbound(state: PeerState) -> None:
    """Log every HTTP call py_ocpi makes (credentials handshake, command and profile results)."""

    class RecordingClient(httpx.AsyncClient):
        async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            entry: dict[str, Any] = {
                "method": request.method,
                "url": str(request.url),
                "headers": dict(request.headers),
                **decode_body(request.content),
            }
            state.outbound.append(entry)
            try:
                response: httpx.Response = await super().send(request, **kwargs)
            except httpx.HTTPError as exc:
                entry["error"] = repr(exc)
                raise
            await response.aread()
            entry["response_status"] = response.status_code
            entry["response"] = decode_body(response.content)
            return response

    httpx.AsyncClient = RecordingClient  # type: ignore[misc]


def build_side_door(state: PeerState) -> ASGIApp:
    async def info(_: Request) -> Response:
        config = state.config
        return JSONResponse(
            {
                "role": config.role,
                "country_code": config.country_code,
                "party_id": config.party_id,
                "versions_url": config.versions_url,
                "token_a": config.token_a,
                "token_c": config.token_c,
                "client_token": config.client_token,
            }
        )

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            state.requests.clear()
        return JSONResponse(state.requests)

    async def outbound(request: Request) -> Response:
        if request.method == "DELETE":
            state.outbound.clear()
        return JSONResponse(state.outbound)

    async def whole_store(_: Request) -> Response:
        return JSONResponse(state.store)

    async def section(request: Request) -> Response:
        name = request.path_params["section"]
        items = state.section(name)
        if request.method == "DELETE":
            items.clear()
        elif request.method == "PUT":
            payload = await request.json()
            for obj in payload if isinstance(payload, list) else [payload]:
                items[object_key(obj)] = obj
        return JSONResponse(items)

    async def item(request: Request) -> Response:
        items = state.section(request.path_params["section"])
        key = request.path_params["key"]
        if request.method == "PUT":
            items[key] = await request.json()
        elif request.method == "DELETE":
            items.pop(key, None)
        if key not in items:
            return JSONResponse(None, status_code=404)
        return JSONResponse(items[key])

    routes = [
        Route(f"{SIDE_DOOR}/info", info),
        Route(f"{SIDE_DOOR}/requests", requests, methods=["GET", "DELETE"]),
        Route(f"{SIDE_DOOR}/outbound", outbound, methods=["GET", "DELETE"]),
        Route(f"{SIDE_DOOR}/store", whole_store),
        Route(f"{SIDE_DOOR}/store/{{section}}", section, methods=["GET", "PUT", "DELETE"]),
        Route(
            f"{SIDE_DOOR}/store/{{section}}/{{key:path}}", item, methods=["GET", "PUT", "DELETE"]
        ),
    ]
    return Starlette(routes=routes)


def parse_config(argv: list[str] | None = None) -> PeerConfig:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", default=env("PEER_ROLE", "CPO"), choices=["CPO", "EMSP"])
    parser.add_argument("--host", default=env("PEER_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(env("PEER_PORT", "0")))
    parser.add_argument("--country-code", default=env("PEER_COUNTRY_CODE", "NL"))
    parser.add_argument("--party-id", default=env("PEER_PARTY_ID", "EXW"))
    parser.add_argument("--token-a", default=env("PEER_TOKEN_A", "extrawest-token-a"))
    parser.add_argument("--token-c", default=env("PEER_TOKEN_C", "extrawest-token-c"))
    parser.add_argument("--client-token", default=env("PEER_CLIENT_TOKEN", ""))
    parser.add_argument("--parent-pid", type=int, default=0, help="exit when this parent dies")
    args = parser.parse_args(argv)
    if not args.port:
        parser.error("--port (or PEER_PORT) is required")
    return PeerConfig(
        role=args.role,
        host=args.host,
        port=args.port,
        country_code=args.country_code.upper(),
        party_id=args.party_id.upper(),
        token_a=args.token_a,
        token_c=args.token_c,
        client_token=args.client_token or args.token_c,
        parent_pid=args.parent_pid,
    )


def configure_py_ocpi(config: PeerConfig) -> None:
    """py_ocpi reads its settings from the environment once, when first imported."""
    os.environ.update(
        PROTOCOL="http",
        OCPI_HOST=config.public_host,
        CI_STRING_LOWERCASE_PREFERENCE="false",
        COUNTRY_CODE=config.country_code,
        PARTY_ID=config.party_id,
        COMMAND_AWAIT_TIME="1",
        GET_ACTIVE_PROFILE_AWAIT_TIME="1",
        ENVIRONMENT=os.environ.get("ENVIRONMENT", "development"),
    )


def main(argv: list[str] | None = None) -> None:
    config = parse_config(argv)
    configure_py_ocpi(config)
    state = PeerState(config=config)
    record_outbound(state)
    app = RecordingMiddleware(build_ocpi_app(state), build_side_door(state), state)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="info",
            timeout_graceful_shutdown=2,
        )
    )
    asyncio.run(serve(server, config.parent_pid))


async def serve(server: uvicorn.Server, parent_pid: int) -> None:
    """Run until stopped, or until the test process that started the peer is gone."""

    async def watch_parent() -> None:
        while not server.should_exit:
            if os.getppid() != parent_pid:
                server.should_exit = True
            await asyncio.sleep(0.5)

    watcher = asyncio.create_task(watch_parent()) if parent_pid else None
    try:
        await server.serve()
    finally:
        if watcher is not None:
            watcher.cancel()


if __name__ == "__main__":
    main()
