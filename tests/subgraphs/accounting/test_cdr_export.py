"""``incar cdrs export`` as an operator runs it (a real process over a real database): one CSV
row per CDR with the documented columns, the filters, pages that join up, and bad filters
refused in one line with nothing written."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.accounting import export, search, service
from tests.subgraphs.accounting.cdr_world import CDRS
from tests.support.databases import fresh_database
from tests.support.hub import TEST_HUB_KEY
from tests.support.hub_process import free_port, incar_env, run_incar


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
            yield Stored(rt, incar_env(url, tmp_path_factory.mktemp("export"), free_port()))
        finally:
            await rt.close()


def table(text: str) -> list[dict[str, str]]:
    assert text.startswith(",".join(export.HEADER) + "\r\n")
    return list(csv.DictReader(io.StringIO(text, newline="")))


async def test_every_cdr_is_one_row_with_the_columns_accountants_reconcile_with(
    stored: Stored,
) -> None:
    done = await run_incar("cdrs", "export", env=stored.env)
    assert (done.returncode, done.stderr_lines) == (0, [])
    rows = table(done.stdout)
    assert [r["cdr_id"] for r in rows] == ["C1", "C2", "C5", "C3", "C4"]  # by start
    first = rows[0]
    assert {k: v for k, v in first.items() if not k.startswith("ledger_")} == {
        "cdr_id": "C1",
        "cpo_country_code": "FI",
        "cpo_party_id": "CP1",
        "emsp_country_code": "DE",
        "emsp_party_id": "EM1",
        "start_date_time": "2026-01-01T00:00:00Z",
        "end_date_time": "2026-01-01T01:00:00Z",
        "session_id": "S1",
        "token_uid": "alice",
        "token_type": "RFID",
        "contract_id": "DE-EM1-CT1",
        "auth_method": "WHITELIST",
        "authorization_reference": "",
        "location_id": "L1",
        "evse_uid": "L1-E1",
        "evse_id": "FI*CP1*E1",
        "connector_id": "1",
        "currency": "EUR",
        "total_energy_kwh": "10.0",
        "total_time_h": "1.0",
        "total_parking_time_h": "",
        "total_cost_excl_vat": "2.5",
        "total_cost_incl_vat": "",
        **{f"total_{part}_cost_{vat}": "" for part in ("fixed", "energy", "time", "parking",
           "reservation") for vat in ("excl_vat", "incl_vat")},
        "tariff_ids": "T1",
        "credit": "false",
        "credit_reference_id": "",
        "invoice_reference_id": "",
        "last_updated": "2026-01-01T02:00:00Z",
        # The hub never got tariff T1: it could not check the price (test_cdr_price_flags).
        "price_check": "unpriceable",
        "price_calculated_excl_vat": "",
        "price_difference_excl_vat": "",
    }  # fmt: skip
    # Each row names its ledger entry: the leaves in the order the CDRs were stored.
    assert [r["ledger_index"] for r in rows] == ["0", "1", "4", "2", "3"]
    assert all(re.fullmatch("[0-9a-f]{64}", r["ledger_tx_id"]) for r in rows)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--cpo", "fi*cp1", "--location-id", "l1"], ["C1", "C4"]),
        (["--emsp", "DE*EM1", "--token-uid", "ALICE"], ["C1", "C3"]),
        (["--tariff-id", "T2"], ["C2"]),
        (["--evse-uid", "L9-E1"], ["C3"]),
        (
            ["--start-from", "2026-01-02T10:00:00Z", "--start-to", "2026-01-04T00:00:00Z"],
            ["C2", "C5", "C3"],
        ),
    ],
)  # fmt: skip
async def test_the_filters(stored: Stored, args: list[str], expected: list[str]) -> None:
    done = await run_incar("cdrs", "export", *args, env=stored.env)
    assert done.returncode == 0, done.stderr
    assert [r["cdr_id"] for r in table(done.stdout)] == expected


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--location-id", "L1"], "location_id: name its CPO too (cpo)"),
        (["--cpo", "FICP1"], "cpo: a party is CC*PID (e.g. FI*CP1), not 'FICP1'"),
        (["--start-from", "yesterday"], "start_from: not an OCPI DateTime"),
        (
            ["--start-from", "2026-01-02T00:00:00Z", "--start-to", "2026-01-01T00:00:00Z"],
            "startFrom must be before startTo",
        ),
    ],
)
async def test_a_bad_filter_is_one_line_and_writes_nothing(
    stored: Stored, args: list[str], line: str
) -> None:
    done = await run_incar("cdrs", "export", *args, env=stored.env)
    assert (done.returncode, done.stdout) == (2, "")
    (only,) = done.stderr_lines
    assert only.startswith("incar cdrs export: ")
    assert line in only


async def test_pages_join_up_into_the_same_export(stored: Stored, tmp_path: Path) -> None:
    async def text(chunk: int) -> list[str]:
        return [
            piece
            async for piece in export.csv_chunks(
                stored.runtime.db, audience=search.Audience.hub(), filter=search.CdrFilter(),
                chunk=chunk,
            )
        ]  # fmt: skip

    whole, paged = await text(1000), await text(1)
    assert len(whole) == 2  # the header, one page
    assert len(paged) == 1 + 5  # the header, a page per CDR
    assert "".join(paged) == "".join(whole)
