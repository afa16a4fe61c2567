"""The eMSP's inbound interfaces: Receivers for CPO data, the tokens Sender, command results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from simulator.protocol import INVALID_PARAMETERS, RECEIVER, SENDER, UNKNOWN_TOKEN, PartyRef
from simulator.server import DETAILS_PATH, Interface, OcpiFailure, json_body, reply, require
from simulator.store import ObjectStore, page

if TYPE_CHECKING:
    from simulator.emsp import SimEmsp

LOCATION_FIELDS = (
    "country_code",
    "party_id",
    "id",
    "publish",
    "address",
    "city",
    "country",
    "coordinates",
    "time_zone",
    "last_updated",
)
EVSE_FIELDS = ("uid", "status", "connectors", "last_updated")
CONNECTOR_FIELDS = (
    "id",
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "last_updated",
)
TARIFF_FIELDS = ("country_code", "party_id", "id", "currency", "elements", "last_updated")
SESSION_FIELDS = (
    "country_code",
    "party_id",
    "id",
    "start_date_time",
    "kwh",
    "cdr_token",
    "auth_method",
    "location_id",
    "evse_uid",
    "connector_id",
    "currency",
    "status",
    "last_updated",
)
CDR_FIELDS = (
    "country_code",
    "party_id",
    "id",
    "start_date_time",
    "end_date_time",
    "cdr_token",
    "auth_method",
    "cdr_location",
    "currency",
    "charging_periods",
    "total_cost",
    "total_energy",
    "total_time",
    "last_updated",
)


def emsp_interfaces(emsp: SimEmsp) -> list[Interface]:
    return [
        _locations(emsp.locations),
        _owned("tariffs", emsp.tariffs, TARIFF_FIELDS, patch=False, delete=True),
        _sessions(emsp),
        _cdrs(emsp.cdrs),
        _tokens(emsp),
        _command_results(emsp),
    ]


def _owner_key(request: Request) -> tuple[str, str, str]:
    p = request.path_params
    return (p["cc"], p["pid"], p["id"])


def _check_owner(request: Request, body: dict[str, Any]) -> None:
    cc, pid, object_id = _owner_key(request)
    if PartyRef.of(cc, pid) != PartyRef.of(str(body["country_code"]), str(body["party_id"])):
        raise OcpiFailure("URL and body name different owners", status=INVALID_PARAMETERS)
    if object_id != str(body["id"]):
        raise OcpiFailure("URL and body name different ids", status=INVALID_PARAMETERS)


def _found(store: ObjectStore, request: Request) -> dict[str, Any]:
    obj = store.get(_owner_key(request))
    if obj is None:
        raise OcpiFailure("unknown object", http_status=404)
    return obj


def _owned(
    module: str, store: ObjectStore, fields: tuple[str, ...], *, patch: bool, delete: bool
) -> Interface:
    """A Receiver of client-owned objects at /{cc}/{pid}/{id}: GET, PUT and optionally more."""

    async def get(request: Request) -> Response:
        return reply(request, _found(store, request))

    async def put(request: Request) -> Response:
        body = await json_body(request)
        require(body, *fields)
        _check_owner(request, body)
        store.put(_owner_key(request), body)
        return reply(request)

    async def update(request: Request) -> Response:
        body = await json_body(request)
        require(body, "last_updated")
        _found(store, request).update(body)
        return reply(request)

    async def remove(request: Request) -> Response:
        _found(store, request)
        store.delete(_owner_key(request))
        return reply(request)

    path = "/{cc}/{pid}/{id}"
    routes = [(path, get, ["GET"]), (path, put, ["PUT"])]
    if patch:
        routes.append((path, update, ["PATCH"]))
    if delete:
        routes.append((path, remove, ["DELETE"]))
    return Interface(module, RECEIVER, routes)


def _locations(store: ObjectStore) -> Interface:
    """Location Receiver at Location, EVSE and Connector depth (PUT, PATCH, GET)."""

    def target(request: Request, *, create: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        location = _found(store, request)
        p = request.path_params
        chain = [location]
        if "evse_uid" in p:
            evse = next((e for e in location.get("evses", []) if e["uid"] == p["evse_uid"]), None)
            if evse is None and not (create and "connector_id" not in p):
                raise OcpiFailure("unknown EVSE", http_status=404)
            if evse is not None:
                chain.append(evse)
            if "connector_id" in p and evse is not None:
                connectors = evse.get("connectors", [])
                connector = next((c for c in connectors if c["id"] == p["connector_id"]), None)
                if connector is None and not create:
                    raise OcpiFailure("unknown connector", http_status=404)
                if connector is not None:
                    chain.append(connector)
        return location, chain

    async def get(request: Request) -> Response:
        _, chain = target(request, create=False)
        return reply(request, chain[-1])

    async def put(request: Request) -> Response:
        body = await json_body(request)
        p = request.path_params
        if "evse_uid" not in p:
            require(body, *LOCATION_FIELDS)
            _check_owner(request, body)
            store.put(_owner_key(request), body)
            return reply(request)
        location, chain = target(request, create=True)
        if "connector_id" in p:
            require(body, *CONNECTOR_FIELDS)
            evse = chain[1]
            evse["connectors"] = [c for c in evse["connectors"] if c["id"] != body["id"]] + [body]
        else:
            require(body, *EVSE_FIELDS)
            evses = [e for e in location.get("evses", []) if e["uid"] != body["uid"]]
            location["evses"] = [*evses, body]
        location["last_updated"] = body["last_updated"]
        return reply(request)

    async def patch(request: Request) -> Response:
        body = await json_body(request)
        require(body, "last_updated")
        location, chain = target(request, create=False)
        chain[-1].update(body)
        location["last_updated"] = body["last_updated"]
        return reply(request)

    routes = []
    for path in (
        "/{cc}/{pid}/{id}",
        "/{cc}/{pid}/{id}/{evse_uid}",
        "/{cc}/{pid}/{id}/{evse_uid}/{connector_id}",
    ):
        routes += [(path, get, ["GET"]), (path, put, ["PUT"]), (path, patch, ["PATCH"])]
    return Interface("locations", RECEIVER, routes)


def _sessions(emsp: SimEmsp) -> Interface:
    store = emsp.sessions

    async def get(request: Request) -> Response:
        return reply(request, _found(store, request))

    async def put(request: Request) -> Response:
        body = await json_body(request)
        require(body, *SESSION_FIELDS)
        _check_owner(request, body)
        is_new = store.get(_owner_key(request)) is None
        store.put(_owner_key(request), body)
        if is_new:
            emsp.on_new_session(body)
        return reply(request)

    async def patch(request: Request) -> Response:
        body = await json_body(request)
        require(body, "last_updated")
        session = _found(store, request)
        # charging_periods in a PATCH are added to the list (mod_sessions, PATCH method)
        periods = body.pop("charging_periods", None) or []
        session.update(body)
        session["charging_periods"] = [*session.get("charging_periods", []), *periods]
        return reply(request)

    path = "/{cc}/{pid}/{id}"
    return Interface(
        "sessions",
        RECEIVER,
        [(path, get, ["GET"]), (path, put, ["PUT"]), (path, patch, ["PATCH"])],
    )


def _cdrs(store: ObjectStore) -> Interface:
    async def post(request: Request) -> Response:
        body = await json_body(request)
        require(body, *CDR_FIELDS)
        key = (str(body["country_code"]), str(body["party_id"]), str(body["id"]))
        if store.get(key) is None:
            store.put(key, body)
        base = str(request.base_url).rstrip("/")
        location = f"{base}{DETAILS_PATH}/cdrs/{key[0]}/{key[1]}/{key[2]}"
        return reply(request, headers={"Location": location})

    async def get(request: Request) -> Response:
        return reply(request, _found(store, request))

    return Interface("cdrs", RECEIVER, [("", post, ["POST"]), ("/{cc}/{pid}/{id}", get, ["GET"])])


def _tokens(emsp: SimEmsp) -> Interface:
    async def get_list(request: Request) -> Response:
        chunk, headers = page(emsp.tokens.values(), request.url)
        return reply(request, chunk, headers=headers)

    async def authorize(request: Request) -> Response:
        raw = await request.body()
        where = await json_body(request) if raw.strip() else None
        if where is not None:
            require(where, "location_id")
        kind = request.query_params.get("type", "RFID")
        info = emsp.authorize(request.path_params["uid"], kind, where)
        if info is None:
            raise OcpiFailure("unknown token", status=UNKNOWN_TOKEN, http_status=404)
        return reply(request, info)

    return Interface(
        "tokens",
        SENDER,
        [("", get_list, ["GET"]), ("/{uid}/authorize", authorize, ["POST"])],
    )


def _command_results(emsp: SimEmsp) -> Interface:
    async def post(request: Request) -> Response:
        body = await json_body(request)
        require(body, "result")
        command_id = request.path_params["command_id"]
        if command_id not in emsp.pending_commands:
            raise OcpiFailure("unknown command", http_status=404)
        emsp.command_results[command_id] = body
        emsp.stats[f"command_result_{str(body['result']).lower()}"] += 1
        return reply(request)

    return Interface("commands", SENDER, [("/{command}/{command_id}", post, ["POST"])])
