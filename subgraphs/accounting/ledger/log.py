"""Appending to the ledger, inside the caller's transaction: the entry, its tree head and the
CDR's document commit together or not at all, so a crash leaves no half-written entry and no
acknowledged CDR without one.

Appends are one at a time: each starts from the latest tree head. On PostgreSQL ``lock`` takes
the heads table in EXCLUSIVE mode (readers go on; a second appender waits, then reads the
head the first one committed). SQLite has one writer: the hub's CDR store runs in a write
transaction (BEGIN IMMEDIATE); anywhere else a concurrent append fails (SQLITE_BUSY), never
forks the tree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from incar.hub_key import key_of
from subgraphs.accounting.ledger import checkpoint, transactions
from subgraphs.accounting.ledger.leaves import entry_hash
from subgraphs.accounting.ledger.merkle import CompactRange
from subgraphs.accounting.ledger.models import LedgerEntry, LedgerTreeHead


@dataclass(frozen=True, slots=True)
class CdrKey:
    country_code: str
    party_id: str
    cdr_id: str


async def lock(tx: AsyncSession) -> None:
    """Holds off other appenders until ``tx`` ends; call it before reading what decides an
    append (the CDR already stored, the latest head)."""
    if tx.get_bind().dialect.name == "postgresql":
        await tx.execute(text("LOCK TABLE ledger_tree_head IN EXCLUSIVE MODE"))


async def latest_head(tx: AsyncSession) -> LedgerTreeHead | None:
    query = select(LedgerTreeHead).order_by(col(LedgerTreeHead.size).desc()).limit(1)
    return (await tx.execute(query)).scalars().first()


async def entry_of(tx: AsyncSession, key: CdrKey) -> LedgerEntry | None:
    query = select(LedgerEntry).where(
        col(LedgerEntry.country_code) == key.country_code,
        col(LedgerEntry.party_id) == key.party_id,
        col(LedgerEntry.cdr_id) == key.cdr_id,
    )
    return (await tx.execute(query)).scalars().first()


async def append(tx: AsyncSession, *, key: CdrKey, cdr: str) -> LedgerEntry:
    """Appends the CDR text ``cdr`` and signs the new tree head; the caller holds ``lock``
    and has made sure the CDR has no entry yet (the unique key would refuse a second)."""
    hub_key = key_of(tx)
    head = await latest_head(tx)
    edge = (
        CompactRange.empty() if head is None else CompactRange.decode(head.size, head.compact_range)
    )
    signed = transactions.create(cdr, hub_key)
    leaf = entry_hash(edge.size, signed.body)
    entry = LedgerEntry(
        idx=edge.size,
        tx_id=signed.id,
        tx=signed.body,
        country_code=key.country_code,
        party_id=key.party_id,
        cdr_id=key.cdr_id,
        leaf_hash=leaf,
    )
    edge = edge.append(leaf)
    root = edge.root()
    note = checkpoint.sign(
        checkpoint.Checkpoint(origin=hub_key.name, size=edge.size, root=root),
        name=hub_key.name,
        sign=hub_key.sign,
        public=hub_key.public_bytes,
    )
    tx.add(entry)
    tx.add(
        LedgerTreeHead(size=edge.size, root_hash=root, compact_range=edge.encode(), checkpoint=note)
    )
    await tx.flush()
    return entry
