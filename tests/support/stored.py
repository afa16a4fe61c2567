"""What the hub under test holds in its tables: every document, command and hub URL.

Tests of refusals assert that nothing at all was stored, whoever could have seen it; GET All
shows only what one role may see.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import SQLModel, select

from ocpi_adapter.routing.models import Callback
from subgraphs.accounting.ledger.models import LedgerEntry, LedgerTreeHead
from subgraphs.accounting.models import Cdr
from subgraphs.locations.models import Location, Tariff
from subgraphs.sessions.models import Command, Session, Token
from tests.support.hub import HubUnderTest

TABLES: tuple[type[SQLModel], ...] = (
    Location,
    Tariff,
    Session,
    Token,
    Cdr,
    LedgerEntry,
    LedgerTreeHead,
    Command,
    Callback,
)


async def row_counts(hub: HubUnderTest) -> dict[str, int]:
    """Rows per table, only the tables that have any."""
    counts: dict[str, int] = {}
    async with hub.hub.db.transaction() as db:
        for table in TABLES:
            count = (await db.execute(select(func.count()).select_from(table))).scalar_one()
            if count:
                counts[str(table.__tablename__)] = int(count)
    return counts
