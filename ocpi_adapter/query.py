"""The query parameters the hub itself reads, parsed strictly and bounded.

The query goes to a receiver as it came (check 57); these are the few parameters the hub acts
on itself: pagination of the lists it serves, a token's ``type``, a ``response_url`` it
replaces. Each is read once, in one way, so both databases see the same values and the hub
never reads a different value than the receiver will: a parameter given twice is refused.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

from starlette.datastructures import QueryParams

from incar.timestamps import parse_timestamp
from ocpi_adapter.common_models import ABSOLUTE_URL, TokenType
from ocpi_adapter.errors import InvalidParameters

DIGITS: Final = re.compile(r"[0-9]{1,10}", re.ASCII)  # ASCII only: "²" is a digit to str
MAX_OFFSET: Final = 1_000_000_000  # beyond any list; keeps OFFSET within 32 bits everywhere
URL_MAX_LENGTH: Final = 255


def single(query: QueryParams, name: str) -> str | None:
    """The parameter's one value; None when absent or empty."""
    values = query.getlist(name)
    if len(values) > 1:
        raise InvalidParameters(f"{name} is given {len(values)} times")
    return values[0] if values and values[0] != "" else None


def count(query: QueryParams, name: str, *, default: int, maximum: int) -> int:
    """A non-negative integer of ASCII digits, at most ``maximum``."""
    value = single(query, name)
    if value is None:
        return default
    if DIGITS.fullmatch(value) is None or int(value) > maximum:
        raise InvalidParameters(
            f"{name} must be a whole number from 0 to {maximum}, got {value[:40]!r}"
        )
    return int(value)


def moment(query: QueryParams, name: str) -> datetime | None:
    value = single(query, name)
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise InvalidParameters(f"{name} is not an OCPI DateTime: {value[:40]!r}") from None


def token_type(query: QueryParams) -> str:
    """mod_tokens ``type``: RFID when absent."""
    value = single(query, "type")
    if value is None:
        return TokenType.RFID.value
    if value not in {t.value for t in TokenType}:
        raise InvalidParameters(f"type must be one of {[t.value for t in TokenType]}: {value!r}")
    return value


def response_url(query: QueryParams) -> str:
    value = single(query, "response_url")
    if value is None:
        raise InvalidParameters("response_url is required")
    if len(value) > URL_MAX_LENGTH or re.fullmatch(ABSOLUTE_URL, value) is None:
        raise InvalidParameters(f"response_url is not an absolute URL: {value[:60]!r}")
    return value
