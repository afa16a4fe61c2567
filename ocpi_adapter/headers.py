"""Routing (OCPI-from/to) and trace (X-Request-ID, X-Correlation-ID) headers as values."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ocpi_adapter.errors import InvalidParameters

TO_COUNTRY = "OCPI-to-country-code"
TO_PARTY = "OCPI-to-party-id"
FROM_COUNTRY = "OCPI-from-country-code"
FROM_PARTY = "OCPI-from-party-id"
REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"

#: Characters of a trace id (policy): a command's correlation id is kept with its hub URL in a
#: column of 100, and every id is sent on to each receiver of a broadcast.
MAX_TRACE_ID_LENGTH = 100

RawHeaders = Iterable[tuple[bytes, bytes]]


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class PartyRef:
    """A (country_code, party_id) pair; CiStrings, so kept upper-cased for comparison."""

    country_code: str
    party_id: str

    @classmethod
    def of(cls, country_code: str, party_id: str) -> PartyRef:
        return cls(country_code.strip().upper(), party_id.strip().upper())

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id}"


def _pair(headers: Mapping[str, str], country: str, party: str) -> PartyRef | None:
    cc, pid = headers.get(country), headers.get(party)
    if not cc and not pid:
        return None
    if not cc or not pid:
        raise InvalidParameters(f"{country} and {party} must be given together")
    ref = PartyRef.of(cc, pid)
    if len(ref.country_code) != 2 or not 1 <= len(ref.party_id) <= 3:
        raise InvalidParameters(f"{country}/{party} must be a CiString(2)/CiString(3)")
    return ref


@dataclass(frozen=True, slots=True)
class Routing:
    sender: PartyRef | None
    receiver: PartyRef | None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> Routing:
        return cls(
            sender=_pair(headers, FROM_COUNTRY, FROM_PARTY),
            receiver=_pair(headers, TO_COUNTRY, TO_PARTY),
        )

    def as_headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.sender is not None:
            out[FROM_COUNTRY] = self.sender.country_code
            out[FROM_PARTY] = self.sender.party_id
        if self.receiver is not None:
            out[TO_COUNTRY] = self.receiver.country_code
            out[TO_PARTY] = self.receiver.party_id
        return out


def read_trace_id(raw: RawHeaders, name: str) -> str | None:
    """A trace id as its bytes arrived, or None if it is missing or empty (then generated).

    Servers hand header bytes on undecoded (Starlette would read them as latin-1); the hub's
    client sends strings as UTF-8. So an id is decoded as UTF-8 here, and one that would not go
    out as the very bytes that came in is refused (InvalidParameters, 2001): bytes that are not
    UTF-8, control characters (HTAB and C1 ones reach the hub), an id given twice.
    """
    key = name.lower().encode()
    values = [value for header, value in raw if header.lower() == key]
    if len(values) > 1:
        raise InvalidParameters(f"{name} is given {len(values)} times; one id is expected")
    if not values or not values[0]:
        return None
    try:
        text = values[0].decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameters(f"{name} is not valid UTF-8") from None
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise InvalidParameters(f"{name} contains control characters")
    if len(text) > MAX_TRACE_ID_LENGTH:
        raise InvalidParameters(f"{name} is longer than {MAX_TRACE_ID_LENGTH} characters")
    return text


def _usable_or_none(raw: RawHeaders, name: str) -> str | None:
    try:
        return read_trace_id(raw, name)
    except InvalidParameters:
        return None


@dataclass(frozen=True, slots=True)
class Trace:
    """The request's ids; a missing id is generated (policy, see docs/policies.md)."""

    request_id: str
    correlation_id: str

    @classmethod
    def parse(cls, raw: RawHeaders) -> Trace:
        """From a request's raw (ASGI) headers; InvalidParameters for an unusable id."""
        raw = list(raw)
        return cls(
            request_id=read_trace_id(raw, REQUEST_ID) or new_id(),
            correlation_id=read_trace_id(raw, CORRELATION_ID) or new_id(),
        )

    @classmethod
    def salvage(cls, raw: RawHeaders) -> Trace:
        """For the refusal of a request with an unusable id: its usable id echoed, the other
        generated (bytes the hub refused are not sent back)."""
        raw = list(raw)
        return cls(
            request_id=_usable_or_none(raw, REQUEST_ID) or new_id(),
            correlation_id=_usable_or_none(raw, CORRELATION_ID) or new_id(),
        )

    def as_headers(self) -> dict[str, str]:
        return {REQUEST_ID: self.request_id, CORRELATION_ID: self.correlation_id}

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """As ASGI response headers: UTF-8, so the echo is byte for byte what arrived."""
        return [
            (REQUEST_ID.lower().encode(), self.request_id.encode()),
            (CORRELATION_ID.lower().encode(), self.correlation_id.encode()),
        ]

    def next_hop(self) -> Trace:
        """A forwarded request: new X-Request-ID, same X-Correlation-ID (transport_and_format)."""
        return Trace(request_id=new_id(), correlation_id=self.correlation_id)
