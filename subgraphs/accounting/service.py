"""The accounting service: CDRs, stored once as issued and appended to the ledger with them.

OCPI CDRs are immutable (a correction is a credit CDR, with an id of its own). A CDR sent again
with the same content (the same JSON value: ``exactjson.same_value``) is the one stored, with
its ledger entry; one with other content under a stored id is refused (``CdrConflict``) and
changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar import documents, events, exactjson
from incar.documents import Outcome, Page
from incar.timestamps import parse_timestamp
from subgraphs.accounting import price_check, rows
from subgraphs.accounting.ledger import log as ledger
from subgraphs.accounting.models import Cdr, CdrTariff

TOPIC_CDR = "accounting.cdr"


class CdrConflict(Exception):
    """A CDR under the id of a stored one, with other content."""


async def add_cdr(tx: AsyncSession, *, data: dict[str, Any]) -> Outcome:
    """Stores a new CDR and appends it to the ledger, in ``tx``; the same CDR again is
    UNCHANGED, another under its id raises CdrConflict."""
    data = documents.storable(data)
    key = documents.key(data["country_code"], data["party_id"], data["id"])
    # Priced before the lock: it reads only tariffs and the Location, and on PostgreSQL the
    # lock serialises every CDR post (on SQLite the transaction already holds the write lock).
    checked = await price_check.of(tx, data)
    # Before the read that decides: of two posts of one CDR at once, the second sees the first.
    await ledger.lock(tx)
    stored = await documents.find(tx, Cdr, key=key)
    if stored is not None:
        if not exactjson.same_value(stored.data, data):
            raise CdrConflict(
                f"CDR {data['id']} of {key['country_code']}*{key['party_id']} is stored with "
                "other content; a CDR cannot be changed (a correction is a credit CDR)"
            )
        return Outcome.UNCHANGED
    row = Cdr(
        country_code=key["country_code"],
        party_id=key["party_id"],
        object_id=key["object_id"],
        last_updated=parse_timestamp(data["last_updated"]),
        data=data,
        **rows.query_columns(data),
        **checked.columns(),
    )
    tx.add(row)
    await tx.flush()
    assert row.pk is not None
    for tariff_id in sorted(rows.tariff_ids(data)):
        tx.add(CdrTariff(cdr_pk=row.pk, tariff_id=tariff_id))
    await ledger.append(
        tx,
        key=ledger.CdrKey(key["country_code"], key["party_id"], key["object_id"]),
        cdr=exactjson.dumps_text(data),  # the text as sent (storable keeps it)
    )
    await events.publish(
        tx,
        TOPIC_CDR,
        {
            "country_code": key["country_code"],
            "party_id": key["party_id"],
            "cdr_id": key["object_id"],
            "total_energy": data.get("total_energy"),
            "currency": data.get("currency"),
            "last_updated": data["last_updated"],
        },
    )
    return Outcome.CREATED


async def page_cdrs(
    tx: AsyncSession,
    *,
    party: tuple[str, str],
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> Page:
    cc, pid = party
    visible = or_(
        (col(Cdr.country_code) == cc) & (col(Cdr.party_id) == pid),
        (col(Cdr.emsp_country_code) == cc) & (col(Cdr.emsp_party_id) == pid),
    )
    return await documents.page(
        tx,
        Cdr,
        where=[visible],
        date_from=date_from,
        date_to=date_to,
        offset=offset,
        limit=limit,
    )
