"""The KPI consumer's arithmetic and the kpis field's refusals, on a real database through the
subgraph's schema: what each topic adds, what it skips, and who may ask (every viewer kind)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from incar.events.event import Event
from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.common.context import GraphContext, Viewer, ViewerKind
from subgraphs.kpis import consumer
from subgraphs.kpis.graph.schema import schema
from tests.support.databases import fresh_database

AT = datetime(2026, 12, 2, 8, 40, tzinfo=UTC)
HOUR = datetime(2026, 12, 2, 8, tzinfo=UTC)
CPO = ("FI", "CPA")


def event(topic: str, **payload: Any) -> Event:
    return Event(topic, {"country_code": "fi", "party_id": "cpa", **payload}, occurred_at=AT)


EVENTS = [
    event(consumer.EVSE_STATUS, status="CHARGING"),
    event(consumer.EVSE_STATUS, status="CHARGING"),
    event(consumer.SESSION, change="created"),
    event(consumer.SESSION, change="updated"),  # not a new session
    event(consumer.CDR, total_energy=12.5),
    event(consumer.CDR, total_energy="12.5"),  # counted, its energy unreadable
    Event(consumer.CDR, {"cdr_id": "X"}, occurred_at=AT),  # no CPO: skipped
]


def test_each_topic_adds_to_its_cpos_hour() -> None:
    assert consumer.tally(EVENTS) == {
        ("FI", "CPA", HOUR, "evse_status:CHARGING"): 2,
        ("FI", "CPA", HOUR, consumer.SESSIONS_STARTED): 1,
        ("FI", "CPA", HOUR, consumer.CDRS): 2,
        ("FI", "CPA", HOUR, consumer.ENERGY_KWH): 12.5,
    }


@pytest.fixture(scope="module")
async def runtime() -> AsyncIterator[Runtime]:
    async with fresh_database() as url:
        rt = Runtime.create(Settings(database_url=url))
        await rt.start()
        try:
            for _ in range(2):  # applied twice: the upsert adds
                async with rt.db.transaction(write=True) as tx:
                    await consumer.apply(tx, EVENTS)
            yield rt
        finally:
            await rt.close()


QUERY = """
query ($from: DateTime!, $to: DateTime!) {
  kpis(countryCode: "FI", partyId: "CPA", from: $from, to: $to) {
    hours { hour numbers { cdrs } }
    totals { sessionsStarted cdrs energyKwh evseStatusChanges { status count } }
  }
}
"""


async def run(runtime: Runtime, viewer: Viewer, start: str, end: str) -> tuple[Any, list[str]]:
    result = await schema.execute(
        QUERY,
        variable_values={"from": start, "to": end},
        context_value=GraphContext(runtime=runtime, viewer=viewer),
    )
    return result.data, [str((e.extensions or {}).get("code")) for e in result.errors or []]


def party(cc: str, pid: str, role: str = "CPO") -> Viewer:
    return Viewer(kind=ViewerKind.PARTY, country_code=cc, party_id=pid, role=role)


async def test_the_cpo_reads_its_hours_and_totals(runtime: Runtime) -> None:
    data, errors = await run(runtime, party(*CPO), "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z")
    assert errors == []
    assert data["kpis"]["hours"] == [{"hour": "2026-12-02T08:00:00+00:00", "numbers": {"cdrs": 4}}]
    assert data["kpis"]["totals"] == {
        "sessionsStarted": 2,
        "cdrs": 4,
        "energyKwh": 25.0,
        "evseStatusChanges": [{"status": "CHARGING", "count": 4}],
    }
    # The range's end is exclusive: the hour at 08:00 is outside [07:00, 08:00).
    data, _ = await run(runtime, party(*CPO), "2026-12-02T07:00:00Z", "2026-12-02T08:00:00Z")
    assert data["kpis"]["hours"] == []


@pytest.mark.parametrize(
    ("viewer", "code"),
    [
        (Viewer(), "UNAUTHENTICATED"),
        (Viewer(ViewerKind.DRIVER, country_code="FI", party_id="CPA", token_uid="A"), "FORBIDDEN"),
        (party("FI", "CPB"), "FORBIDDEN"),
        (party("DE", "CPA", "EMSP"), "FORBIDDEN"),
    ],
)  # fmt: skip
async def test_nobody_else_sees_a_cpos_kpis(runtime: Runtime, viewer: Viewer, code: str) -> None:
    data, errors = await run(runtime, viewer, "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z")
    assert (data, errors) == (None, [code])
