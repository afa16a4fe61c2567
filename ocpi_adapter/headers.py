"""Routing (OCPI-from/to) and trace (X-Request-ID, X-Correlation-ID) headers as values."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from ocpi_adapter.errors import InvalidParameters

TO_COUNTRY = "OCPI-to-country-code"
TO_PARTY = "OCPI-to-party-id"
FROM_COUNTRY = "OCPI-from-country-code"
FROM_PARTY = "OCPI-from-party-id"
REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"


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


@dataclass(frozen=True, slots=True)
class Trace:
    """The request's ids; a missing id is generated (policy, see docs/policies.md)."""

    request_id: str
    correlation_id: str

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> Trace:
        return cls(
            request_id=headers.get(REQUEST_ID) or new_id(),
            correlation_id=headers.get(CORRELATION_ID) or new_id(),
        )

    def as_headers(self) -> dict[str, str]:
        return {REQUEST_ID: self.request_id, CORRELATION_ID: self.correlation_id}

    def next_hop(self) -> Trace:
        """A forwarded request: new X-Request-ID, same X-Correlation-ID (transport_and_format)."""
        return Trace(request_id=new_id(), correlation_id=self.correlation_id)
