"""Who a verified access token speaks for: a driver of one eMSP, known by an OCPI token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Driver:
    """A driver as their eMSP's identity provider vouches for them, until ``expires_at``."""

    issuer: str
    subject: str
    country_code: str
    party_id: str
    #: The uid of the driver's OCPI Token at their eMSP (what a START_SESSION names).
    token_uid: str
    expires_at: datetime
    scopes: frozenset[str]
    #: The app the driver logged in with (RFC 9068 ``client_id``, Keycloak ``azp``).
    client_id: str | None = None
