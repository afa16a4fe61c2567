"""The CPO's inbound interfaces: Sender lists, the tokens Receiver and the commands Receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from simulator import commands
from simulator.protocol import (
    CORRELATION_ID,
    INVALID_PARAMETERS,
    RECEIVER,
    SENDER,
    UNKNOWN_LOCATION,
    UNKNOWN_TOKEN,
    PartyRef,
)
from simulator.server import Interface, OcpiFailure, json_body, reply, require
from simulator.store import page

if TYPE_CHECKING:
    from simulator.cpo import SimCpo


def cpo_interfaces(cpo: SimCpo) -> list[Interface]:
    return [
        _locations(cpo),
        _list_only("tariffs", cpo.tariffs.values),
        _sessions(cpo),
        _list_only("cdrs", cpo.cdrs.values),
        _tokens(cpo),
        _commands(cpo),
    ]


def _list_only(module: str, objects: Callable[[], Iterable[dict[str, Any]]]) -> Interface:
    async def get_list(request: Request) -> Response:
        chunk, headers = page(objects(), request.url)
        return reply(request, chunk, headers=headers)

    return Interface(module, SENDER, [("", get_list, ["GET"])])


def _locations(cpo: SimCpo) -> Interface:
    async def get_list(request: Request) -> Response:
        chunk, headers = page(cpo.locations.values(), request.url)
        return reply(request, chunk, headers=headers)

    async def get_one(request: Request) -> Response:
        params = request.path_params
        location, evse = cpo.find_evse(params["location_id"], params.get("evse_uid"))
        if location is None:
            raise OcpiFailure("unknown location", status=UNKNOWN_LOCATION, http_status=404)
        if "evse_uid" not in params:
            return reply(request, location)
        if evse is None:
            raise OcpiFailure("unknown EVSE", status=UNKNOWN_LOCATION, http_status=404)
        if "connector_id" not in params:
            return reply(request, evse)
        connector = next((c for c in evse["connectors"] if c["id"] == params["connector_id"]), None)
        if connector is None:
            raise OcpiFailure("unknown connector", status=UNKNOWN_LOCATION, http_status=404)
        return reply(request, connector)

    return Interface(
        "locations",
        SENDER,
        [
            ("", get_list, ["GET"]),
            ("/{location_id}", get_one, ["GET"]),
            ("/{location_id}/{evse_uid}", get_one, ["GET"]),
            ("/{location_id}/{evse_uid}/{connector_id}", get_one, ["GET"]),
        ],
    )


def _sessions(cpo: SimCpo) -> Interface:
    async def get_list(request: Request) -> Response:
        chunk, headers = page(cpo.session_objects.values(), request.url)
        return reply(request, chunk, headers=headers)

    async def charging_preferences(request: Request) -> Response:
        body = await json_body(request)
        require(body, "profile_type")
        charge = cpo.charges.get(request.path_params["session_id"])
        if charge is None:
            raise OcpiFailure("unknown session", http_status=404)
        if charge.status != "ACTIVE":
            return reply(request, "NOT_POSSIBLE")
        return reply(request, "ACCEPTED")

    return Interface(
        "sessions",
        SENDER,
        [
            ("", get_list, ["GET"]),
            ("/{session_id}/charging_preferences", charging_preferences, ["PUT"]),
        ],
    )


def _tokens(cpo: SimCpo) -> Interface:
    def key(request: Request) -> tuple[str, str, str, str]:
        p = request.path_params
        return (p["cc"], p["pid"], p["uid"], request.query_params.get("type", "RFID"))

    async def get(request: Request) -> Response:
        token = cpo.tokens.get(key(request))
        if token is None:
            raise OcpiFailure("unknown token", status=UNKNOWN_TOKEN, http_status=404)
        return reply(request, token)

    async def put(request: Request) -> Response:
        body = await json_body(request)
        require(
            body,
            "country_code",
            "party_id",
            "uid",
            "type",
            "contract_id",
            "issuer",
            "valid",
            "whitelist",
            "last_updated",
        )
        cc, pid, uid, kind = key(request)
        if (
            PartyRef.of(cc, pid) != PartyRef.of(body["country_code"], body["party_id"])
            or uid != body["uid"]
            or kind != body["type"]
        ):
            raise OcpiFailure("URL and body name different tokens", status=INVALID_PARAMETERS)
        cpo.tokens.put((cc, pid, uid, kind), body)
        return reply(request)

    async def patch(request: Request) -> Response:
        body = await json_body(request)
        require(body, "last_updated")
        token = cpo.tokens.get(key(request))
        if token is None:
            raise OcpiFailure("unknown token", status=UNKNOWN_TOKEN, http_status=404)
        token.update(body)
        return reply(request)

    return Interface(
        "tokens",
        RECEIVER,
        [
            ("/{cc}/{pid}/{uid}", get, ["GET"]),
            ("/{cc}/{pid}/{uid}", put, ["PUT"]),
            ("/{cc}/{pid}/{uid}", patch, ["PATCH"]),
        ],
    )


def _commands(cpo: SimCpo) -> Interface:
    async def post(request: Request) -> Response:
        command = request.path_params["command"]
        if command not in commands.HANDLERS:
            raise OcpiFailure(f"unknown command {command}", http_status=404)
        body = await json_body(request)
        response = commands.handle(
            cpo,
            command,
            body,
            requester=PartyRef.from_headers(request.headers),
            correlation_id=request.headers.get(CORRELATION_ID),
        )
        return reply(request, response)

    return Interface("commands", RECEIVER, [("/{command}", post, ["POST"])])
