"""The hub's check of a CDR's price in the graph (docs/pricing.md, "Checking a CDR's price"):
stored with the CDR when it arrived, shown and searched here, never recomputed."""

from __future__ import annotations

from enum import Enum

import strawberry

from subgraphs.accounting.models import Amount
from subgraphs.accounting.models import PriceCheck as Checked
from subgraphs.accounting.models import PriceCheckStatus as Status
from subgraphs.common.money import Price


@strawberry.enum(description="What the hub's price check of a CDR found.")
class PriceCheckStatus(Enum):
    OK = strawberry.enum_value(
        "OK", description="total_cost is the calculated price, within one minor unit."
    )
    MISMATCH = strawberry.enum_value(
        "MISMATCH", description="total_cost differs from the calculated price by more."
    )
    UNPRICEABLE = strawberry.enum_value(
        "UNPRICEABLE", description="The hub could not price it (an unknown tariff, ...)."
    )

    @property
    def stored(self) -> Status:
        return Status[self.name]


def _price(amount: Amount | None) -> Price | None:
    if amount is None:
        return None
    incl = amount.incl_vat
    return Price(excl_vat=float(amount.excl_vat), incl_vat=None if incl is None else float(incl))


@strawberry.type(
    description="The hub's check of a CDR's total_cost against the tariffs it carries or "
    "names, made when the CDR arrived: information, never a reason it was refused."
)
class PriceCheck:
    status: PriceCheckStatus = strawberry.field(description="What the check found.")
    reason: str | None = strawberry.field(
        description="Why it is unpriceable, or what differs in a mismatch; null when OK."
    )
    calculated: Price | None = strawberry.field(
        description="The hub's price of the CDR; null when unpriceable (inclVat null when "
        "its tariffs give no VAT)."
    )
    difference: Price | None = strawberry.field(
        description="total_cost minus calculated, on each side both state; null when unpriceable."
    )

    @classmethod
    def of(cls, checked: Checked) -> PriceCheck:
        return cls(
            status=PriceCheckStatus[checked.status.name],
            reason=checked.reason,
            calculated=_price(checked.calculated),
            difference=_price(checked.difference),
        )


@strawberry.input(description="CDRs by the hub's check of their price.")
class PriceCheckFilter:
    status: list[PriceCheckStatus] = strawberry.field(
        description="Its status is one of these (a CDR stored before the check existed "
        "matches none)."
    )

    def statuses(self) -> frozenset[Status]:
        return frozenset(given.stored for given in self.status)
