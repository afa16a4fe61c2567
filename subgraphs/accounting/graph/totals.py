"""The totals of a CDR search in the graph (``subgraphs.accounting.totals`` adds them up)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum

import strawberry

from subgraphs.accounting import totals as adding


@strawberry.enum(description="A calendar period of the totals.")
class Period(Enum):
    DAY = strawberry.enum_value("DAY", description="A calendar day.")
    WEEK = strawberry.enum_value("WEEK", description="An ISO week, Monday to Sunday.")
    MONTH = strawberry.enum_value("MONTH", description="A calendar month.")


@strawberry.type(description="Sums over CDRs of one currency, exact as the CPOs wrote the figures.")
class CdrSums:
    currency: str = strawberry.field(description="ISO 4217: every amount here is in it.")
    count: int = strawberry.field(description="How many CDRs.")
    energy_kwh: Decimal = strawberry.field(description="Energy delivered (total_energy), kWh.")
    session_hours: Decimal = strawberry.field(description="Session time (total_time), hours.")
    charging_hours: Decimal = strawberry.field(
        description="Time charging: session time less parking time, hours."
    )
    parking_hours: Decimal = strawberry.field(
        description="Time not charging (total_parking_time), hours."
    )
    cost_excl_vat: Decimal = strawberry.field(description="total_cost.excl_vat, added up.")
    cost_incl_vat: Decimal = strawberry.field(
        description="total_cost.incl_vat of the CDRs that give it, added up."
    )
    cdrs_without_incl_vat: int = strawberry.field(
        description="CDRs whose total_cost has no incl_vat (left out of costInclVat)."
    )
    cdrs_price_mismatched: int = strawberry.field(
        description="CDRs whose total_cost the hub's price check found off their tariffs "
        "(priceCheck MISMATCH): their costs are added as the CPO stated them."
    )
    cdrs_unpriceable: int = strawberry.field(
        description="CDRs the hub could not price (priceCheck UNPRICEABLE)."
    )

    @classmethod
    def of(cls, currency: str, sums: adding.Sums) -> CdrSums:
        return cls(
            currency=currency,
            count=sums.count,
            energy_kwh=sums.energy_kwh,
            session_hours=sums.session_hours,
            charging_hours=sums.charging_hours,
            parking_hours=sums.parking_hours,
            cost_excl_vat=sums.cost_excl_vat,
            cost_incl_vat=sums.cost_incl_vat,
            cdrs_without_incl_vat=sums.without_incl_vat,
            cdrs_price_mismatched=sums.mismatched,
            cdrs_unpriceable=sums.unpriceable,
        )


@strawberry.type(description="The totals of one period, in one currency.")
class PeriodTotal:
    first_day: date = strawberry.field(description="The period's first day, in timeZone.")
    starts_at: datetime = strawberry.field(description="The instant it starts (UTC).")
    sums: CdrSums = strawberry.field(description="Its CDRs' sums.")


@strawberry.type(description="The totals of one Location, in one currency.")
class LocationTotal:
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    location_id: str = strawberry.field(description="The Location's id (as in its CDRs).")
    sums: CdrSums = strawberry.field(description="Its CDRs' sums.")


@strawberry.type(description="Totals of a CDR search, never summed across currencies.")
class CdrTotals:
    time_zone: str = strawberry.field(
        description="The zone the periods are calendar periods of: the Location's when the "
        "filter names one (and it has a time_zone), UTC otherwise."
    )
    period: Period = strawberry.field(description="The periods' length.")
    by_period: list[PeriodTotal] = strawberry.field(
        description="Each period with CDRs, earliest first; a currency per entry."
    )
    by_location: list[LocationTotal] = strawberry.field(
        description="Each Location with CDRs, by CPO and id; a currency per entry."
    )

    @classmethod
    def of(cls, found: adding.Totals) -> CdrTotals:
        return cls(
            time_zone=found.time_zone,
            period=Period[found.period.name],
            by_period=[
                PeriodTotal(
                    first_day=day,
                    starts_at=found.period_starts(day),
                    sums=CdrSums.of(currency, sums),
                )
                for (day, currency), sums in sorted(found.by_period.items())
            ],
            by_location=[
                LocationTotal(
                    country_code=cc,
                    party_id=pid,
                    location_id=location_id,
                    sums=CdrSums.of(currency, sums),
                )
                for (cc, pid, location_id, currency), sums in sorted(found.by_location.items())
            ],
        )
