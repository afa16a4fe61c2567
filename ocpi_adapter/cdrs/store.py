"""What the hub keeps of CDRs passing through it, via the accounting service."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from incar.documents import Outcome, Page
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.ledger import headers as ledger_headers
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


async def posted_headers(tx: AsyncSession, data: StoreInput) -> Mapping[str, str]:
    """The ledger's headers of a posted CDR, to its eMSP and back to its CPO."""
    return await ledger_headers.of_cdr(tx, data.body)


async def page_headers(tx: AsyncSession, page: Page) -> Mapping[str, str]:
    return await ledger_headers.of_page(tx, page)
