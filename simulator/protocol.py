"""OCPI 2.2.1 wire vocabulary as the simulated back-offices speak it.

The simulator deliberately does not import the hub's ``ocpi_adapter``: it plays independent
platforms, and a second, separate reading of the spec is what makes it useful against the hub.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

VERSION = "2.2.1"

TO_COUNTRY = "OCPI-to-country-code"
TO_PARTY = "OCPI-to-party-id"
FROM_COUNTRY = "OCPI-from-country-code"
FROM_PARTY = "OCPI-from-party-id"
REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"

SUCCESS = 1000
CLIENT_ERROR = 2000
INVALID_PARAMETERS = 2001
UNKNOWN_LOCATION = 2003
UNKNOWN_TOKEN = 2004

SENDER = "SENDER"
RECEIVER = "RECEIVER"


def new_id() -> str:
    return str(uuid.uuid4())


def timestamp(moment: datetime) -> str:
    """An OCPI DateTime: UTC, milliseconds, ``Z`` suffix (24 characters of the allowed 25)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_timestamp(value: str) -> datetime:
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def authorization(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode("ascii")


def token_of(header: str | None) -> str | None:
    """The credentials token in an ``Authorization: Token base64(t)`` header, if well formed."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "token" or not value.strip():
        return None
    try:
        return base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass(frozen=True, slots=True)
class PartyRef:
    """A (country_code, party_id) pair, upper-cased since both are CiStrings."""

    country_code: str
    party_id: str

    @classmethod
    def of(cls, country_code: str, party_id: str) -> PartyRef:
        return cls(country_code.upper(), party_id.upper())

    @classmethod
    def from_headers(cls, headers: Any) -> PartyRef | None:
        cc, pid = headers.get(FROM_COUNTRY), headers.get(FROM_PARTY)
        return cls.of(cc, pid) if cc and pid else None

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id}"


def envelope(
    data: Any = None, *, status: int = SUCCESS, message: str | None = None, now: datetime
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if data is not None:
        body["data"] = data
    body["status_code"] = status
    if message:
        body["status_message"] = message
    body["timestamp"] = timestamp(now)
    return body


def routing_headers(sender: PartyRef, receiver: PartyRef | None) -> dict[str, str]:
    headers = {FROM_COUNTRY: sender.country_code, FROM_PARTY: sender.party_id}
    if receiver is not None:
        headers[TO_COUNTRY] = receiver.country_code
        headers[TO_PARTY] = receiver.party_id
    return headers
