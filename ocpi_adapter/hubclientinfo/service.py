"""ClientInfo objects are the hub's parties seen from the other parties."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from incar.timestamps import format_timestamp
from ocpi_adapter.pagination import PageRequest
from ocpi_adapter.platforms.models import Party


def client_info(party: Party) -> dict[str, Any]:
    return {
        "party_id": party.party_id,
        "country_code": party.country_code,
        "role": str(party.role),
        "status": str(party.status),
        "last_updated": format_timestamp(party.last_updated),
    }


async def page(
    tx: AsyncSession, *, viewer_platform_id: int, request: PageRequest
) -> tuple[list[dict[str, Any]], int]:
    """The ClientInfo objects a platform may see: every party but its own."""
    where: list[ColumnElement[bool]] = [col(Party.platform_id) != viewer_platform_id]
    if request.date_from is not None:
        where.append(col(Party.last_updated) >= request.date_from)
    if request.date_to is not None:
        where.append(col(Party.last_updated) < request.date_to)
    total = (await tx.execute(select(func.count()).select_from(Party).where(*where))).scalar_one()
    rows = await tx.execute(
        select(Party)
        .where(*where)
        .order_by(col(Party.id))
        .offset(request.offset)
        .limit(request.limit)
    )
    return [client_info(p) for p in rows.scalars()], int(total)
