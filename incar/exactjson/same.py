"""Whether two parsed JSON texts say the same: the same value, whatever their spelling.

Key order, whitespace, escapes and the spelling of a number (``1.50`` and ``1.5``, ``1E2``
and ``100``) do not count; kinds do (``true`` is not ``1``, ``"1"`` is not ``1``). Numbers are
compared by the decimal value of their literals, so two that one float would hold alike
(``0.1`` and ``0.10000000000000000555``) still differ.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from incar.exactjson.values import ExactInt, Number


def _decimal(value: int | float) -> Decimal:
    if isinstance(value, Number | ExactInt):
        return Decimal(value.literal)
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, int | float) or isinstance(b, int | float):
        return (
            isinstance(a, int | float) and isinstance(b, int | float) and _decimal(a) == _decimal(b)
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return False
