"""A whole simulation over real HTTP: two CPOs and two eMSPs meeting through the real hub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Literal

import pytest

from incar.settings import Settings
from ocpi_adapter.validation import ObjectKind, validate
from simulator.platform import SimParty
from simulator.simulation import Simulation
from tests.support.hub import running_hub

# A Monday, 16:00 in Helsinki: the afternoon rise of the public arrival profile.
START = datetime(2025, 3, 3, 14, 0, tzinfo=UTC)


PARTIES: tuple[tuple[Literal["CPO", "EMSP"], str, str], ...] = (
    ("CPO", "CPA", "Simulated CPO A"),
    ("CPO", "CPB", "Simulated CPO B"),
    ("EMSP", "EMA", "Simulated eMSP A"),
    ("EMSP", "EMB", "Simulated eMSP B"),
)


@pytest.fixture
async def simulation() -> AsyncIterator[Simulation]:
    async with running_hub() as hub:
        parties = [
            SimParty(role, "FI", pid, name, await hub.onboard(role, "FI", pid))
            for role, pid, name in PARTIES
        ]
        running = _simulation(hub.versions_url, parties)
        await running.start()
        yield running
        await running.stop()


def _simulation(versions_url: str, parties: list[SimParty]) -> Simulation:
    return Simulation(
        versions_url,
        parties,
        seed=11,
        speed=3600.0,
        stations_per_cpo=3,
        data_dir=Settings.from_env().data_dir,
        sessions_per_evse_per_day=6.0,
        tokens_per_emsp=10,
        remote_starts_per_day=150.0,
        start_time=START,
    )


async def until(condition: Callable[[], bool]) -> None:
    """Polls the parties' state: it changes inside request handlers, with no event to await."""
    async with asyncio.timeout(60):  # a guard against hanging, not a speed requirement
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_every_party_learns_the_others_objects_at_start(simulation: Simulation) -> None:
    locations = {loc_id for cpo in simulation.cpos for loc_id in cpo.locations}
    tokens = {uid for emsp in simulation.emsps for uid in emsp.tokens}
    assert len(locations) == 6
    for emsp in simulation.emsps:
        assert {loc["id"] for loc in emsp.locations.values()} == locations
        assert len(emsp.tariffs) == 4
        assert {info["party_id"] for info in emsp.identity.client_info.values()} >= {"CPA", "CPB"}
    for cpo in simulation.cpos:
        assert {token["uid"] for token in cpo.tokens.values()} == tokens


async def test_driving_arrivals_end_in_cdrs_at_the_drivers_emsp(simulation: Simulation) -> None:
    await until(lambda: all(len(emsp.cdrs) > 0 for emsp in simulation.emsps))
    for emsp in simulation.emsps:
        for cdr in emsp.cdrs.values():
            validate(ObjectKind.CDR, cdr)
            assert cdr["cdr_token"]["party_id"] == emsp.me.party_id
            session = emsp.sessions.get((cdr["country_code"], cdr["party_id"], cdr["session_id"]))
            assert session is not None and session["status"] == "COMPLETED"
            validate(ObjectKind.SESSION, session)
            assert session["kwh"] == cdr["total_energy"]
    await until(lambda: sum(c.stats["realtime_authorizations"] for c in simulation.cpos) > 0)
    await until(lambda: any(e.command_results for e in simulation.emsps))
    results = [r["result"] for e in simulation.emsps for r in e.command_results.values()]
    assert set(results) <= {"ACCEPTED", "EVSE_OCCUPIED", "EVSE_INOPERATIVE"}
    statuses = {
        evse["status"]
        for emsp in simulation.emsps
        for loc in emsp.locations.values()
        for evse in loc["evses"]
    }
    assert statuses <= {"AVAILABLE", "CHARGING", "OUTOFORDER", "INOPERATIVE", "RESERVED"}
    for platform in simulation.platforms:
        assert platform.stats["push_failed"] == 0, platform.stats
        assert platform.stats["command_results_failed"] == 0, platform.stats
