"""What the hub keeps of CDRs passing through it, via the accounting service."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from incar.documents import Outcome, Page
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.pagination import PageRequest
from ocpi_adapter.routing.operations import StoreInput
from subgraphs.accounting import service as accounting


async def post(tx: AsyncSession, data: StoreInput) -> Outcome:
    """Policy: a CDR under a stored id with other content is refused (2001) before it is
    forwarded; the same CDR again is forwarded again (the CPO may be retrying a failed push)."""
    try:
        return await accounting.add_cdr(tx, data=data.body)
    except accounting.CdrConflict as conflict:
        raise InvalidParameters(f"body: {conflict}") from None


async def get_all(tx: AsyncSession, viewer: PartyRef, page: PageRequest) -> Page:
    return await accounting.page_cdrs(
        tx,
        party=(viewer.country_code, viewer.party_id),
        date_from=page.date_from,
        date_to=page.date_to,
        offset=page.offset,
        limit=page.limit,
    )
