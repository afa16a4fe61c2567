"""OCPI's Price in the graph, one type for every subgraph that shows an amount (a session's
cost so far, a CDR's costs): composition merges it, so it is shareable."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import strawberry


@strawberry.federation.type(shareable=True, description="An amount of money (OCPI Price).")
class Price:
    excl_vat: float = strawberry.field(description="Excluding VAT.")
    incl_vat: float | None = strawberry.field(description="Including VAT, if known.")

    @classmethod
    def of(cls, value: Any) -> Price | None:
        if not isinstance(value, Mapping) or "excl_vat" not in value:
            return None
        incl = value.get("incl_vat")
        return cls(
            excl_vat=float(value["excl_vat"]), incl_vat=None if incl is None else float(incl)
        )
