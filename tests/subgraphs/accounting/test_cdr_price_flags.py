"""The hub's price check of each CDR as the accounting subgraph shows it, on a real database:
three worked CDRs stored through the service (which checks them as the hub does on arrival),
one that follows its tariff, one whose stated total does not, one naming a tariff the hub
never got; then shown, searched by their flags, totalled and exported (in-process and with
``incar cdrs export`` as a real process)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.accounting import export, search, service
from subgraphs.accounting.graph.schema import schema
from subgraphs.common.context import GraphContext
from tests.subgraphs.accounting.cdr_world import party
from tests.support.databases import fresh_database
from tests.support.hub import TEST_HUB_KEY
from tests.support.hub_process import free_port, incar_env, run_incar
from tests.support.priced_cdrs import STEPS, steps_cdr

CPO = ("NL", "CPL")
# Under STEPS the worked CDR costs 4.89 excl. and 6.06 incl. VAT (tests/support/priced_cdrs).
CDRS = [
    steps_cdr("OK1", {"excl_vat": 4.89, "incl_vat": 6.06}, tariffs=[STEPS]),
    steps_cdr("OFF1", {"excl_vat": 5.39, "incl_vat": 6.68}, tariffs=[STEPS]),  # 0.50 over
    steps_cdr("UNK1", {"excl_vat": 4.89}),  # names STEPS, which it does not carry
]


@dataclass
class Stored:
    runtime: Runtime
    env: dict[str, str]


@pytest.fixture(scope="module")
async def stored(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stored]:
    async with fresh_database() as url:
        rt = Runtime.create(Settings(database_url=url, ledger_key_file=TEST_HUB_KEY))
        await rt.start()
        try:
            for body in CDRS:
                async with rt.db.transaction(write=True) as tx:
                    await service.add_cdr(tx, data=body)
            yield Stored(rt, incar_env(url, tmp_path_factory.mktemp("flags"), free_port()))
        finally:
            await rt.close()


async def run(stored: Stored, query: str, **variables: Any) -> tuple[Any, list[str]]:
    result = await schema.execute(
        query,
        variable_values=variables,
        context_value=GraphContext(runtime=stored.runtime, viewer=party(CPO, "CPO")),
    )
    return result.data, [str((e.extensions or {}).get("code")) for e in result.errors or []]


SEARCH = """
query ($filter: CdrFilter) { cdrs(filter: $filter) { edges { node { id
  priceCheck { status reason calculated { exclVat inclVat } difference { exclVat inclVat } }
} } } }
"""


async def test_each_cdr_shows_its_price_check(stored: Stored) -> None:
    data, errors = await run(stored, SEARCH)
    assert errors == []
    checks = {e["node"]["id"]: e["node"]["priceCheck"] for e in data["cdrs"]["edges"]}
    assert checks["OK1"] == {
        "status": "OK",
        "reason": None,
        "calculated": {"exclVat": 4.89, "inclVat": 6.06},
        "difference": {"exclVat": 0.0, "inclVat": 0.0},
    }
    assert checks["OFF1"]["status"] == "MISMATCH"
    assert checks["OFF1"]["calculated"] == {"exclVat": 4.89, "inclVat": 6.06}
    assert checks["OFF1"]["difference"] == {"exclVat": 0.5, "inclVat": 0.62}
    assert "5.39 is +0.50 from the calculated 4.89" in checks["OFF1"]["reason"]
    assert checks["UNK1"] == {
        "status": "UNPRICEABLE",
        "reason": "tariff STEPS is unknown",
        "calculated": None,
        "difference": None,
    }


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["MISMATCH"], {"OFF1"}),
        (["UNPRICEABLE"], {"UNK1"}),
        (["MISMATCH", "UNPRICEABLE"], {"OFF1", "UNK1"}),
        (["OK"], {"OK1"}),
    ],
)
async def test_the_search_finds_cdrs_by_their_flag(
    stored: Stored, statuses: list[str], expected: set[str]
) -> None:
    data, errors = await run(stored, SEARCH, filter={"priceCheck": {"status": statuses}})
    assert errors == []
    assert {e["node"]["id"] for e in data["cdrs"]["edges"]} == expected


async def test_a_flag_filter_naming_no_status_is_refused(stored: Stored) -> None:
    data, errors = await run(stored, SEARCH, filter={"priceCheck": {"status": []}})
    assert (data, errors) == (None, ["BAD_USER_INPUT"])


TOTALS = """
query ($filter: CdrFilter) { cdrTotals(period: DAY, filter: $filter) {
  byPeriod { sums { currency count costExclVat cdrsPriceMismatched cdrsUnpriceable } }
  byLocation { locationId sums { count cdrsPriceMismatched cdrsUnpriceable } }
} }
"""


async def test_totals_count_the_mismatched_and_unpriceable_cdrs(stored: Stored) -> None:
    data, errors = await run(stored, TOTALS)
    assert errors == []
    (day,) = data["cdrTotals"]["byPeriod"]
    assert day["sums"] == {
        "currency": "EUR",
        "count": 3,
        "costExclVat": "15.17",  # as stated: 4.89 + 5.39 + 4.89
        "cdrsPriceMismatched": 1,
        "cdrsUnpriceable": 1,
    }
    (place,) = data["cdrTotals"]["byLocation"]
    assert place == {
        "locationId": "L1",
        "sums": {"count": 3, "cdrsPriceMismatched": 1, "cdrsUnpriceable": 1},
    }
    # Totalled under the filter: only the mismatched one.
    data, errors = await run(stored, TOTALS, filter={"priceCheck": {"status": ["MISMATCH"]}})
    assert errors == []
    assert data["cdrTotals"]["byPeriod"][0]["sums"]["count"] == 1


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def test_the_export_carries_the_check_and_takes_its_filter(stored: Stored) -> None:
    text = "".join(
        [
            piece
            async for piece in export.csv_chunks(
                stored.runtime.db,
                audience=search.Audience.hub(),
                filter=export.filter_of({"price_check": "mismatch,unpriceable"}),
            )
        ]
    )
    rows = {r["cdr_id"]: r for r in table(text)}
    assert set(rows) == {"OFF1", "UNK1"}
    picked = ("price_check", "price_calculated_excl_vat", "price_difference_excl_vat")
    assert [rows["OFF1"][k] for k in picked] == ["mismatch", "4.89", "0.5"]
    assert [rows["UNK1"][k] for k in picked] == ["unpriceable", "", ""]


async def test_incar_cdrs_export_takes_the_flag_filter(stored: Stored) -> None:
    done = await run_incar("cdrs", "export", "--price-check", "MISMATCH", env=stored.env)
    assert (done.returncode, done.stderr_lines) == (0, [])
    rows = table(done.stdout)
    assert [(r["cdr_id"], r["price_check"]) for r in rows] == [("OFF1", "mismatch")]
    every = table((await run_incar("cdrs", "export", env=stored.env)).stdout)
    assert {r["cdr_id"]: r["price_check"] for r in every} == {
        "OK1": "ok",
        "OFF1": "mismatch",
        "UNK1": "unpriceable",
    }
    assert {r["cdr_id"]: r["price_difference_excl_vat"] for r in every}["OK1"] == "0"


async def test_a_bad_flag_filter_is_one_line_and_writes_nothing(stored: Stored) -> None:
    done = await run_incar("cdrs", "export", "--price-check", "wrong", env=stored.env)
    assert (done.returncode, done.stdout) == (2, "")
    (only,) = done.stderr_lines
    assert only.startswith("incar cdrs export: price_check: comma-separated statuses of ")
