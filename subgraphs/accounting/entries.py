"""The ledger entries of CDRs, as the graph shows them beside each CDR: read only (the ledger
package appends; nothing here writes)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from subgraphs.accounting.ledger.models import LedgerEntry

type CdrKey = tuple[str, str, str]


async def entries_of(tx: AsyncSession, keys: Sequence[CdrKey]) -> dict[CdrKey, LedgerEntry]:
    """The entries of CDRs by (country code, party id, CDR id), upper-cased; a CDR stored
    before the ledger has none."""
    if not keys:
        return {}
    query = select(LedgerEntry).where(
        tuple_(
            col(LedgerEntry.country_code), col(LedgerEntry.party_id), col(LedgerEntry.cdr_id)
        ).in_(list(set(keys)))
    )
    return {(e.country_code, e.party_id, e.cdr_id): e for e in (await tx.execute(query)).scalars()}
