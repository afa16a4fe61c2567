"""Fixtures of the simulator tests: the cached Helsinki sites, the distributions, a peer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from incar.settings import Settings
from simulator.clock import SimClock
from simulator.cpo import SimCpo
from simulator.distributions import Distributions
from simulator.fleet import assign_sites
from simulator.map import Site, helsinki_pbf, load_sites
from simulator.platform import SimParty
from simulator.protocol import authorization
from tests.simulator.peer import RecordingPeer


@pytest.fixture(scope="session")
def sites() -> list[Site]:
    # The product's own cache directory: parsed once, then every run reads the JSON cache.
    # Helsinki by name: these tests are about its places, whatever map var/ has imported.
    return load_sites(Settings.from_env().data_dir, helsinki_pbf())


@pytest.fixture(scope="session")
def distributions() -> Distributions:
    return Distributions.load()


@pytest.fixture
async def peer() -> AsyncIterator[RecordingPeer]:
    recording = RecordingPeer()
    await recording.start()
    yield recording
    await recording.stop()


CPO_PARTY = SimParty("CPO", "FI", "CPA", "Simulated CPO A", "token-a-unused")
STATIONS = 7


@pytest.fixture
async def cpo(sites: list[Site], distributions: Distributions) -> AsyncIterator[SimCpo]:
    """A simulated CPO with seven locations, serving on loopback, not registered anywhere."""
    placed = assign_sites(sites, [CPO_PARTY.ref], STATIONS, seed=5)[CPO_PARTY.ref]
    simulated = SimCpo(
        CPO_PARTY,
        clock=SimClock(speed=600.0),
        seed=5,
        sites=placed,
        distributions=distributions,
    )
    await simulated.start_server()
    yield simulated
    await simulated.stop()


def ocpi_headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": authorization(token), **extra}
