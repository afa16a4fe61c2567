"""Commands at a simulated CPO over real HTTP: CommandResponse at once, CommandResult after.

The "hub" here is a recording peer: the CPO's registration points its hub endpoints and the
response_urls at it, so what the CPO sends can be inspected on the wire.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ocpi_adapter.validation import ObjectKind, validate
from simulator.cpo import SimCpo
from simulator.ocpi_client import Endpoints, Registration
from simulator.protocol import PartyRef, authorization
from tests.simulator.conftest import ocpi_headers
from tests.simulator.peer import RecordingPeer

TOKEN_C = "token-c-issued-by-the-hub"
EMSP = {"OCPI-from-country-code": "FI", "OCPI-from-party-id": "EMA"}
TO_CPO = {"OCPI-to-country-code": "FI", "OCPI-to-party-id": "CPA"}
DRIVER = {
    "country_code": "FI",
    "party_id": "EMA",
    "uid": "0A1B2C3D4E5F60",
    "type": "APP_USER",
    "contract_id": "FI-EMA-C00000001",
    "issuer": "Simulated eMSP A",
    "valid": True,
    "whitelist": "NEVER",
    "last_updated": "2025-01-01T00:00:00Z",
}


@pytest.fixture
def registered(cpo: SimCpo, peer: RecordingPeer) -> SimCpo:
    hub = f"{peer.url}/hub"
    cpo.attach(
        Registration(
            token_c=TOKEN_C,
            endpoints=Endpoints(
                {
                    ("locations", "RECEIVER"): f"{hub}/locations",
                    ("sessions", "RECEIVER"): f"{hub}/sessions",
                    ("cdrs", "RECEIVER"): f"{hub}/cdrs",
                }
            ),
            hub_party=PartyRef.of("FI", "ICR"),
            hub_roles=[],
        )
    )
    return cpo


async def command(cpo: SimCpo, name: str, body: dict[str, Any], **headers: str) -> Any:
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{cpo.server.base_url}/ocpi/2.2.1/commands/{name}",
            json=body,
            headers=ocpi_headers(cpo.token_b, **EMSP, **TO_CPO, **headers),
        )
    return response


def first_place(cpo: SimCpo) -> tuple[dict[str, Any], dict[str, Any]]:
    location = next(iter(cpo.locations.values()))
    return location, location["evses"][0]


async def test_a_remote_start_and_stop_run_a_session_to_its_cdr(
    registered: SimCpo, peer: RecordingPeer
) -> None:
    location, evse = first_place(registered)
    start = {
        "response_url": f"{peer.url}/results/start-1",
        "token": DRIVER,
        "location_id": location["id"],
        "evse_uid": evse["uid"],
        "connector_id": "1",
    }
    validate(ObjectKind.START_SESSION, start)
    response = await command(registered, "START_SESSION", start, **{"X-Correlation-ID": "c-1"})
    assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
    validate(ObjectKind.COMMAND_RESPONSE, response.json()["data"])

    result = await peer.wait_for("POST", "/results/start-1")
    validate(ObjectKind.COMMAND_RESULT, result.body)
    assert result.body["result"] == "ACCEPTED"
    assert result.headers["authorization"] == authorization(TOKEN_C)
    assert (result.headers["ocpi-to-country-code"], result.headers["ocpi-to-party-id"]) == (
        "FI",
        "EMA",
    )
    assert result.headers["ocpi-from-party-id"] == "CPA"
    assert result.headers["x-correlation-id"] == "c-1"

    put = await peer.wait_for("PUT", "/hub/sessions/FI/CPA/")
    validate(ObjectKind.SESSION, put.body)
    assert (put.body["status"], put.body["auth_method"]) == ("ACTIVE", "COMMAND")
    assert put.body["cdr_token"]["uid"] == DRIVER["uid"]
    assert put.headers["ocpi-to-party-id"] == "EMA"  # sessions go to the token's eMSP
    charging = await peer.wait_for("PATCH", f"/hub/locations/FI/CPA/{location['id']}/")
    assert charging.body["status"] == "CHARGING"
    assert charging.headers["ocpi-to-party-id"] == "ICR"  # status changes are broadcast

    stop = {"response_url": f"{peer.url}/results/stop-1", "session_id": put.body["id"]}
    response = await command(registered, "STOP_SESSION", stop)
    assert response.json()["data"]["result"] == "ACCEPTED"
    assert (await peer.wait_for("POST", "/results/stop-1")).body["result"] == "ACCEPTED"

    charge = await registered.finished(put.body["id"])
    assert charge.status == "COMPLETED"
    cdr = await peer.wait_for("POST", "/hub/cdrs")
    validate(ObjectKind.CDR, cdr.body)
    assert cdr.body["session_id"] == put.body["id"]
    assert cdr.headers["ocpi-to-party-id"] == "EMA"
    assert registered.cdr_locations[cdr.body["id"]].endswith(f"/cdrs/{cdr.body['id']}")
    final = [r for r in peer.received if r.method == "PUT" and "/hub/sessions/" in r.path][-1]
    assert final.body["status"] == "COMPLETED"
    validate(ObjectKind.SESSION, final.body)
    assert evse["status"] == "AVAILABLE"


async def test_commands_on_unknown_things_are_answered_without_acting(registered: SimCpo) -> None:
    location, evse = first_place(registered)
    url = "http://127.0.0.1:9/never"
    unknown_place = await command(
        registered,
        "START_SESSION",
        {"response_url": url, "token": DRIVER, "location_id": "NOWHERE"},
    )
    unknown_session = await command(
        registered, "STOP_SESSION", {"response_url": url, "session_id": "no-such-session"}
    )
    bad_connector = await command(
        registered,
        "UNLOCK_CONNECTOR",
        {
            "response_url": url,
            "location_id": location["id"],
            "evse_uid": evse["uid"],
            "connector_id": "9",
        },
    )
    missing_field = await command(registered, "RESERVE_NOW", {"response_url": url})
    unknown_command = await command(registered, "SELF_DESTRUCT", {"response_url": url})
    assert unknown_place.json()["data"]["result"] == "REJECTED"
    assert unknown_session.json()["data"]["result"] == "UNKNOWN_SESSION"
    assert bad_connector.json()["data"]["result"] == "REJECTED"
    assert missing_field.json()["status_code"] == 2001
    assert unknown_command.status_code == 404
    assert evse["status"] == "AVAILABLE"


async def test_a_reservation_holds_the_evse_until_cancelled(
    registered: SimCpo, peer: RecordingPeer
) -> None:
    location, evse = first_place(registered)
    expiry = registered.clock.now().replace(microsecond=0).timestamp() + 3 * 3600
    reserve = {
        "response_url": f"{peer.url}/results/reserve-1",
        "token": DRIVER,
        "expiry_date": _stamp(expiry),
        "reservation_id": "R-1",
        "location_id": location["id"],
        "evse_uid": evse["uid"],
    }
    validate(ObjectKind.RESERVE_NOW, reserve)
    assert (await command(registered, "RESERVE_NOW", reserve)).json()["data"]["result"] == (
        "ACCEPTED"
    )
    assert (await peer.wait_for("POST", "/results/reserve-1")).body["result"] == "ACCEPTED"
    reserved = await peer.wait_for("PATCH", f"/{evse['uid']}")
    assert reserved.body["status"] == "RESERVED"

    cancel = {"response_url": f"{peer.url}/results/cancel-1", "reservation_id": "R-1"}
    assert (await command(registered, "CANCEL_RESERVATION", cancel)).json()["data"][
        "result"
    ] == "ACCEPTED"
    assert (await peer.wait_for("POST", "/results/cancel-1")).body["result"] == "ACCEPTED"
    unknown = {"response_url": f"{peer.url}/results/cancel-2", "reservation_id": "R-1"}
    await command(registered, "CANCEL_RESERVATION", unknown)
    assert (await peer.wait_for("POST", "/results/cancel-2")).body[
        "result"
    ] == "UNKNOWN_RESERVATION"
    await peer.wait_for("PATCH", f"/{evse['uid']}", lambda r: r.body["status"] == "AVAILABLE")
    assert evse["status"] == "AVAILABLE"
    patches = [r.body["status"] for r in peer.received if r.method == "PATCH"]
    assert patches == ["RESERVED", "AVAILABLE"]


async def test_a_start_on_a_broken_evse_reports_it_inoperative(
    registered: SimCpo, peer: RecordingPeer
) -> None:
    location, evse = first_place(registered)
    await registered.set_status(location, evse, "OUTOFORDER")
    start = {
        "response_url": f"{peer.url}/results/start-2",
        "token": DRIVER,
        "location_id": location["id"],
        "evse_uid": evse["uid"],
    }
    assert (await command(registered, "START_SESSION", start)).json()["data"]["result"] == (
        "ACCEPTED"
    )
    assert (await peer.wait_for("POST", "/results/start-2")).body["result"] == "EVSE_INOPERATIVE"
    assert registered.charges == {}


def _stamp(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
