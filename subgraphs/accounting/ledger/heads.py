"""What the hub hands a party of the ledger beside its CDRs: the signed tree head that covers
an entry, the entries of a page of CDRs, and the consistency path between two tree sizes, so
that a party keeping the heads it saw can later check that the hub only ever appended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from subgraphs.accounting.ledger import proofs
from subgraphs.accounting.ledger.log import CdrKey, latest_head
from subgraphs.accounting.ledger.models import LedgerEntry, LedgerTreeHead


@dataclass(frozen=True, slots=True)
class EntryRef:
    """An entry as a party sees it named: its index and its transaction's id."""

    idx: int
    tx_id: str


class NoSuchSize(ValueError):
    """A tree size the ledger has not reached (or an order of sizes with nothing to prove)."""


async def covering(tx: AsyncSession, idx: int) -> LedgerTreeHead | None:
    """The first signed head whose tree holds entry ``idx``: the one its append signed. The
    same head each time it is asked, so a CPO's retry is answered as its first post was."""
    query = (
        select(LedgerTreeHead)
        .where(col(LedgerTreeHead.size) > idx)
        .order_by(col(LedgerTreeHead.size))
        .limit(1)
    )
    return (await tx.execute(query)).scalars().first()


async def of_size(tx: AsyncSession, size: int) -> LedgerTreeHead | None:
    return await tx.get(LedgerTreeHead, size)


async def entries_of(tx: AsyncSession, keys: Sequence[CdrKey]) -> dict[CdrKey, EntryRef]:
    """The entries of the CDRs ``keys`` that have one (one query)."""
    if not keys:
        return {}
    wanted = {(k.country_code, k.party_id, k.cdr_id) for k in keys}
    columns = (
        col(LedgerEntry.country_code),
        col(LedgerEntry.party_id),
        col(LedgerEntry.cdr_id),
    )
    query = sa.select(*columns, col(LedgerEntry.idx), col(LedgerEntry.tx_id)).where(
        sa.tuple_(*columns).in_(sorted(wanted))
    )
    return {
        CdrKey(cc, pid, cdr_id): EntryRef(idx, tx_id)
        for cc, pid, cdr_id, idx, tx_id in (await tx.execute(query)).all()
    }


async def consistency_path(tx: AsyncSession, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 between two signed heads; NoSuchSize unless
    0 <= old_size <= new_size <= the latest signed head's size and both sizes were signed."""
    head = await latest_head(tx)
    size = 0 if head is None else head.size
    if not 0 <= old_size <= new_size <= size:
        raise NoSuchSize(
            f"no consistency proof from size {old_size} to {new_size}: sizes go from 0 up to "
            f"the latest tree head's, {size}, the old one first"
        )
    if old_size in (0, new_size):
        return []  # RFC 9162 2.1.4: nothing to prove
    # Both ends are heads a party saw signed; the path is read from the stored subtree roots
    # (O(log n) rows), and checked against both heads' roots before it is handed out.
    try:
        return await proofs.consistency_proof(tx, old_size, new_size)
    except proofs.ProofError as error:
        raise NoSuchSize(str(error)) from None
