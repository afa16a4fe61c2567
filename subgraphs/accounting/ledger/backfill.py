"""Appending the CDRs stored before the ledger existed (migration 0008): each CDR without an
entry, in the order the hub stored them, once, a batch per transaction.

Each hub process runs it at start, before it takes a request (``ocpi_adapter/app.py``): only
then do the old CDRs keep their stored order in the ledger, ahead of any new one; and when
nothing is missing (every start but the first after the upgrade) it costs two counts. ``incar
ledger backfill`` runs it by hand. Each batch takes the appenders' lock and reads again which
CDRs lack an entry, so two processes backfilling at once append each CDR once.

It appends only into an empty ledger, the state right after the upgrade. Once the ledger has
entries, a CDR without one cannot come from the hub (a CDR and its entry commit together): it
is an entry removed behind the hub's back, and appending it again at the end would paper over
what ``incar ledger verify`` must name. Such a ledger raises ``LedgerGap``; only an operator,
by ``incar ledger backfill --force`` after reading verify's findings, appends them anyway.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy import Text, cast
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar.db import Database
from subgraphs.accounting.ledger import log as ledger
from subgraphs.accounting.ledger.models import LedgerEntry
from subgraphs.accounting.models import Cdr

log = logging.getLogger("incar.ledger.backfill")

BATCH = 500


class LedgerGap(Exception):
    """CDRs without an entry in a ledger that has entries: not the hub's doing."""

    def __init__(self, missing: int) -> None:
        super().__init__(
            f"{missing} stored CDR(s) have no ledger entry although the ledger has entries: "
            "run incar ledger verify; incar ledger backfill --force appends them at the end"
        )
        self.missing = missing


async def missing(tx: AsyncSession) -> int:
    """How many stored CDRs have no entry (each entry is of one stored CDR)."""
    cdrs = (await tx.execute(sa.select(sa.func.count()).select_from(Cdr))).scalar_one()
    entries = (await tx.execute(sa.select(sa.func.count()).select_from(LedgerEntry))).scalar_one()
    return int(cdrs) - int(entries)


async def _has_entries(tx: AsyncSession) -> bool:
    found = await tx.execute(sa.select(col(LedgerEntry.idx)).limit(1))
    return found.first() is not None


def _without_entry(limit: int) -> sa.Select[str, str, str, str]:
    has_entry = sa.exists().where(
        col(LedgerEntry.country_code) == col(Cdr.country_code),
        col(LedgerEntry.party_id) == col(Cdr.party_id),
        col(LedgerEntry.cdr_id) == col(Cdr.object_id),
    )
    return (
        # The stored text, as GET All serves it and as add_cdr appends it.
        sa.select(
            col(Cdr.country_code), col(Cdr.party_id), col(Cdr.object_id), cast(col(Cdr.data), Text)
        )
        .where(~has_entry)
        .order_by(col(Cdr.pk))
        .limit(limit)
    )


async def backfill(db: Database, *, batch: int = BATCH, force: bool = False) -> int:
    """Appends every stored CDR without an entry; how many it appended. ``db``'s transactions
    must sign with the hub's key (``incar.runtime.attach_ledger``). Into a ledger that has
    entries only with ``force``; else LedgerGap."""
    async with db.transaction() as tx:
        lacking = await missing(tx)
        if lacking <= 0:
            return 0
        if not force and await _has_entries(tx):
            raise LedgerGap(lacking)
    appended = 0
    while True:
        async with db.transaction(write=True) as tx:
            await ledger.lock(tx)
            found = (await tx.execute(_without_entry(batch))).all()
            for country_code, party_id, cdr_id, text in found:
                key = ledger.CdrKey(country_code, party_id, cdr_id)
                await ledger.append(tx, key=key, cdr=text)
        appended += len(found)
        if found:
            log.info("appended %d CDRs stored before the ledger (%d so far)", len(found), appended)
        if len(found) < batch:
            return appended
