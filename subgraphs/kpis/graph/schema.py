"""The kpis subgraph: a CPO's numbers per hour, from the KPI consumer's rows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from subgraphs.common import roots
from subgraphs.common.app import federation_schema
from subgraphs.common.arguments import CountryCode, PartyId
from subgraphs.common.context import GraphContext, Viewer, ViewerKind
from subgraphs.common.errors import Code, bad_input, error
from subgraphs.kpis import service


@strawberry.type(description="How many EVSE status changes ended in one status.")
class KpiStatusCount:
    status: str = strawberry.field(description="The OCPI EVSE status changed to.")
    count: int = strawberry.field(description="How many changes.")


def _statuses(numbers: service.Numbers) -> list[KpiStatusCount]:
    return [KpiStatusCount(status=s, count=n) for s, n in sorted(numbers.statuses.items())]


@strawberry.type(description="A CPO's numbers over a span of time.")
class KpiNumbers:
    sessions_started: int = strawberry.field(
        description="Sessions created at the hub (a Session's first PUT)."
    )
    cdrs: int = strawberry.field(description="CDRs received.")
    energy_kwh: float = strawberry.field(
        description="The energy of those CDRs, in kWh (their total_energy)."
    )
    evse_status_changes: list[KpiStatusCount] = strawberry.field(
        description="EVSE status changes, by the status changed to (statuses seen only)."
    )

    @classmethod
    def of(cls, numbers: service.Numbers) -> KpiNumbers:
        return cls(
            sessions_started=numbers.sessions_started,
            cdrs=numbers.cdrs,
            energy_kwh=numbers.energy_kwh,
            evse_status_changes=_statuses(numbers),
        )


@strawberry.type(description="One hour of a CPO's numbers.")
class KpiHour:
    hour: datetime = strawberry.field(
        description="The hour's start (UTC): the events the hub committed in that hour."
    )
    numbers: KpiNumbers = strawberry.field(description="What happened in that hour.")


@strawberry.type(description="A CPO's numbers over a range, hour by hour and in total.")
class Kpis:
    country_code: str = strawberry.field(description="The CPO's country code.")
    party_id: str = strawberry.field(description="The CPO's party id.")
    start: datetime = strawberry.field(name="from", description="The range's start, inclusive.")
    end: datetime = strawberry.field(name="to", description="The range's end, exclusive.")
    hours: list[KpiHour] = strawberry.field(
        description="The hours of the range with any number, oldest first (others are zero)."
    )
    totals: KpiNumbers = strawberry.field(description="The sums over the range.")


def _utc(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def check_viewer(viewer: Viewer, cpo: tuple[str, str]) -> None:
    """A party sees its own KPIs; nobody else sees any (the project has no operator role)."""
    if viewer.kind is ViewerKind.ANONYMOUS:
        raise error(Code.UNAUTHENTICATED, "use your OCPI credentials token")
    if viewer.kind is not ViewerKind.PARTY or viewer.party != cpo:
        raise error(Code.FORBIDDEN, "a party sees its own KPIs only")


@strawberry.type(description=roots.QUERY)
class Query:
    @strawberry.field(
        description="A CPO's KPIs from `from` to `to` (at most 31 days): per hour and in "
        "total. Only the CPO itself may ask; they count events as the hub committed them."
    )
    async def kpis(
        self,
        info: Info[GraphContext, None],
        country_code: CountryCode,
        party_id: PartyId,
        start: Annotated[
            datetime,
            strawberry.argument(name="from", description="The range's start (inclusive)."),
        ],
        end: Annotated[
            datetime, strawberry.argument(name="to", description="The range's end (exclusive).")
        ],
    ) -> Kpis:
        cpo = (country_code.upper(), party_id.upper())
        check_viewer(info.context.viewer, cpo)
        start, end = _utc(start), _utc(end)
        try:
            service.check_range(start, end)
        except service.RangeError as problem:
            raise bad_input(str(problem)) from None
        async with info.context.runtime.db.transaction() as tx:
            found = await service.report(tx, cpo, start, end)
        return Kpis(
            country_code=cpo[0],
            party_id=cpo[1],
            start=start,
            end=end,
            hours=[KpiHour(hour=h, numbers=KpiNumbers.of(n)) for h, n in found.hours],
            totals=KpiNumbers.of(found.totals),
        )


schema = federation_schema(query=Query)
