"""Reading the KPI rows: one CPO's hours in a range, and their totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from subgraphs.kpis.consumer import CDRS, ENERGY_KWH, SESSIONS_STARTED, STATUS_PREFIX, TABLE

#: The longest range one query may ask for: 31 days of hours (744 buckets at most).
MAX_RANGE = timedelta(days=31)


class RangeError(ValueError):
    """A range the graph refuses (BAD_USER_INPUT)."""


@dataclass
class Numbers:
    sessions_started: int = 0
    cdrs: int = 0
    energy_kwh: float = 0.0
    #: EVSE status changes by the status changed to.
    statuses: dict[str, int] = field(default_factory=dict)

    def add(self, measure: str, value: float) -> None:
        if measure == SESSIONS_STARTED:
            self.sessions_started += int(value)
        elif measure == CDRS:
            self.cdrs += int(value)
        elif measure == ENERGY_KWH:
            self.energy_kwh += value
        elif measure.startswith(STATUS_PREFIX):
            status = measure.removeprefix(STATUS_PREFIX)
            self.statuses[status] = self.statuses.get(status, 0) + int(value)


@dataclass
class Report:
    hours: list[tuple[datetime, Numbers]]
    totals: Numbers


def check_range(start: datetime, end: datetime) -> None:
    if start >= end:
        raise RangeError("from must be before to")
    if end - start > MAX_RANGE:
        raise RangeError(f"from and to may be at most {MAX_RANGE.days} days apart")


async def report(tx: AsyncSession, cpo: tuple[str, str], start: datetime, end: datetime) -> Report:
    """The hours of ``cpo`` from ``start`` (inclusive) to ``end`` (exclusive) that have any
    number, oldest first, and their totals."""
    check_range(start, end)
    rows = await tx.execute(
        sa.select(TABLE.c.hour, TABLE.c.measure, TABLE.c.value)
        .where(
            TABLE.c.country_code == cpo[0].upper(),
            TABLE.c.party_id == cpo[1].upper(),
            TABLE.c.hour >= start,
            TABLE.c.hour < end,
        )
        .order_by(TABLE.c.hour, TABLE.c.measure)
    )
    hours: dict[datetime, Numbers] = {}
    totals = Numbers()
    for hour, measure, value in rows:
        hours.setdefault(hour, Numbers()).add(measure, value)
        totals.add(measure, value)
    return Report(list(hours.items()), totals)
