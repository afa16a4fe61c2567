"""A simulated eMSP's own OCPI server over real HTTP: Receivers, authorize, CDR Location."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ocpi_adapter.validation import ObjectKind, validate
from simulator.clock import SimClock
from simulator.emsp import SimEmsp
from simulator.platform import SimParty
from tests.simulator.conftest import ocpi_headers
from tests.support.shared import SPEC_EXAMPLES

FROM_HUB = {"OCPI-from-country-code": "FI", "OCPI-from-party-id": "ICR"}
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
async def emsp() -> AsyncIterator[SimEmsp]:
    party = SimParty("EMSP", "FI", "EMA", "Simulated eMSP A", "unused")
    simulated = SimEmsp(party, clock=SimClock(60.0, START), seed=4, tokens=20)
    await simulated.start_server()
    yield simulated
    await simulated.stop()


async def call(emsp: SimEmsp, method: str, path: str, body: Any = None) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.request(
            method,
            f"{emsp.server.base_url}/ocpi/2.2.1{path}",
            json=body,
            headers=ocpi_headers(emsp.token_b, **FROM_HUB),
        )


async def test_real_time_authorization_answers_allowed_blocked_or_unknown(emsp: SimEmsp) -> None:
    good = next(t for t in emsp.tokens.values() if t["valid"])
    blocked = next(t for t in emsp.tokens.values() if not t["valid"])
    where = {"location_id": "LOC-1", "evse_uids": ["LOC-1-1"]}
    allowed = await call(
        emsp, "POST", f"/tokens/{good['uid']}/authorize?type={good['type']}", where
    )
    refused = await call(emsp, "POST", f"/tokens/{blocked['uid']}/authorize?type=RFID")
    unknown = await call(emsp, "POST", "/tokens/NOSUCHTOKEN/authorize", where)
    validate(ObjectKind.AUTHORIZATION_INFO, allowed.json()["data"])
    assert allowed.json()["data"]["allowed"] == "ALLOWED"
    assert allowed.json()["data"]["location"] == where
    assert refused.status_code == 200
    assert refused.json()["data"]["allowed"] == "BLOCKED"
    assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2004)


async def test_a_cdr_post_is_stored_and_answered_with_its_location(emsp: SimEmsp) -> None:
    cdr = _example("cdr_example.json")
    cdr["last_updated"] = "2025-03-03T09:00:00Z"
    posted = await call(emsp, "POST", "/cdrs", cdr)
    assert posted.json()["status_code"] == 1000
    location = posted.headers["Location"]
    async with httpx.AsyncClient() as http:
        fetched = await http.get(location, headers=ocpi_headers(emsp.token_b))
    assert fetched.json()["data"] == cdr
    incomplete = await call(emsp, "POST", "/cdrs", {"id": "x", "last_updated": cdr["last_updated"]})
    assert incomplete.json()["status_code"] == 2001


async def test_location_and_session_updates_are_applied(emsp: SimEmsp) -> None:
    location = _example("location_example.json")
    put = await call(emsp, "PUT", "/locations/BE/BEC/LOC1", location)
    status = {"status": "CHARGING", "last_updated": "2025-03-03T10:00:00Z"}
    patched = await call(emsp, "PATCH", "/locations/BE/BEC/LOC1/3256", status)
    wrong_owner = await call(emsp, "PUT", "/locations/NL/TNM/LOC1", location)
    assert put.json()["status_code"] == patched.json()["status_code"] == 1000
    assert wrong_owner.json()["status_code"] == 2001
    stored = (await call(emsp, "GET", "/locations/BE/BEC/LOC1/3256")).json()["data"]
    assert stored["status"] == "CHARGING"
    assert emsp.locations.get(("BE", "BEC", "LOC1"))["last_updated"] == status["last_updated"]  # type: ignore[index]

    session = _example("session_example_2_short_finished.json")
    session["status"] = "ACTIVE"
    await call(emsp, "PUT", "/sessions/BE/BEC/101", session)
    patch = _example("session_patch_example_charging_period.json")
    assert (await call(emsp, "PATCH", "/sessions/BE/BEC/101", patch)).json()["status_code"] == 1000
    stored = emsp.sessions.get(("BE", "BEC", "101"))
    assert stored is not None
    assert stored["kwh"] == 15.0
    # PATCHed charging periods are added to the existing ones (mod_sessions, PATCH)
    assert stored["charging_periods"] == session["charging_periods"] + patch["charging_periods"]


def _example(name: str) -> dict[str, Any]:
    import json

    path = SPEC_EXAMPLES / name
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded
