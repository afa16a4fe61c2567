"""The accounting service: CDRs, stored once as issued (a CDR cannot be replaced)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar import documents, events
from incar.documents import Outcome, Page
from incar.timestamps import parse_timestamp
from subgraphs.accounting.models import Cdr

TOPIC_CDR = "accounting.cdr"


async def add_cdr(tx: AsyncSession, *, data: dict[str, Any]) -> Outcome:
    """Stores a new CDR; a second CDR with the same id is kept out (STALE), never overwritten."""
    data = documents.storable(data)
    key = documents.key(data["country_code"], data["party_id"], data["id"])
    if await documents.find(tx, Cdr, key=key) is not None:
        return Outcome.STALE
    token = data.get("cdr_token") or {}
    tx.add(
        Cdr(
            country_code=key["country_code"],
            party_id=key["party_id"],
            object_id=key["object_id"],
            last_updated=parse_timestamp(data["last_updated"]),
            data=data,
            emsp_country_code=str(token.get("country_code", "")).upper() or None,
            emsp_party_id=str(token.get("party_id", "")).upper() or None,
        )
    )
    await tx.flush()
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
