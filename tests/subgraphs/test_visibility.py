"""Who sees what, both ways, as a matrix: a driver only their own sessions and bookings, a
party only its own data (a CPO what runs on its EVSEs, an eMSP its customers'), anonymous
callers neither; an EVSE shows to everyone only that it is in use or booked. On a real
database, through the subgraphs' schemas."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from strawberry.federation import Schema

from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.bookings import service as bookings
from subgraphs.bookings.graph.schema import schema as bookings_schema
from subgraphs.common.context import GraphContext, Viewer, ViewerKind
from subgraphs.locations import service as locations
from subgraphs.sessions import service as sessions
from subgraphs.sessions.graph.schema import schema as sessions_schema
from tests.conformance.support import charging_session, location, token
from tests.support.databases import fresh_database

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
CPO, OTHER_CPO = ("FI", "CP1"), ("FI", "CP2")
EMSP, OTHER_EMSP = ("DE", "EM1"), ("NL", "EM2")


def driver(emsp: tuple[str, str], uid: str) -> Viewer:
    return Viewer(
        kind=ViewerKind.DRIVER, country_code=emsp[0], party_id=emsp[1], token_uid=uid.upper()
    )


def party(ref: tuple[str, str], role: str) -> Viewer:
    return Viewer(kind=ViewerKind.PARTY, country_code=ref[0], party_id=ref[1], role=role)


VIEWERS = {
    "alice": driver(EMSP, "alice"),  # S1's driver, and B1's
    "bob": driver(EMSP, "bob"),  # same eMSP, another driver
    "carol": driver(OTHER_EMSP, "alice"),  # same uid at another eMSP: not alice
    "cpo": party(CPO, "CPO"),
    "other-cpo": party(OTHER_CPO, "CPO"),
    "emsp": party(EMSP, "EMSP"),
    "other-emsp": party(OTHER_EMSP, "EMSP"),
    "anonymous": Viewer(),
}
# Who sees alice's session S1 at CPO and her booking on L2.
SEES_ALICES = {"alice", "cpo", "emsp"}


@dataclass(frozen=True)
class World:
    runtime: Runtime
    booking_id: str


@pytest.fixture(scope="module")
async def world() -> AsyncIterator[World]:
    async with fresh_database() as url:
        rt = Runtime.create(Settings(database_url=url), clock=lambda: NOW)
        await rt.start()
        try:
            async with rt.db.transaction(write=True) as tx:
                for lid in ("L1", "L2"):
                    body = location(*CPO, lid)
                    body["evses"][0]["capabilities"] = ["RESERVABLE"]
                    await locations.put_location(tx, data=body)
                await sessions.put_token(tx, data=token(*EMSP, "alice"))
                await sessions.put_token(tx, data=token(*OTHER_EMSP, "alice"))
                s1 = charging_session(CPO, "S1", EMSP)
                s1["cdr_token"]["uid"] = "alice"
                s1.update(location_id="L1", evse_uid="L1-E1", status="ACTIVE")
                await sessions.put_session(tx, data=s1)
                booking, _ = await bookings.hold(
                    tx,
                    driver=bookings.Driver(EMSP, "ALICE"),
                    evse=bookings.EvseRef(CPO, "L2", "L2-E1"),
                    minutes=30,
                    now=NOW,
                )
            yield World(rt, booking.id)
        finally:
            await rt.close()


async def run(
    runtime: Runtime, schema: Schema, query: str, viewer: Viewer, **variables: Any
) -> tuple[dict[str, Any] | None, list[str]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=GraphContext(runtime=runtime, viewer=viewer),
    )
    codes = [str((e.extensions or {}).get("code")) for e in result.errors or []]
    return result.data, codes


@pytest.mark.parametrize("who", list(VIEWERS))
async def test_a_session_is_its_drivers_its_emsps_and_its_cpos(world: World, who: str) -> None:
    runtime = world.runtime
    data, codes = await run(
        runtime,
        sessions_schema,
        'query { session(countryCode: "FI", partyId: "CP1", id: "s1") { id kwh } }',
        VIEWERS[who],
    )
    assert codes == []
    assert data is not None
    assert (data["session"] is not None) is (who in SEES_ALICES)


@pytest.mark.parametrize("who", list(VIEWERS))
async def test_lists_hold_only_the_viewers_own(world: World, who: str) -> None:
    runtime = world.runtime
    data, codes = await run(runtime, sessions_schema, "query { sessions { id } }", VIEWERS[who])
    if who == "anonymous":
        assert codes == ["UNAUTHENTICATED"]
        return
    assert data is not None
    assert [s["id"] for s in data["sessions"]] == (["S1"] if who in SEES_ALICES else [])


@pytest.mark.parametrize("who", list(VIEWERS))
async def test_me_is_a_drivers_own(world: World, who: str) -> None:
    runtime = world.runtime
    data, codes = await run(
        runtime,
        sessions_schema,
        "query { me { tokenUid tokens { uid } sessions { id } } }",
        VIEWERS[who],
    )
    if VIEWERS[who].kind is not ViewerKind.DRIVER:
        assert codes == ["UNAUTHENTICATED"]
        return
    assert codes == []
    assert data is not None
    me = data["me"]
    assert me["sessions"] == ([{"id": "S1"}] if who == "alice" else [])
    # carol shares alice's uid at another eMSP: her own token, none of alice's sessions.
    assert me["tokens"] == ([{"uid": "alice"}] if who in ("alice", "carol") else [])


@pytest.mark.parametrize("who", list(VIEWERS))
async def test_an_evse_shows_everyone_only_that_it_is_in_use(world: World, who: str) -> None:
    runtime = world.runtime
    data, codes = await run(
        runtime,
        sessions_schema,
        "query ($r: [_Any!]!) { _entities(representations: $r) "
        "{ ... on Evse { inUse activeSession { id } } } }",
        VIEWERS[who],
        r=[
            {
                "__typename": "Evse",
                "countryCode": "FI",
                "partyId": "CP1",
                "locationId": "L1",
                "uid": "L1-E1",
            }
        ],
    )
    assert codes == []
    assert data is not None
    (evse,) = data["_entities"]
    assert evse["inUse"] is True
    assert (evse["activeSession"] is not None) is (who in SEES_ALICES)


@pytest.mark.parametrize("who", list(VIEWERS))
async def test_a_booking_is_seen_by_whom_its_session_would_be(world: World, who: str) -> None:
    runtime, booking_id = world.runtime, world.booking_id
    query = """
    query ($id: ID!, $r: [_Any!]!) {
      booking(id: $id) { id state }
      _entities(representations: $r) { ... on Evse { booked bookedUntil currentBooking { id } } }
    }
    """
    data, codes = await run(
        runtime,
        bookings_schema,
        query,
        VIEWERS[who],
        id=booking_id,
        r=[
            {
                "__typename": "Evse",
                "countryCode": "FI",
                "partyId": "CP1",
                "locationId": "L2",
                "uid": "L2-E1",
            }
        ],
    )
    assert codes == []
    assert data is not None
    sees = who in SEES_ALICES
    assert (data["booking"] is not None) is sees
    (evse,) = data["_entities"]
    assert evse["booked"] is True
    assert evse["bookedUntil"] == "2026-12-02T08:30:00+00:00"
    assert (evse["currentBooking"] is not None) is sees


@pytest.mark.parametrize("who", ["bob", "carol", "cpo", "emsp", "anonymous"])
async def test_only_its_driver_may_cancel_a_booking(world: World, who: str) -> None:
    runtime, booking_id = world.runtime, world.booking_id
    _, codes = await run(
        runtime,
        bookings_schema,
        "mutation ($id: ID!) { cancelBooking(id: $id) { id } }",
        VIEWERS[who],
        id=booking_id,
    )
    expected = "UNAUTHENTICATED" if VIEWERS[who].kind is not ViewerKind.DRIVER else "NOT_FOUND"
    assert codes == [expected]


async def test_a_booked_evse_is_reserved_for_everyone_at_once(world: World) -> None:
    from subgraphs.locations.graph.schema import schema as locations_schema

    query = """
    query { evse(countryCode: "FI", partyId: "CP1", locationId: "L2", uid: "L2-E1")
              { status cpoStatus }
            stations(near: {latitude: 60.169, longitude: 24.938, radiusMeters: 1000},
                     filter: {availableNow: true}) { edges { node { id } } } }
    """
    data, codes = await run(world.runtime, locations_schema, query, VIEWERS["bob"])
    assert codes == []
    assert data is not None
    # Its CPO has not said RESERVED (it never heard of the booking here): the graph has.
    assert data["evse"] == {"status": "RESERVED", "cpoStatus": "AVAILABLE"}
    # L1 is in a session (its CPO still says AVAILABLE in this test), L2 is booked.
    assert [e["node"]["id"] for e in data["stations"]["edges"]] == ["L1"]
