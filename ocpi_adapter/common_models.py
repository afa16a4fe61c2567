"""OCPI 2.2.1 types shared by several modules (types.asciidoc) and the base of every model.

String types are written as the spec tables write them: ``Annotated[str, CiString(36)]`` for
CiString(36), ``Annotated[str, String(255)]`` for string(255). TokenType and ProfileType are
defined here, not in their chapters' packages, because locations, cdrs, sessions and tokens all
use them and the chapters' packages would otherwise import each other in a circle; the tokens
and sessions packages re-export them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    Strict,
    StringConstraints,
)
from pydantic_core import PydanticCustomError

from incar.timestamps import format_timestamp, parse_timestamp

PRINTABLE_ASCII: Final = r"^[\x20-\x7e]*$"
"""CiString: "Only printable ASCII allowed"."""

PRINTABLE_TEXT: Final = r"^[^\x00-\x1f\x7f-\x9f]*$"
"""string: "Only printable UTF-8 allowed" (no control characters)."""

ABSOLUTE_URL: Final = r"^[A-Za-z][A-Za-z0-9+.\-]*://[\x21-\x7e]+$"
"""URL: an absolute URI (w3.org URI spec), ASCII without spaces."""

OCPI_DATETIME_ERROR: Final = "ocpi_datetime"
OCPI_RULE_ERROR: Final = "ocpi_rule"


def CiString(max_length: int) -> StringConstraints:
    """CiString(n): case-insensitive, printable ASCII, at most n characters."""
    return StringConstraints(strict=True, max_length=max_length, pattern=PRINTABLE_ASCII)


def String(max_length: int, pattern: str = PRINTABLE_TEXT) -> StringConstraints:
    """string(n): printable UTF-8, at most n characters; ``pattern`` where the spec has a regex."""
    return StringConstraints(strict=True, max_length=max_length, pattern=pattern)


def rule_error(message: str, field: str | None = None) -> PydanticCustomError:
    """A cross-field rule of the spec failed; ``field`` is appended to the error's path."""
    return PydanticCustomError(OCPI_RULE_ERROR, message, {"field": field} if field else None)


def _parse_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError:
            pass
    if isinstance(value, datetime):  # built in code rather than parsed from JSON
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    raise PydanticCustomError(OCPI_DATETIME_ERROR, "not an OCPI DateTime")


DateTime = Annotated[
    datetime,
    PlainValidator(_parse_datetime),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]
"""DateTime: parsed to an aware UTC datetime; written back with millisecond precision."""

URL = Annotated[str, String(255, ABSOLUTE_URL)]
Integer = Annotated[int, Strict()]
Number = Annotated[float, Strict()]
"""number: a JSON number (an int is accepted, a string or boolean is not)."""
Boolean = Annotated[bool, Strict()]
LanguageCode = Annotated[str, String(2)]


class OcpiModel(BaseModel):
    """Base of every OCPI object: unknown fields are ignored, as peers send vendor fields."""

    model_config = ConfigDict(extra="ignore")


class DisplayText(OcpiModel):
    """types.asciidoc, DisplayText class."""

    language: LanguageCode
    text: Annotated[str, String(512)]


class Price(OcpiModel):
    """types.asciidoc, Price class."""

    excl_vat: Number
    incl_vat: Number | None = None


class TokenType(StrEnum):
    """mod_tokens.asciidoc, TokenType enum."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class ProfileType(StrEnum):
    """mod_sessions.asciidoc, ProfileType enum."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"
