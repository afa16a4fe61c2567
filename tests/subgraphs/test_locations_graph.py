"""The locations subgraph on a real database (SQLite or PostgreSQL, as the suite runs):
station search with every filter, cursor pagination, bad input, federation entities, the SQL
cost of a list, and the live status subscription fed by the locations service."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from incar.events import Position, Retention, log
from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.common.context import GraphContext, Viewer, ViewerKind
from subgraphs.locations import service
from subgraphs.locations.graph.schema import schema
from subgraphs.locations.search import distance_m
from tests.support.databases import fresh_database
from tests.support.statements import statements

# Helsinki railway station; the sites below lie at known offsets from it.
ORIGIN = (60.171, 24.941)
# A Wednesday, 10:00 in Helsinki (UTC+2 in December): the platform's clock in these tests.
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
STAMP = "2026-11-01T00:00:00Z"


def north_of(metres: float) -> str:
    """The latitude ``metres`` north of ORIGIN, as OCPI writes it."""
    return f"{ORIGIN[0] + math.degrees(metres / 6_371_008.8):.6f}"


def connector(cid: str, standard: str, kw: int, *, power_type: str = "DC") -> dict[str, Any]:
    return {
        "id": cid,
        "standard": standard,
        "format": "CABLE",
        "power_type": power_type,
        "max_voltage": 400,
        "max_amperage": 500,
        "max_electric_power": kw * 1000,
        "tariff_ids": ["T1"],
        "last_updated": STAMP,
    }


def site(
    cc: str,
    pid: str,
    lid: str,
    metres: float,
    *connectors: dict[str, Any],
    status: str = "AVAILABLE",
    **changes: Any,
) -> dict[str, Any]:
    return {
        "country_code": cc,
        "party_id": pid,
        "id": lid,
        "publish": True,
        "address": "Kaivokatu 1",
        "city": "Helsinki",
        "country": "FIN",
        "coordinates": {"latitude": north_of(metres), "longitude": f"{ORIGIN[1]:.6f}"},
        "time_zone": "Europe/Helsinki",
        "evses": [
            {
                "uid": f"{lid}-1",
                "status": status,
                "capabilities": ["RESERVABLE"],
                "connectors": list(connectors),
                "last_updated": STAMP,
            }
        ],
        "last_updated": STAMP,
        **changes,
    }


SITES = [
    site("FI", "AAA", "NEAR", 100, connector("1", "IEC_62196_T2_COMBO", 150)),
    # A slow CCS beside a fast CHAdeMO: no single connector is "CCS of 50 kW or more".
    site(
        "FI",
        "AAA",
        "MIXED",
        300,
        connector("1", "IEC_62196_T2_COMBO", 22),
        connector("2", "CHADEMO", 100),
    ),
    site("FI", "BBB", "BUSY", 500, connector("1", "IEC_62196_T2_COMBO", 50), status="CHARGING"),
    site(
        "FI",
        "BBB",
        "GREEN",
        700,
        connector("1", "IEC_62196_T2", 11, power_type="AC_3_PHASE"),
        energy_mix={"is_green_energy": True},
    ),
    # Open 08:00-09:00 local time only: closed at NOW (10:00 local).
    site(
        "FI",
        "BBB",
        "SHUT",
        900,
        connector("1", "IEC_62196_T2_COMBO", 300),
        opening_times={
            "twentyfourseven": False,
            "regular_hours": [{"weekday": 3, "period_begin": "08:00", "period_end": "09:00"}],
        },
    ),
    site("FI", "AAA", "HIDDEN", 200, connector("1", "IEC_62196_T2_COMBO", 150), publish=False),
    site("FI", "AAA", "FAR", 5000, connector("1", "IEC_62196_T2_COMBO", 150)),
]


@pytest.fixture(scope="module")
async def runtime() -> AsyncIterator[Runtime]:
    async with fresh_database() as url:
        rt = Runtime.create(Settings(database_url=url), clock=lambda: NOW)
        await rt.start()
        try:
            async with rt.db.transaction(write=True) as tx:
                for body in SITES:
                    await service.put_location(tx, data=body)
                await service.put_tariff(
                    tx,
                    data={
                        "country_code": "FI",
                        "party_id": "AAA",
                        "id": "T1",
                        "currency": "EUR",
                        "tariff_alt_text": [
                            {"language": "en", "text": "30 c/kWh"},
                            {"language": "fi", "text": "30 snt/kWh"},
                        ],
                        "elements": [
                            {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}
                        ],
                        "last_updated": STAMP,
                    },
                )
            yield rt
        finally:
            await rt.close()


async def run(
    runtime: Runtime, query: str, viewer: Viewer | None = None, **variables: Any
) -> dict[str, Any]:
    context = GraphContext(runtime=runtime, viewer=viewer or Viewer())
    result = await schema.execute(query, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def errors_of(runtime: Runtime, query: str, **variables: Any) -> list[Any]:
    result = await schema.execute(
        query, variable_values=variables, context_value=GraphContext(runtime=runtime)
    )
    assert result.errors, result.data
    return [(e.extensions or {}).get("code") for e in result.errors]


SEARCH = """
query ($near: NearInput, $box: BoxInput, $filter: StationFilter, $first: Int!, $after: String) {
  stations(near: $near, box: $box, filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor distanceMeters node { id partyId } matchingEvses { uid status } }
  }
}
"""


async def ids(runtime: Runtime, **variables: Any) -> list[str]:
    variables.setdefault("near", {"latitude": ORIGIN[0], "longitude": ORIGIN[1]})
    variables.setdefault("first", 20)
    data = await run(runtime, SEARCH, **variables)
    return [edge["node"]["id"] for edge in data["stations"]["edges"]]


async def test_stations_near_a_point_nearest_first(runtime: Runtime) -> None:
    data = await run(
        runtime,
        SEARCH,
        near={"latitude": ORIGIN[0], "longitude": ORIGIN[1], "radiusMeters": 2000},
        first=20,
    )
    edges = data["stations"]["edges"]
    # HIDDEN is unpublished, FAR is 5 km away.
    assert [e["node"]["id"] for e in edges] == ["NEAR", "MIXED", "BUSY", "GREEN", "SHUT"]
    assert [round(e["distanceMeters"]) for e in edges] == [100, 300, 500, 700, 900]
    assert data["stations"]["totalCount"] == 5
    assert edges[0]["matchingEvses"] == [{"uid": "NEAR-1", "status": "AVAILABLE"}]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        # The same connector must be CCS and 50 kW or more: MIXED's fast plug is CHAdeMO.
        (
            {"connectorStandards": ["IEC_62196_T2_COMBO"], "minPowerKw": 50},
            ["NEAR", "BUSY", "SHUT"],
        ),
        ({"connectorStandards": ["CHADEMO"]}, ["MIXED"]),
        ({"availableNow": True}, ["NEAR", "MIXED", "GREEN", "SHUT"]),
        ({"minPowerKw": 200}, ["SHUT"]),
        ({"powerTypes": ["AC_3_PHASE"]}, ["GREEN"]),
        ({"minRenewablePercent": 50}, ["GREEN"]),
        ({"openNow": True}, ["NEAR", "MIXED", "BUSY", "GREEN"]),
        ({"operators": [{"countryCode": "fi", "partyId": "bbb"}]}, ["BUSY", "GREEN", "SHUT"]),
        ({"reservable": False}, []),
    ],
)
async def test_filters(runtime: Runtime, filter_: dict[str, Any], expected: list[str]) -> None:
    assert await ids(runtime, filter=filter_) == expected


async def test_a_box_and_its_centre(runtime: Runtime) -> None:
    # The box's centre is 450 m north: BUSY (500 m) is 50 m from it, MIXED (300 m) 150 m;
    # GREEN (700 m) lies outside.
    box = {
        "south": float(north_of(250)),
        "north": float(north_of(650)),
        "west": 24.9,
        "east": 24.982,
    }
    assert await ids(runtime, near=None, box=box) == ["BUSY", "MIXED"]


async def test_cursor_pages_cover_every_station_once(runtime: Runtime) -> None:
    seen: list[str] = []
    after = None
    for _ in range(10):
        data = await run(
            runtime,
            SEARCH,
            near={"latitude": ORIGIN[0], "longitude": ORIGIN[1], "radiusMeters": 10000},
            first=2,
            after=after,
        )
        page = data["stations"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["NEAR", "MIXED", "BUSY", "GREEN", "SHUT", "FAR"]


@pytest.mark.parametrize(
    "variables",
    [
        {"near": {"latitude": 60.0, "longitude": 24.0, "radiusMeters": 500000}},
        {"near": {"latitude": 91.0, "longitude": 24.0}},
        {"box": {"south": 61.0, "north": 60.0, "west": 24.0, "east": 25.0}},
        {"box": {"south": 50.0, "north": 60.0, "west": 24.0, "east": 25.0}},
        {"near": {"latitude": 60.0, "longitude": 24.0}, "after": "not-a-cursor"},
        {"near": {"latitude": 60.0, "longitude": 24.0}, "first": 1000},
        {},
    ],
)
async def test_bad_searches_are_bad_user_input(runtime: Runtime, variables: dict[str, Any]) -> None:
    variables.setdefault("first", 20)
    assert await errors_of(runtime, SEARCH, **variables) == ["BAD_USER_INPUT"]


async def test_an_unpublished_location_is_its_cpos_own(runtime: Runtime) -> None:
    query = 'query { location(countryCode: "FI", partyId: "AAA", id: "hidden") { id } }'
    assert (await run(runtime, query))["location"] is None
    owner = Viewer(kind=ViewerKind.PARTY, country_code="FI", party_id="AAA", role="CPO")
    assert (await run(runtime, query, viewer=owner))["location"] == {"id": "HIDDEN"}


async def test_entities_resolve_by_owner_and_id(runtime: Runtime) -> None:
    query = """
    query ($r: [_Any!]!) { _entities(representations: $r) {
      ... on Location { id name city openNow }
      ... on Evse { uid status maxPowerKw location { id } }
      ... on Connector { id standard maxPowerKw tariffs { id currency } }
      ... on Tariff { id currency }
    } }
    """
    representations = [
        {"__typename": "Location", "countryCode": "FI", "partyId": "BBB", "id": "shut"},
        {
            "__typename": "Evse",
            "countryCode": "FI",
            "partyId": "AAA",
            "locationId": "MIXED",
            "uid": "mixed-1",
        },
        {
            "__typename": "Connector",
            "countryCode": "FI",
            "partyId": "AAA",
            "locationId": "NEAR",
            "evseUid": "NEAR-1",
            "id": "1",
        },
        {"__typename": "Tariff", "countryCode": "FI", "partyId": "AAA", "id": "T1"},
        # Another owner's id: unknown, not AAA's.
        {"__typename": "Location", "countryCode": "FI", "partyId": "BBB", "id": "NEAR"},
    ]
    data = await run(runtime, query, r=representations)
    assert data["_entities"] == [
        {"id": "SHUT", "name": None, "city": "Helsinki", "openNow": False},
        {"uid": "MIXED-1", "status": "AVAILABLE", "maxPowerKw": 100.0, "location": {"id": "MIXED"}},
        {
            "id": "1",
            "standard": "IEC_62196_T2_COMBO",
            "maxPowerKw": 150.0,
            "tariffs": [{"id": "T1", "currency": "EUR"}],
        },
        {"id": "T1", "currency": "EUR"},
        None,
    ]


def counted(runtime: Runtime) -> AbstractContextManager[list[str]]:
    return statements(runtime.db)


async def test_a_list_costs_a_fixed_number_of_statements(runtime: Runtime) -> None:
    query = """
    query ($near: NearInput!) { stations(near: $near, first: 50) { edges { node {
      id evses { uid connectors { id tariffs { id currency } } }
    } } } }
    """
    near = {"latitude": ORIGIN[0], "longitude": ORIGIN[1], "radiusMeters": 10000}
    with counted(runtime) as statements:
        data = await run(runtime, query, near=near)
    assert len(data["stations"]["edges"]) == 6
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    # One search, one batch of Location documents, one batch of tariffs: not one per row.
    assert len(selects) == 3, selects


async def set_status(
    runtime: Runtime, location_id: str, uid: str, status: str, last_updated: str
) -> None:
    """An EVSE status PATCH of FI*AAA, stored as the hub stores one."""
    async with runtime.db.transaction(write=True) as tx:
        await service.upsert_evse(
            tx,
            country_code="FI",
            party_id="AAA",
            location_id=location_id,
            evse_uid=uid,
            evse={"status": status, "last_updated": last_updated},
            replace=False,
        )


STATUS_QUERY = """
query ($near: NearInput!) { stations(near: $near, first: 50) { edges { node {
  id evses { uid status }
} } } }
"""


async def searched_status(runtime: Runtime, location_id: str) -> str:
    near = {"latitude": ORIGIN[0], "longitude": ORIGIN[1], "radiusMeters": 10000}
    data = await run(runtime, STATUS_QUERY, near=near)
    (node,) = [e["node"] for e in data["stations"]["edges"] if e["node"]["id"] == location_id]
    status: str = node["evses"][0]["status"]
    return status


async def test_a_status_patch_writes_its_evse_row_in_one_statement(runtime: Runtime) -> None:
    touching = {"location_evse", "location_connector"}
    with counted(runtime) as seen:
        await set_status(runtime, "NEAR", "NEAR-1", "CHARGING", "2026-11-02T00:00:00Z")
    rows = [s for s in seen if any(f" {table}" in s for table in touching)]
    assert len(rows) == 1 and rows[0].lstrip().startswith("UPDATE location_evse"), rows
    assert await searched_status(runtime, "NEAR") == "CHARGING"


async def test_a_status_patch_of_an_evse_without_a_row_makes_it(runtime: Runtime) -> None:
    async with runtime.db.transaction(write=True) as tx:
        await tx.execute(
            text("DELETE FROM location_evse WHERE location_id = 'NEAR'"),
        )
    await set_status(runtime, "NEAR", "NEAR-1", "BLOCKED", "2026-11-02T00:00:00Z")
    assert await searched_status(runtime, "NEAR") == "BLOCKED"


async def test_status_changes_reach_subscribers_of_their_area(runtime: Runtime) -> None:
    box = {"south": float(north_of(50)), "north": float(north_of(150)), "west": 24.9, "east": 25.0}
    subscription = """
    subscription ($box: BoxInput) { evseStatusChanged(box: $box) {
      status locationId evseUid cursor evse { uid status }
    } }
    """
    stream = await schema.subscribe(
        subscription, variable_values={"box": box}, context_value=GraphContext(runtime=runtime)
    )
    assert not hasattr(stream, "errors"), stream
    assert isinstance(stream, AsyncGenerator)
    received = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.2)  # the subscription is listening
    for location_id, uid, status in (
        ("MIXED", "MIXED-1", "BLOCKED"),
        ("NEAR", "NEAR-1", "CHARGING"),
    ):
        await set_status(runtime, location_id, uid, status, "2026-11-02T00:00:00Z")
    result = await asyncio.wait_for(received, 5)
    assert result.errors is None, result.errors
    assert result.data is not None
    # MIXED (300 m) is outside the box: the first event the subscriber sees is NEAR's.
    assert result.data["evseStatusChanged"]["locationId"] == "NEAR"
    assert result.data["evseStatusChanged"]["evse"] == {"uid": "NEAR-1", "status": "CHARGING"}
    await stream.aclose()


WATCH_FAR = """
subscription ($after: String) { evseStatusChanged(
  locations: [{countryCode: "FI", partyId: "AAA", id: "FAR"}], after: $after) { status cursor }
}
"""


async def watch(runtime: Runtime, after: str | None) -> AsyncGenerator[Any, None]:
    stream = await schema.subscribe(
        WATCH_FAR, variable_values={"after": after}, context_value=GraphContext(runtime=runtime)
    )
    assert isinstance(stream, AsyncGenerator), stream
    return stream


async def next_status(stream: AsyncGenerator[Any, None]) -> dict[str, Any]:
    result = await asyncio.wait_for(anext(stream), 5)
    assert result.errors is None, result.errors
    event: dict[str, Any] = result.data["evseStatusChanged"]
    return event


def codes(result: Any) -> list[Any]:
    return [(e.extensions or {}).get("code") for e in result.errors or []]


async def test_a_subscription_resumes_after_its_cursor_and_says_when_it_cannot(
    runtime: Runtime,
) -> None:
    live = await watch(runtime, None)
    first = asyncio.ensure_future(next_status(live))
    await asyncio.sleep(0.2)  # the subscription is listening
    await set_status(runtime, "FAR", "FAR-1", "CHARGING", "2026-11-03T00:00:00Z")
    seen = await first
    await live.aclose()

    # Missed while disconnected: sent on resuming, in order, then the live ones.
    await set_status(runtime, "FAR", "FAR-1", "BLOCKED", "2026-11-03T00:01:00Z")
    await set_status(runtime, "FAR", "FAR-1", "OUTOFORDER", "2026-11-03T00:02:00Z")
    resumed = await watch(runtime, seen["cursor"])
    missed = [await next_status(resumed), await next_status(resumed)]
    assert [event["status"] for event in missed] == ["BLOCKED", "OUTOFORDER"]
    later = asyncio.ensure_future(next_status(resumed))
    await asyncio.sleep(0.2)
    await set_status(runtime, "FAR", "FAR-1", "AVAILABLE", "2026-11-03T00:03:00Z")
    assert (await later)["status"] == "AVAILABLE"
    await resumed.aclose()
    cursors = [Position.parse(seen["cursor"])] + [Position.parse(e["cursor"]) for e in missed]
    assert cursors == sorted(cursors) and len(set(cursors)) == 3

    bad = await watch(runtime, "not a cursor")
    assert codes(await anext(bad)) == ["BAD_USER_INPUT"]

    # Retention deletes everything up to now: the first cursor can no longer be resumed.
    async with runtime.db.transaction() as tx:
        assert await log.prune(tx, Retention(seconds=0, count=0), datetime.now(UTC)) > 0
    expired = await watch(runtime, seen["cursor"])
    assert codes(await anext(expired)) == ["CURSOR_UNAVAILABLE"]


def test_distance_is_the_great_circle() -> None:
    # One degree of latitude on the mean sphere: 2 pi R / 360.
    assert distance_m(60, 24, 61, 24) == pytest.approx(2 * math.pi * 6_371_008.8 / 360)


async def test_price_estimates_and_tariff_text_in_the_drivers_language(runtime: Runtime) -> None:
    query = """
    query { evse(countryCode: "FI", partyId: "AAA", locationId: "NEAR", uid: "NEAR-1") {
      connectors {
        priceEstimates(carMaxPowerKw: 50, energyKwh: 20) {
          tariffId currency totalExclVat totalInclVat energyKwh chargingEnd
          lines { dimension quantity exclVat }
        }
        tariffs { fi: text(languages: ["fi-FI", "en"]) de: text(languages: ["de"]) }
      }
    } }
    """
    (connector,) = (await run(runtime, query))["evse"]["connectors"]
    # 20 kWh at the car's 50 kW (less than the connector's 150 kW): 24 minutes;
    # 20 kWh x EUR 0.30 = EUR 6.00, and the tariff states no VAT.
    assert connector["priceEstimates"] == [
        {
            "tariffId": "T1",
            "currency": "EUR",
            "totalExclVat": "6.00",
            "totalInclVat": None,
            "energyKwh": "20",
            "chargingEnd": "2026-12-02T08:24:00+00:00",
            "lines": [{"dimension": "ENERGY", "quantity": "20", "exclVat": "6"}],
        }
    ]
    assert connector["tariffs"] == [{"fi": "30 snt/kWh", "de": "30 c/kWh"}]


async def test_a_price_estimate_of_nothing_is_bad_input(runtime: Runtime) -> None:
    query = """
    query { evse(countryCode: "FI", partyId: "AAA", locationId: "NEAR", uid: "NEAR-1") {
      connectors { priceEstimates(carMaxPowerKw: 50) { totalExclVat } }
    } }
    """
    assert await errors_of(runtime, query) == ["BAD_USER_INPUT"]


async def test_status_of_an_unpublished_location_reaches_only_its_cpo(runtime: Runtime) -> None:
    """HIDDEN (publish false, 200 m) and NEAR (100 m) change in one box: an anonymous
    watcher sees NEAR's change only, HIDDEN's CPO sees both."""
    box = {"south": float(north_of(50)), "north": float(north_of(250)), "west": 24.9, "east": 25.0}
    subscription = """
    subscription ($box: BoxInput) { evseStatusChanged(box: $box) { locationId status } }
    """
    owner = Viewer(kind=ViewerKind.PARTY, country_code="FI", party_id="AAA", role="CPO")
    streams = {}
    for name, viewer in (("anyone", Viewer()), ("owner", owner)):
        stream = await schema.subscribe(
            subscription,
            variable_values={"box": box},
            context_value=GraphContext(runtime=runtime, viewer=viewer),
        )
        assert isinstance(stream, AsyncGenerator)
        streams[name] = stream
    firsts = {name: asyncio.ensure_future(anext(s)) for name, s in streams.items()}
    await asyncio.sleep(0.2)  # both are listening
    for location_id, uid in (("HIDDEN", "HIDDEN-1"), ("NEAR", "NEAR-1")):
        await set_status(runtime, location_id, uid, "OUTOFORDER", "2026-11-02T01:00:00Z")
    seen = {name: await asyncio.wait_for(first, 5) for name, first in firsts.items()}
    assert seen["anyone"].data == {
        "evseStatusChanged": {"locationId": "NEAR", "status": "OUTOFORDER"}
    }
    assert seen["owner"].data == {
        "evseStatusChanged": {"locationId": "HIDDEN", "status": "OUTOFORDER"}
    }
    for stream in streams.values():
        await stream.aclose()
