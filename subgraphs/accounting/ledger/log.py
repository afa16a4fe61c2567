"""Appending to the ledger, inside the caller's transaction: the entry, its tree head and the
CDR's document commit together or not at all, so a crash leaves no half-written entry and no
acknowledged CDR without one.

Appends are one at a time (one CDR, or a batch under one head): each starts from the latest
tree head. On PostgreSQL ``lock`` takes
the heads table in EXCLUSIVE mode (readers go on; a second appender waits, then reads the
head the first one committed). SQLite has one writer: the hub's CDR store runs in a write
transaction (BEGIN IMMEDIATE); anywhere else a concurrent append fails (SQLITE_BUSY), never
forks the tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from incar.columns import utcnow
from incar.hub_key import key_of
from subgraphs.accounting.ledger import checkpoint, outbox, transactions
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
    [appended] = await append_many(tx, [(key, cdr)])
    return LedgerEntry(**appended.row)


@dataclass(frozen=True, slots=True)
class Appended:
    """An entry as appended: the row written (``LedgerEntry``'s columns)."""

    row: dict[str, Any]

    @property
    def index(self) -> int:
        return int(self.row["idx"])

    @property
    def tx_id(self) -> str:
        return str(self.row["tx_id"])

    @property
    def tx(self) -> bytes:
        return bytes(self.row["tx"])


async def append_many(tx: AsyncSession, cdrs: Sequence[tuple[CdrKey, str]]) -> list[Appended]:
    """Appends the CDR texts in order and signs one tree head, of the new size, for all of
    them (the heads' sizes then have gaps: a proof or a verifier takes a head of any size).
    As ``append``: the caller holds ``lock``, no CDR of ``cdrs`` has an entry yet."""
    if not cdrs:
        return []
    hub_key = key_of(tx)
    head = await latest_head(tx)
    edge = (
        CompactRange.empty() if head is None else CompactRange.decode(head.size, head.compact_range)
    )
    now = utcnow()
    # Plain rows, not LedgerEntry objects: building a SQLModel object costs more than signing.
    rows: list[dict[str, Any]] = []
    for key, cdr in cdrs:
        signed = transactions.create(cdr, hub_key)
        index = edge.size
        leaf = entry_hash(index, signed.body)
        edge, completed = edge.append_nodes(leaf)
        rows.append(
            {
                "idx": index,
                "tx_id": signed.id,
                "tx": signed.body,
                "country_code": key.country_code,
                "party_id": key.party_id,
                "cdr_id": key.cdr_id,
                "leaf_hash": leaf,
                "nodes": b"".join(completed),
                "appended_at": now,
            }
        )
    root = edge.root()
    note = checkpoint.sign(
        checkpoint.Checkpoint(origin=hub_key.name, size=edge.size, root=root),
        name=hub_key.name,
        sign=hub_key.sign,
        public=hub_key.public_bytes,
    )
    # Core inserts, one statement each table: the ORM's unit of work costs more than the
    # signing at a batch's size.
    await tx.execute(insert(LedgerEntry), rows)
    await tx.execute(
        insert(LedgerTreeHead),
        [
            {
                "size": edge.size,
                "root_hash": root,
                "compact_range": edge.encode(),
                "checkpoint": note,
                "signed_at": now,
            }
        ],
    )
    # To the BigchainDB node, if there is one, in the entries' own transaction.
    await outbox.owe(tx, [row["idx"] for row in rows])
    return [Appended(row) for row in rows]
