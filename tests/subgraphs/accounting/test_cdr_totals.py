"""Totals of CDR searches on a real database, with worked numbers: by day, ISO week and month
in the Location's time zone (Europe/Helsinki, UTC+2 in winter) or in UTC across Locations,
by Location, per currency, exact decimal sums, and a missing incl_vat counted, not guessed.

The CDRs (all FI*CP1's, all alice's at DE*EM1):

| CDR | at | start (UTC)      | Helsinki        | cur | kWh   | h    | parking h | excl | incl |
|-----|----|------------------|-----------------|-----|-------|------|-----------|------|------|
| T1  | LH | 2026-01-31 21:30 | Sat 01-31 23:30 | EUR | 10.5  | 1.5  | 0.25      | 3.10 | 3.89 |
| T2  | LH | 2026-01-31 22:30 | Sun 02-01 00:30 | EUR | 20.25 | 2.0  | 0.5       | 6.20 | 7.78 |
| T3  | LH | 2026-02-02 10:00 | Mon 02-02 12:00 | EUR | 5.0   | 0.5  | (none)    | 1.55 | none |
| T4  | LX | 2026-02-02 12:00 | (no time zone)  | SEK | 8     | 1    | 0         | 30.0 | 37.5 |
| T5  | LH | 2026-02-03 08:00 | Tue 02-03 10:00 | SEK | 2     | 0.25 | (none)    | 10   | 12.5 |
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.accounting import service
from subgraphs.accounting.graph.schema import schema
from subgraphs.common.context import GraphContext, Viewer
from subgraphs.locations import service as locations
from tests.conformance.support import location
from tests.subgraphs.accounting.cdr_world import CPO, EMSP, VIEWERS, a_cdr
from tests.support.databases import fresh_database
from tests.support.hub import TEST_HUB_KEY


def figures(currency: str, numbers: str) -> dict[str, Any]:
    """A CDR's figures from "kWh hours parking excl incl" ("-" for one it leaves out)."""
    kwh, hours, parking, excl, incl = (None if n == "-" else float(n) for n in numbers.split())
    cost: dict[str, Any] = {"excl_vat": excl} | ({} if incl is None else {"incl_vat": incl})
    found: dict[str, Any] = {
        "currency": currency,
        "total_energy": kwh,
        "total_time": hours,
        "total_cost": cost,
    }
    if parking is not None:
        found["total_parking_time"] = parking
    return found


ROWS = [
    ("T1", "LH", "2026-01-31T21:30:00Z", figures("EUR", "10.5 1.5 0.25 3.10 3.89")),
    ("T2", "LH", "2026-01-31T22:30:00Z", figures("EUR", "20.25 2.0 0.5 6.20 7.78")),
    ("T3", "LH", "2026-02-02T10:00:00Z", figures("EUR", "5.0 0.5 - 1.55 -")),
    ("T4", "LX", "2026-02-02T12:00:00Z", figures("SEK", "8 1 0 30.0 37.5")),
    ("T5", "LH", "2026-02-03T08:00:00Z", figures("SEK", "2 0.25 - 10 12.5")),
]  # fmt: skip

TOTALS = """
query ($period: Period!, $filter: CdrFilter) { cdrTotals(period: $period, filter: $filter) {
  timeZone period
  byPeriod { firstDay startsAt sums { ...sums } }
  byLocation { countryCode partyId locationId sums { ...sums } }
} }
fragment sums on CdrSums { currency count energyKwh sessionHours chargingHours parkingHours
  costExclVat costInclVat cdrsWithoutInclVat }
"""
AT_LH = {"cpoCountryCode": "FI", "cpoPartyId": "CP1", "locationId": "LH"}


@pytest.fixture(scope="module")
async def runtime() -> AsyncIterator[Runtime]:
    async with fresh_database() as url:
        rt = Runtime.create(Settings(database_url=url, ledger_key_file=TEST_HUB_KEY))
        await rt.start()
        try:
            async with rt.db.transaction(write=True) as tx:
                await locations.put_location(tx, data=location(*CPO, "LH"))
                no_zone = location(*CPO, "LX")
                del no_zone["time_zone"]
                await locations.put_location(tx, data=no_zone)
            for cdr_id, place, start, changes in ROWS:
                body = a_cdr(
                    CPO, cdr_id, EMSP, uid="alice", location_id=place, start=start, end=start,
                    **changes,
                )  # fmt: skip
                async with rt.db.transaction(write=True) as tx:
                    await service.add_cdr(tx, data=body)
            yield rt
        finally:
            await rt.close()


