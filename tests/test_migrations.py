"""Migrations on the database the suite runs on (SQLite or PostgreSQL): the schema they build is
the one the models describe, and data stored under an older revision is carried over."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, bindparam, text
from sqlmodel import SQLModel

import migrations.tables  # noqa: F401  (every table on SQLModel.metadata)
from incar.columns import UtcDateTime
from incar.db import Database, alembic_config, is_sqlite
from tests.support.databases import fresh_database
from tests.support.old_cdrs import store_old_cdr


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_the_migrated_schema_is_the_schema_of_the_models() -> None:
    async with fresh_database() as url:
        db = Database(url)
        try:
            async with db.engine.connect() as connection:
                assert await connection.run_sync(_differences) == []
        finally:
            await db.dispose()


async def test_0002_makes_keys_case_insensitive_and_keeps_the_newer_spelling() -> None:
    async with fresh_database() as url:
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0001")
        db = Database(url)
        rows = [
            ("location", "loc9", day(1), {"id": "loc9", "v": 1}, ""),
            ("location", "LOC9", day(2), {"id": "LOC9", "v": 2}, ""),
            ("location", "Other", day(1), {"id": "Other"}, ""),
            ("token", "abc", day(3), {"uid": "abc", "v": 3}, "RFID"),
            ("token", "ABC", day(2), {"uid": "ABC", "v": 4}, "RFID"),
            ("token", "Abc", day(1), {"uid": "Abc"}, "APP_USER"),
        ]
        try:
            async with db.transaction() as tx:
                for table, object_id, stamp, data, token_type in rows:
                    extra = ", token_type" if table == "token" else ""
                    value = ", :token_type" if table == "token" else ""
                    await tx.execute(
                        text(
                            f"INSERT INTO {table} (country_code, party_id, object_id, "
                            f"last_updated, data{extra}) VALUES ('NL', 'CPO', :object_id, "
                            f":stamp, :data{value})"
                        ).bindparams(
                            bindparam("stamp", type_=UtcDateTime()),
                            bindparam("data", type_=sa.JSON()),
                        ),
                        {"object_id": object_id, "stamp": stamp, "data": data}
                        | ({"token_type": token_type} if token_type else {}),
                    )
        finally:
            await db.dispose()
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        db = Database(url)
        try:
            async with db.transaction() as tx:
                locations = (
                    await tx.execute(
                        text("SELECT object_id, data FROM location ORDER BY object_id")
                    )
                ).all()
                tokens = (
                    await tx.execute(
                        text("SELECT object_id, token_type, data FROM token ORDER BY token_type")
                    )
                ).all()
        finally:
            await db.dispose()
    assert [(key, _json(data)["id"]) for key, data in locations] == [
        ("LOC9", "LOC9"),
        ("OTHER", "Other"),
    ]
    assert [(key, kind, _json(data)["uid"]) for key, kind, data in tokens] == [
        ("ABC", "APP_USER", "Abc"),
        ("ABC", "RFID", "abc"),  # the newer one, by last_updated
    ]


def day(n: int) -> datetime:
    return datetime(2026, 1, n, tzinfo=UTC)


def _json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


async def test_0003_voids_stamps_no_clock_makes_and_keeps_the_rest_of_the_text() -> None:
    poisoned = (
        '{"id": "L1",  "x": 1.50, "evses": [{"uid": "E1", "last_updated": '
        '"9999-12-31T00:00:00Z"}, {"uid": "E2", "last_updated": "2026-01-01T00:00:00Z"}], '
        '"last_updated": "9999-12-31T23:59:59.999Z"}'
    )
    healthy = '{"id": "L2", "last_updated": "2026-01-01T00:00:00Z"}'
    async with fresh_database() as url:
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0002")
        db = Database(url)
        try:
            async with db.transaction() as tx:
                for object_id, stamp, text_ in (
                    ("L1", day(1).replace(year=9999), poisoned),
                    ("L2", day(1), healthy),
                ):
                    await tx.execute(
                        sa.text(
                            "INSERT INTO location (country_code, party_id, object_id, "
                            "last_updated, data) VALUES ('NL', 'CPO', :object_id, :stamp, "
                            + ("CAST(:data AS JSON))" if not is_sqlite(url) else ":data)")
                        ).bindparams(bindparam("stamp", type_=UtcDateTime())),
                        {"object_id": object_id, "stamp": stamp, "data": text_},
                    )
        finally:
            await db.dispose()
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        db = Database(url)
        try:
            async with db.transaction() as tx:
                rows = (
                    await tx.execute(
                        sa.text(
                            "SELECT object_id, last_updated, CAST(data AS TEXT) FROM location "
                            "ORDER BY object_id"
                        ).columns(
                            sa.column("object_id"),
                            sa.column("last_updated", UtcDateTime()),
                            sa.column("data", sa.Text()),
                        )
                    )
                ).all()
        finally:
            await db.dispose()
    (l1_key, l1_stamp, l1_text), (l2_key, l2_stamp, l2_text) = rows
    assert (l1_key, l2_key) == ("L1", "L2")
    assert l1_stamp == datetime(1970, 1, 1, tzinfo=UTC)
    assert l1_text == poisoned.replace("9999-12-31T00:00:00Z", "1970-01-01T00:00:00Z").replace(
        "9999-12-31T23:59:59.999Z", "1970-01-01T00:00:00Z"
    )
    assert (l2_stamp, l2_text) == (day(1), healthy)


async def test_0004_derives_the_query_rows_of_what_is_stored() -> None:
    location = (
        '{"id": "L1", "coordinates": {"latitude": "60.169000", "longitude": "24.938000"},'
        ' "time_zone": "Europe/Helsinki", "energy_mix": {"is_green_energy": true},'
        ' "evses": [{"uid": "e1", "status": "CHARGING", "capabilities": ["RESERVABLE"],'
        ' "connectors": [{"id": "1", "standard": "IEC_62196_T2", "format": "SOCKET",'
        ' "power_type": "AC_3_PHASE", "max_voltage": 230, "max_amperage": 16,'
        ' "tariff_ids": ["t1"], "last_updated": "2026-01-01T00:00:00Z"}],'
        ' "last_updated": "2026-01-01T00:00:00Z"}], "last_updated": "2026-01-01T00:00:00Z"}'
    )
    session = (
        '{"id": "S1", "status": "ACTIVE", "location_id": "L1", "evse_uid": "e1",'
        ' "cdr_token": {"country_code": "DE", "party_id": "EMA", "uid": "abc"}}'
    )
    async with fresh_database() as url:
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0003")
        db = Database(url)
        data = "CAST(:data AS JSON)" if not is_sqlite(url) else ":data"
        try:
            async with db.transaction() as tx:
                for table, object_id, text_ in (
                    ("location", "L1", location),
                    ("charging_session", "S1", session),
                ):
                    await tx.execute(
                        sa.text(
                            f"INSERT INTO {table} (country_code, party_id, object_id, "
                            f"last_updated, data) VALUES ('NL', 'CPO', :object_id, :stamp, {data})"
                        ).bindparams(bindparam("stamp", type_=UtcDateTime())),
                        {"object_id": object_id, "stamp": day(1), "data": text_},
                    )
        finally:
            await db.dispose()
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        db = Database(url)
        try:
            async with db.transaction() as tx:
                evses = (
                    await tx.execute(
                        sa.text(
                            "SELECT location_id, evse_key, evse_uid, status, reservable, "
                            "max_power_kw, renewable_percent, latitude FROM location_evse"
                        )
                    )
                ).all()
                connectors = (
                    await tx.execute(
                        sa.text(
                            "SELECT connector_key, standard, tariff_ids FROM location_connector"
                        )
                    )
                ).all()
                sessions = (
                    await tx.execute(
                        sa.text(
                            "SELECT emsp_party_id, token_uid, status, location_key, evse_key "
                            "FROM charging_session"
                        )
                    )
                ).all()
        finally:
            await db.dispose()
    # 230 V x 16 A x 3 phases = 11.04 kW; green energy counts as 100 % renewable.
    assert [tuple(r) for r in evses] == [
        ("L1", "E1", "e1", "CHARGING", True, pytest.approx(11.04), 100.0, 60.169)
    ]
    assert [tuple(r) for r in connectors] == [("1", "IEC_62196_T2", "|T1|")]
    assert [tuple(r) for r in sessions] == [("EMA", "ABC", "ACTIVE", "L1", "E1")]


async def test_0010_adds_the_price_check_to_stored_cdrs_as_unchecked_and_goes_back() -> None:
    async with fresh_database() as url:
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0008")
        db = Database(url)
        try:
            async with db.transaction() as tx:
                await store_old_cdr(
                    tx, ("NL", "CPL", "OLD1"), last_updated=day(1), data={"id": "OLD1"}
                )
        finally:
            await db.dispose()
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        db = Database(url)
        try:
            async with db.transaction() as tx:
                row = (
                    await tx.execute(
                        text("SELECT object_id, price_check, price_calculated_excl_vat FROM cdr")
                    )
                ).one()
                assert tuple(row) == ("OLD1", None, None)  # stored before: not checked
                await tx.execute(
                    text("UPDATE cdr SET price_check = 'ok', price_calculated_excl_vat = 4.4")
                )
        finally:
            await db.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0008")
        db = Database(url)
        try:
            async with db.engine.connect() as connection:
                columns = await connection.run_sync(
                    lambda sync: {c["name"] for c in sa.inspect(sync).get_columns("cdr")}
                )
            async with db.transaction() as tx:
                kept = (await tx.execute(text("SELECT object_id FROM cdr"))).scalars().all()
        finally:
            await db.dispose()
    assert not {c for c in columns if c.startswith("price_")}
    assert kept == ["OLD1"]


async def table_names(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
    finally:
        await db.dispose()


async def test_0014_makes_the_event_log_with_its_horizon_and_goes_back() -> None:
    tables = {"event_log", "event_log_horizon", "event_consumer"}
    async with fresh_database() as url:
        db = Database(url)
        try:
            async with db.transaction() as tx:
                horizon = await tx.execute(text("SELECT id, txid, seq FROM event_log_horizon"))
                assert [tuple(row) for row in horizon] == [(1, 0, 0)]
                if not is_sqlite(url):
                    triggers = await tx.execute(
                        text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'event_log'::regclass")
                    )
                    assert triggers.scalars().all() == ["event_log_notify"]
        finally:
            await db.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0013")
        assert not await table_names(url) & tables
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        assert tables <= await table_names(url)


async def test_0016_makes_the_kpi_rows_and_goes_back() -> None:
    async with fresh_database() as url:
        assert "kpi_hour" in await table_names(url)
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0015")
        names = await table_names(url)
        assert "kpi_hour" not in names and "event_consumer" in names
        await asyncio.to_thread(command.upgrade, alembic_config(url), "head")
        assert "kpi_hour" in await table_names(url)
