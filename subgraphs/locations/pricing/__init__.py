"""The tariff calculator: what a charging session costs under an OCPI 2.2.1 Tariff.

One calculator for the graph's price estimates (``estimate``: a Tariff and a planned
``ChargingScenario``) and for accounting (``price_cdr``: a CDR's ChargingPeriods under the
tariffs it names). docs/pricing.md states the rules it follows where the spec is silent.
"""

from __future__ import annotations

from subgraphs.locations.pricing.cdr import CdrPrice, named_tariffs, price_cdr, reads_local_time
from subgraphs.locations.pricing.currency import decimals, minor_unit
from subgraphs.locations.pricing.errors import PricingError
from subgraphs.locations.pricing.estimate import (
    DimensionTotal,
    PriceEstimate,
    PriceLine,
    estimate,
)
from subgraphs.locations.pricing.scenario import ChargingScenario, Reservation
from subgraphs.locations.pricing.tariff import Dimension, number, timestamp
from subgraphs.locations.pricing.text import tariff_text

__all__ = [
    "CdrPrice",
    "ChargingScenario",
    "Dimension",
    "DimensionTotal",
    "PriceEstimate",
    "PriceLine",
    "PricingError",
    "Reservation",
    "decimals",
    "estimate",
    "minor_unit",
    "named_tariffs",
    "number",
    "price_cdr",
    "reads_local_time",
    "tariff_text",
    "timestamp",
]