async def totals(
    runtime: Runtime,
    period: str,
    filter: dict[str, Any] | None = None,
    viewer: Viewer = VIEWERS["cpo"],
) -> Any:
    result = await schema.execute(
        TOTALS,
        variable_values={"period": period, "filter": filter},
        context_value=GraphContext(runtime=runtime, viewer=viewer),
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data["cdrTotals"]


def sums(currency: str, count: int, numbers: str, without: int = 0) -> dict[str, Any]:
    """The expected sums from "kWh session-hours parking-hours excl incl"; the charging hours
    worked out as session less parking."""
    kwh, session, parking, excl, incl = (Decimal(n) for n in numbers.split())
    return {
        "currency": currency,
        "count": count,
        "energyKwh": kwh,
        "sessionHours": session,
        "chargingHours": session - parking,
        "parkingHours": parking,
        "costExclVat": excl,
        "costInclVat": incl,
        "cdrsWithoutInclVat": without,
    }


def exact(found: dict[str, Any]) -> dict[str, Any]:
    """The sums as numbers (the graph gives Decimals as their text)."""
    names = (
        "energyKwh",
        "sessionHours",
        "chargingHours",
        "parkingHours",
        "costExclVat",
        "costInclVat",
    )
    return {k: Decimal(v) if k in names else v for k, v in found.items()}


def periods(found: Any) -> list[tuple[str, str, dict[str, Any]]]:
    return [(p["firstDay"], p["startsAt"], exact(p["sums"])) for p in found["byPeriod"]]


T1 = sums("EUR", 1, "10.5 1.5 0.25 3.10 3.89")
T2 = sums("EUR", 1, "20.25 2.0 0.5 6.20 7.78")
T3 = sums("EUR", 1, "5.0 0.5 0 1.55 0", without=1)
T4 = sums("SEK", 1, "8 1 0 30.0 37.5")
T5 = sums("SEK", 1, "2 0.25 0 10 12.5")


async def test_days_of_one_location_are_its_own_calendar_days(runtime: Runtime) -> None:
    found = await totals(runtime, "DAY", AT_LH)
    assert (found["timeZone"], found["period"]) == ("Europe/Helsinki", "DAY")
    # T2 started at 22:30 UTC on the 31st: 00:30 on 1 February in Helsinki.
    assert periods(found) == [
        ("2026-01-31", "2026-01-30T22:00:00+00:00", T1),
        ("2026-02-01", "2026-01-31T22:00:00+00:00", T2),
        ("2026-02-02", "2026-02-01T22:00:00+00:00", T3),
        ("2026-02-03", "2026-02-02T22:00:00+00:00", T5),
    ]


async def test_months_of_one_location_per_currency(runtime: Runtime) -> None:
    found = await totals(runtime, "MONTH", AT_LH)
    assert periods(found) == [
        ("2026-01-01", "2025-12-31T22:00:00+00:00", T1),
        # T2 + T3: 20.25 + 5.0 kWh, 6.20 + 1.55 excl. VAT; T3 gives no incl_vat.
        (
            "2026-02-01",
            "2026-01-31T22:00:00+00:00",
            sums("EUR", 2, "25.25 2.5 0.5 7.75 7.78", without=1),
        ),
        ("2026-02-01", "2026-01-31T22:00:00+00:00", T5),  # SEK beside EUR, never added
    ]


async def test_across_locations_the_months_are_utc_and_say_so(runtime: Runtime) -> None:
    found = await totals(runtime, "MONTH")
    assert found["timeZone"] == "UTC"
    assert periods(found) == [
        # T1 + T2: both on 31 January in UTC. 3.10 + 6.20 = 9.30, 3.89 + 7.78 = 11.67.
        (
            "2026-01-01",
            "2026-01-01T00:00:00+00:00",
            sums("EUR", 2, "30.75 3.5 0.75 9.30 11.67"),
        ),
        ("2026-02-01", "2026-02-01T00:00:00+00:00", T3),
        # T4 + T5: 8 + 2 kWh, 30.0 + 10 excl. VAT, 37.5 + 12.5 incl.
        ("2026-02-01", "2026-02-01T00:00:00+00:00", sums("SEK", 2, "10 1.25 0 40 50")),
    ]
    # By Location: LH's EUR CDRs T1 + T2 + T3, its SEK one, and LX's.
    assert [
        (p["countryCode"], p["partyId"], p["locationId"], exact(p["sums"]))
        for p in found["byLocation"]
    ] == [
        ("FI", "CP1", "LH", sums("EUR", 3, "35.75 4.0 0.75 10.85 11.67", without=1)),
        ("FI", "CP1", "LH", T5),
        ("FI", "CP1", "LX", T4),
    ]


async def test_weeks_are_iso_weeks_from_monday(runtime: Runtime) -> None:
    found = await totals(runtime, "WEEK")
    # 31 January 2026 is a Saturday: its week began on Monday the 26th.
    assert [
        (p["firstDay"], p["sums"]["currency"], p["sums"]["count"]) for p in found["byPeriod"]
    ] == [
        ("2026-01-26", "EUR", 2),
        ("2026-02-02", "EUR", 1),
        ("2026-02-02", "SEK", 2),
    ]


async def test_a_location_without_a_time_zone_is_counted_in_utc(runtime: Runtime) -> None:
    found = await totals(runtime, "DAY", AT_LH | {"locationId": "LX"})
    assert found["timeZone"] == "UTC"
    assert periods(found) == [("2026-02-02", "2026-02-02T00:00:00+00:00", T4)]


@pytest.mark.parametrize(
    ("who", "count"), [("alice", 5), ("bob", 0), ("other-cpo", 0), ("other-emsp", 0), ("emsp", 5)]
)
async def test_totals_count_only_what_the_viewer_sees(
    runtime: Runtime, who: str, count: int
) -> None:
    found = await totals(runtime, "MONTH", viewer=VIEWERS[who])
    assert sum(p["sums"]["count"] for p in found["byPeriod"]) == count
    assert sum(p["sums"]["count"] for p in found["byLocation"]) == count


async def test_anonymous_callers_get_no_totals(runtime: Runtime) -> None:
    result = await schema.execute(
        TOTALS,
        variable_values={"period": "DAY"},
        context_value=GraphContext(runtime=runtime, viewer=VIEWERS["anonymous"]),
    )
    assert [(e.extensions or {}).get("code") for e in result.errors or []] == ["UNAUTHENTICATED"]
