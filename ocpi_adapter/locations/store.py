"""What the hub keeps of Locations passing through it, via the locations service."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from incar.documents import Outcome, Page
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.pagination import PageRequest
from ocpi_adapter.routing.operations import StoreInput
from subgraphs.locations import service as locations


def _where(data: StoreInput) -> dict[str, str]:
    return {
        "country_code": data.params["country_code"],
        "party_id": data.params["party_id"],
        "location_id": data.params["location_id"],
    }


async def put(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await locations.put_location(tx, data=data.body)


async def patch(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await locations.patch_location(tx, **_where(data), patch=data.body)


async def put_evse(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await locations.upsert_evse(
        tx, **_where(data), evse_uid=data.params["evse_uid"], evse=data.body, replace=True
    )


async def patch_evse(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await locations.upsert_evse(
        tx, **_where(data), evse_uid=data.params["evse_uid"], evse=data.body, replace=False
    )


async def put_connector(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await locations.upsert_connector(
        tx,
        **_where(data),
        evse_uid=data.params["evse_uid"],
        connector_id=data.params["connector_id"],
        connector=data.body,
        replace=True,
    )


async def patch_connector(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await locations.upsert_connector(
        tx,
        **_where(data),
        evse_uid=data.params["evse_uid"],
        connector_id=data.params["connector_id"],
        connector=data.body,
        replace=False,
    )


async def get_all(tx: AsyncSession, viewer: PartyRef, page: PageRequest) -> Page:
    return await locations.page_locations(
        tx,
        date_from=page.date_from,
        date_to=page.date_to,
        offset=page.offset,
        limit=page.limit,
    )
