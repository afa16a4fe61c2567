"""CDRs stored before the ledger (migration 0008) get their entries: the database is taken back
to 0007, CDRs are stored as the hub stored them then (documents, no ledger), and it is migrated
to the head again.

- ``backfill`` appends each of them once, in stored order, in batches; again, it adds nothing;
- a hub does it at start, before its first request, so a new CDR comes after the old ones;
- ``incar ledger backfill`` does it by hand and says how many;
- into a ledger that has entries neither does, unless forced: such a CDR lost its entry behind
  the hub's back, and ``incar ledger verify`` is to name it, not a start to paper over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from incar import documents
from incar.db import Database, alembic_config, migrate_async
from incar.hub_key import HubKey
from incar.runtime import attach_ledger
from incar.settings import Settings
from incar.timestamps import parse_timestamp
from subgraphs.accounting.ledger.backfill import LedgerGap, backfill
from tests.conformance.support import cdr
from tests.peers.strict.peer import running_peer
from tests.support.databases import fresh_database
from tests.support.hub import TEST_HUB_KEY, serving_hub
from tests.support.hub_process import free_port, incar_env, run_incar
from tests.support.ledger import CPO, EMSP, audit, spelt, status
from tests.support.old_cdrs import store_old_cdr

# Stored in this order, which is not the order of their ids.
OLD = ("OLD-M", "OLD-A", "OLD-Z", "OLD-B", "OLD-Q")
SETTINGS = Settings(ledger_key_file=TEST_HUB_KEY)
KEY = HubKey(path=TEST_HUB_KEY, name=SETTINGS.ledger_name)


@contextlib.asynccontextmanager
async def stored_before_the_ledger(*cdr_ids: str) -> AsyncIterator[str]:
    """A database at the head whose CDRs ``cdr_ids`` were stored at revision 0007."""
    async with fresh_database() as url:
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0007")
        db = Database(url)
        try:
            for cdr_id in cdr_ids:  # one transaction each, as the hub stored them
                await store_without_entry(db, cdr_id)
        finally:
            await db.dispose()
        await migrate_async(url)
        yield url


async def store_without_entry(db: Database, cdr_id: str) -> None:
    """A CDR's document as the hub stored it before 0008: no ledger entry."""
    async with db.transaction() as tx:
        data = documents.storable(cdr(CPO, cdr_id, EMSP))
        key = documents.key(data["country_code"], data["party_id"], data["id"])
        await store_old_cdr(
            tx,
            (key["country_code"], key["party_id"], key["object_id"]),
            last_updated=parse_timestamp(data["last_updated"]),
            data=data,
            emsp=EMSP,
        )


@contextlib.asynccontextmanager
async def ledger_database(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    attach_ledger(db, SETTINGS.with_(database_url=url))
    try:
        yield db
    finally:
        await db.dispose()


async def ledger_order(db: Database) -> list[str]:
    async with db.transaction() as tx:
        found = await tx.execute(sa.text("SELECT cdr_id FROM ledger_entry ORDER BY idx"))
        return [cdr_id for (cdr_id,) in found]


async def heads(db: Database) -> int:
    async with db.transaction() as tx:
        found = await tx.execute(sa.text("SELECT count(*) FROM ledger_tree_head"))
        return int(found.scalar_one())


async def test_backfill_appends_each_old_cdr_once_in_stored_order() -> None:
    async with stored_before_the_ledger(*OLD) as url, ledger_database(url) as db:
        assert await ledger_order(db) == []
        assert await backfill(db, batch=2) == len(OLD)  # three transactions
        tree = await audit(db, public=KEY.public_bytes, name=KEY.name)  # each once, as stored
        assert tree.size == len(OLD)
        assert await ledger_order(db) == list(OLD)
        signed = await heads(db)
        assert await backfill(db, batch=2) == 0
        assert await ledger_order(db) == list(OLD) and await heads(db) == signed


async def test_a_hub_backfills_at_start_so_new_cdrs_come_after_the_old() -> None:
    async with (
        stored_before_the_ledger(*OLD[:3]) as url,
        serving_hub(url) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        body = spelt(cdr(CPO, "NEW-1", EMSP))
        answer = await cpo.call("POST", hub.endpoint("cdrs", "receiver"), to=EMSP, content=body)
        assert status(answer) == 1000
        assert await ledger_order(hub.hub.db) == [*OLD[:3], "NEW-1"]
        tree = await audit(hub.hub.db, public=KEY.public_bytes, name=KEY.name)
        assert tree.size == 4


async def test_incar_ledger_backfill_says_how_many_it_appended() -> None:
    async with stored_before_the_ledger(*OLD[:2]) as url:
        with tempfile.TemporaryDirectory() as data_dir:
            env = incar_env(
                url, Path(data_dir), free_port(), INCAR_LEDGER_KEY_FILE=str(TEST_HUB_KEY)
            )
            first = await run_incar("ledger", "backfill", env=env)
            again = await run_incar("ledger", "backfill", "--batch", "1", env=env)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == "appended 2 CDRs without a ledger entry"
        assert again.stdout.strip() == "appended 0 CDRs without a ledger entry"
        async with ledger_database(url) as db:
            assert await ledger_order(db) == list(OLD[:2])
            await audit(db, public=KEY.public_bytes, name=KEY.name)


async def test_a_cdr_without_entry_beside_entries_is_not_appended_unless_forced() -> None:
    async with stored_before_the_ledger(*OLD[:2]) as url:
        async with ledger_database(url) as db:
            assert await backfill(db) == 2
            await store_without_entry(db, "SNUCK-IN")  # as if its entry had been removed
            with pytest.raises(LedgerGap) as gap:
                await backfill(db)
            assert gap.value.missing == 1
            assert await ledger_order(db) == list(OLD[:2])
        async with serving_hub(url) as hub:  # a start reports it and leaves it
            assert await ledger_order(hub.hub.db) == list(OLD[:2])
        with tempfile.TemporaryDirectory() as data_dir:
            env = incar_env(
                url, Path(data_dir), free_port(), INCAR_LEDGER_KEY_FILE=str(TEST_HUB_KEY)
            )
            refused = await run_incar("ledger", "backfill", env=env)
            forced = await run_incar("ledger", "backfill", "--force", env=env)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.strip().splitlines() == [
            "incar ledger backfill: 1 stored CDR(s) have no ledger entry although the ledger "
            "has entries: run incar ledger verify; incar ledger backfill --force appends them "
            "at the end"
        ]
        assert forced.returncode == 0, forced.stderr
        assert forced.stdout.strip() == "appended 1 CDRs without a ledger entry"
        async with ledger_database(url) as db:
            assert await ledger_order(db) == [*OLD[:2], "SNUCK-IN"]
