"""The one error of the tariff calculator."""

from __future__ import annotations


class PricingError(ValueError):
    """A scenario or tariff the calculator cannot price; the message says what is wrong.

    The graph maps it to BAD_USER_INPUT: it is always the caller's input, never a fault here.
    """
