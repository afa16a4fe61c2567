"""OCPI DateTime values (types.asciidoc): RFC 3339 in UTC, the ``Z`` optional on input."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

# types.asciidoc lists the only allowed DateTime patterns: no offsets ("+00:00 is not the same
# as UTC"), an optional Z, optional fractional seconds, at most 25 characters.
_DATETIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?", re.ASCII
)
DATETIME_MAX_LENGTH: Final = 25


def parse_timestamp(value: str) -> datetime:
    """Parses an OCPI DateTime; one without a zone is UTC, as the spec says.

    Anything else (an offset, another ISO form, a year 0) is a ValueError: with no offsets
    every value is a plain UTC moment of years 1 to 9999, which both databases can hold.
    """
    if len(value) > DATETIME_MAX_LENGTH or _DATETIME.fullmatch(value) is None:
        raise ValueError(f"not an OCPI DateTime: {value!r}")
    moment = datetime.fromisoformat(value.removesuffix("Z"))
    return moment.replace(tzinfo=UTC)


def format_timestamp(moment: datetime | None = None) -> str:
    """An OCPI DateTime in UTC with millisecond precision and a ``Z`` suffix."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
