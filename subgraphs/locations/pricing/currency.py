"""How many decimals a currency's minor unit has (ISO 4217), for rounding money.

OCPI leaves rounding to "applicable laws, contracts between the parties ... and the currency
used" (mod_tariffs, Tariff object): the hub rounds to the currency's minor unit. Only the
currencies whose minor unit is not a hundredth are listed; any other code has 2 decimals.
"""

from __future__ import annotations

from decimal import Decimal

_DECIMALS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX",
            "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}  # fmt: skip


def decimals(currency: str) -> int:
    return _DECIMALS.get(currency.upper(), 2)


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency: 0.01 EUR, 1 JPY, 0.001 KWD."""
    return Decimal(f"1e-{decimals(currency)}")
