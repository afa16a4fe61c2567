"""Fleets: seeded, disjoint between CPOs, valid OCPI 2.2.1 Locations and Tariffs."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from ocpi_adapter.validation import ObjectKind, validate
from simulator import fleet
from simulator.clock import SimClock
from simulator.emsp import SimEmsp
from simulator.map import Site
from simulator.platform import SimParty
from simulator.protocol import PartyRef

NOW = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
CPA, CPB = PartyRef.of("FI", "CPA"), PartyRef.of("FI", "CPB")


def build(sites: list[Site], seed: int) -> list[dict[str, object]]:
    placed = fleet.assign_sites(sites, [CPA, CPB], 20, seed)
    rng = random.Random(seed)
    return [
        fleet.build_location(party, "Operator", site, rng, NOW)
        for party in (CPA, CPB)
        for site in placed[party]
    ]


def test_a_seed_places_the_same_fleet(sites: list[Site]) -> None:
    assert build(sites, 3) == build(sites, 3)
    assert build(sites, 3) != build(sites, 4)


def test_cpos_get_disjoint_sites_real_stations_first(sites: list[Site]) -> None:
    placed = fleet.assign_sites(sites, [CPA, CPB], 30, seed=1)
    a, b = placed[CPA], placed[CPB]
    assert len(a) == len(b) == 30
    assert not {fleet.location_id(s) for s in a} & {fleet.location_id(s) for s in b}
    kinds = [s.kind for s in a + b]
    assert kinds.count("charging_station") == 4
    assert kinds.count("parking") == 43


def test_locations_and_tariffs_are_valid_ocpi(sites: list[Site]) -> None:
    locations = build(sites, 9)
    evse_ids = [evse["evse_id"] for loc in locations for evse in loc["evses"]]  # type: ignore[attr-defined]
    assert len(evse_ids) == len(set(evse_ids))
    for location in locations:
        validate(ObjectKind.LOCATION, location)
    for tariff in fleet.build_tariffs(CPA, NOW):
        validate(ObjectKind.TARIFF, tariff)


def test_emsp_tokens_are_seeded_and_valid() -> None:
    party = SimParty("EMSP", "FI", "EMA", "Simulated eMSP A", "unused")

    def tokens(seed: int) -> list[dict[str, object]]:
        return list(SimEmsp(party, clock=SimClock(1.0, NOW), seed=seed, tokens=30).tokens.values())

    first = tokens(2)
    assert first == tokens(2)
    assert first != tokens(3)
    for token in first:
        validate(ObjectKind.TOKEN, token)
    assert {t["type"] for t in first} == {"RFID", "APP_USER"}
    assert any(t["valid"] is False for t in first)
