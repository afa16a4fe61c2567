"""What the hub keeps of Tokens passing through it, via the sessions service."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from incar.documents import Outcome, Page
from ocpi_adapter import query as query_params
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.pagination import PageRequest
from ocpi_adapter.routing.operations import StoreInput
from subgraphs.sessions import service as sessions


async def put(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await sessions.put_token(tx, data=data.body)


async def patch(tx: AsyncSession, data: StoreInput) -> Outcome:
    return await sessions.patch_token(
        tx,
        country_code=data.params["country_code"],
        party_id=data.params["party_id"],
        uid=data.params["token_uid"],
        token_type=query_params.token_type(data.query),
        patch=data.body,
    )


async def get_all(tx: AsyncSession, viewer: PartyRef, page: PageRequest) -> Page:
    return await sessions.page_tokens(
        tx,
        date_from=page.date_from,
        date_to=page.date_to,
        offset=page.offset,
        limit=page.limit,
    )
