"""What the hub keeps of Tariffs passing through it, via the locations service."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from incar.documents import Outcome, Page
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.pagination import PageRequest
from ocpi_adapter.routing.operations import StoreInput
from subgraphs.locations import service as locations


async def put(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await locations.put_tariff(tx, data=data.body)


async def delete(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await locations.delete_tariff(
        tx,
        country_code=data.params["country_code"],
        party_id=data.params["party_id"],
        tariff_id=data.params["tariff_id"],
    )


async def get_all(tx: AsyncSession, viewer: PartyRef, page: PageRequest) -> Page:
    return await locations.page_tariffs(
        tx,
        date_from=page.date_from,
        date_to=page.date_to,
        offset=page.offset,
        limit=page.limit,
    )
