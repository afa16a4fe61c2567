"""Commands at the CPO (mod_commands): answer at once, act and report the result shortly after.

The CommandResponse says whether the CPO took the command; the CommandResult, POSTed to the
request's ``response_url``, says what the "Charge Point" did with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from simulator.protocol import INVALID_PARAMETERS, PartyRef, parse_timestamp
from simulator.server import OcpiFailure, require

if TYPE_CHECKING:
    from simulator.cpo import SimCpo

log = logging.getLogger(__name__)

TIMEOUT_S = 30
Action = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Decision:
    response: str
    result: str | None = None
    message: str | None = None
    then: Action | None = None


def handle(
    cpo: SimCpo,
    command: str,
    body: dict[str, Any],
    *,
    requester: PartyRef | None,
    correlation_id: str | None,
) -> dict[str, Any]:
    handler, fields = HANDLERS[command]
    require(body, "response_url", *fields)
    decision = handler(cpo, body, requester)
    cpo.stats[f"command_{command.lower()}_{decision.response.lower()}"] += 1
    if decision.response == "ACCEPTED" and decision.result is not None:
        cpo.spawn(_deliver(cpo, body["response_url"], decision, requester, correlation_id))
    answer: dict[str, Any] = {"result": decision.response, "timeout": TIMEOUT_S}
    if decision.message:
        answer["message"] = [{"language": "en", "text": decision.message}]
    return answer


async def _deliver(
    cpo: SimCpo,
    response_url: str,
    decision: Decision,
    requester: PartyRef | None,
    correlation_id: str | None,
) -> None:
    await asyncio.sleep(cpo.command_rng.uniform(0.05, 0.5))
    if cpo.hub is None:
        log.warning("%s cannot send a CommandResult before registering", cpo.me)
        return
    result: dict[str, Any] = {"result": decision.result}
    if decision.message:
        result["message"] = [{"language": "en", "text": decision.message}]
    try:
        reply = await cpo.hub.send_url(
            "POST", response_url, to=requester, body=result, correlation_id=correlation_id
        )
    except RuntimeError as problem:
        # The simulation is stopping and its HTTP client is closed while a result was still
        # due (httpx refuses a closed client's requests): a failed delivery, not a crash.
        log.info("%s could not deliver a CommandResult: %s", cpo.me, problem)
        cpo.stats["command_results_failed"] += 1
        return
    cpo.stats["command_results_sent" if reply.ok else "command_results_failed"] += 1
    if decision.then is not None:
        await decision.then()


def _start_session(cpo: SimCpo, body: dict[str, Any], _requester: PartyRef | None) -> Decision:
    token = body["token"]
    if not isinstance(token, dict) or not token.get("uid") or not token.get("party_id"):
        raise OcpiFailure("token is not a Token object", status=INVALID_PARAMETERS)
    location, evse = cpo.find_evse(body["location_id"], body.get("evse_uid"))
    if location is None or (body.get("evse_uid") and evse is None):
        return Decision("REJECTED", message="unknown location or EVSE")
    if token.get("valid") is False:
        return Decision("REJECTED", message="token is not valid")
    if evse is None:
        evse = next((e for e in location["evses"] if cpo.is_free(e)), None)
        if evse is None:
            return Decision("ACCEPTED", "EVSE_OCCUPIED", "no EVSE free at this location")
    reservation = cpo.reservation_for(evse["uid"], token)
    if not cpo.is_free(evse) and reservation is None:
        return _busy(evse)
    cpo.claim(evse["uid"])
    chosen = evse

    async def start() -> None:
        cpo.release(chosen["uid"])
        if reservation is not None:
            cpo.reservations.pop(reservation.id, None)
        await cpo.start_charge(
            location,
            chosen,
            token,
            "COMMAND",
            body.get("authorization_reference"),
            stay=cpo.distributions.connection_time(cpo.command_rng),
            energy_kwh=cpo.distributions.energy_demand(cpo.command_rng),
        )

    return Decision("ACCEPTED", "ACCEPTED", then=start)


def _busy(evse: dict[str, Any]) -> Decision:
    if evse["status"] in ("OUTOFORDER", "INOPERATIVE", "BLOCKED", "REMOVED", "PLANNED"):
        return Decision("ACCEPTED", "EVSE_INOPERATIVE", f"EVSE is {evse['status']}")
    return Decision("ACCEPTED", "EVSE_OCCUPIED", f"EVSE is {evse['status']}")


def _stop_session(cpo: SimCpo, body: dict[str, Any], requester: PartyRef | None) -> Decision:
    charge = cpo.charges.get(body["session_id"])
    if charge is None or charge.status != "ACTIVE":
        return Decision("UNKNOWN_SESSION", message="no active session with this id")
    if requester is not None and requester != charge.emsp:
        return Decision("REJECTED", message="session belongs to another eMSP")

    async def stop() -> None:
        cpo.request_stop(charge.id)

    return Decision("ACCEPTED", "ACCEPTED", then=stop)


def _reserve_now(cpo: SimCpo, body: dict[str, Any], requester: PartyRef | None) -> Decision:
    try:
        expiry = parse_timestamp(str(body["expiry_date"]))
    except ValueError:
        raise OcpiFailure("expiry_date is not a DateTime", status=INVALID_PARAMETERS) from None
    location, evse = cpo.find_evse(body["location_id"], body.get("evse_uid"))
    if location is None or (body.get("evse_uid") and evse is None):
        return Decision("REJECTED", message="unknown location or EVSE")
    if expiry <= cpo.clock.now():
        return Decision("REJECTED", message="expiry_date is in the past")
    existing = cpo.reservations.get(str(body["reservation_id"]))
    if evse is None:
        evse = next((e for e in location["evses"] if cpo.is_free(e)), None)
        if evse is None:
            return Decision("ACCEPTED", "EVSE_OCCUPIED", "no EVSE free at this location")
    same_place = existing is not None and existing.evse_uid == evse["uid"]
    if not cpo.is_free(evse) and not same_place:
        return _busy(evse)
    cpo.claim(evse["uid"])
    chosen = evse

    async def reserve() -> None:
        cpo.release(chosen["uid"])
        await cpo.reserve(
            str(body["reservation_id"]),
            location=location,
            evse=chosen,
            token=body["token"],
            expiry=expiry,
            emsp=requester,
        )

    return Decision("ACCEPTED", "ACCEPTED", then=reserve)


def _cancel_reservation(cpo: SimCpo, body: dict[str, Any], _requester: PartyRef | None) -> Decision:
    reservation_id = str(body["reservation_id"])
    if reservation_id not in cpo.reservations:
        return Decision("ACCEPTED", "UNKNOWN_RESERVATION", "no such reservation")

    async def cancel() -> None:
        await cpo.cancel_reservation(reservation_id)

    return Decision("ACCEPTED", "ACCEPTED", then=cancel)


def _unlock_connector(cpo: SimCpo, body: dict[str, Any], _requester: PartyRef | None) -> Decision:
    _location, evse = cpo.find_evse(body["location_id"], body["evse_uid"])
    if evse is None or not any(c["id"] == body["connector_id"] for c in evse["connectors"]):
        return Decision("REJECTED", message="unknown location, EVSE or connector")
    return Decision("ACCEPTED", "ACCEPTED")


Handler = Callable[["SimCpo", dict[str, Any], PartyRef | None], Decision]

HANDLERS: dict[str, tuple[Handler, tuple[str, ...]]] = {
    "START_SESSION": (_start_session, ("token", "location_id")),
    "STOP_SESSION": (_stop_session, ("session_id",)),
    "RESERVE_NOW": (
        _reserve_now,
        ("token", "expiry_date", "reservation_id", "location_id"),
    ),
    "CANCEL_RESERVATION": (_cancel_reservation, ("reservation_id",)),
    "UNLOCK_CONNECTOR": (_unlock_connector, ("location_id", "evse_uid", "connector_id")),
}
