"""Migration 0013 derives the query columns (and tariffs) of CDRs stored before it, with the
service's own derivation, on the database the suite runs on."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from sqlalchemy import text

from incar.columns import UtcDateTime
from incar.db import Database, alembic_config
from tests.subgraphs.accounting.cdr_world import CDRS
from tests.support.databases import fresh_database
from tests.support.old_cdrs import store_old_cdr


async def test_0013_fills_the_columns_of_cdrs_stored_before_it() -> None:
    body = dict(CDRS[0], total_parking_time=0.25, total_cost={"excl_vat": 2.5, "incl_vat": 3.1})
    async with fresh_database() as url:
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0008")
        db = Database(url)
        try:
            async with db.transaction() as tx:
                await store_old_cdr(
                    tx,
                    ("FI", "CP1", "C1"),
                    last_updated=datetime(2026, 1, 1, 2, tzinfo=UTC),
                    data=body,
                    emsp=("DE", "EM1"),
                )
        finally:
            await db.dispose()
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        db = Database(url)
        try:
            async with db.transaction() as tx:
                row = (
                    await tx.execute(
                        text(
                            "SELECT token_uid, location_id, evse_uid, session_id, currency, "
                            "total_energy, total_time, total_parking_time, cost_excl_vat, "
                            "cost_incl_vat FROM cdr"
                        )
                    )
                ).one()
                start = (
                    await tx.execute(
                        sa.select(sa.column("start_date_time", UtcDateTime())).select_from(
                            sa.table("cdr")
                        )
                    )
                ).scalar_one()
                tariffs = (await tx.execute(text("SELECT tariff_id FROM cdr_tariff"))).all()
        finally:
            await db.dispose()
    assert tuple(row) == ("ALICE", "L1", "L1-E1", "S1", "EUR", 10.0, 1.0, 0.25, 2.5, 3.1)
    assert start == datetime(2026, 1, 1, tzinfo=UTC)
    assert tariffs == [("T1",)]
