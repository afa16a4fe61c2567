"""The identity providers the platform trusts: one issuer per eMSP, read from configuration.

An entry of ``INCAR_OIDC_ISSUERS`` (a JSON list)::

    {"issuer": "https://kc.example/realms/emsp-fi", "country_code": "FI", "party_id": "EMS",
     "audience": "https://api.incar.example", "token_uid_claim": "ocpi_token_uid",
     "algorithms": ["RS256"]}

``token_uid_claim`` defaults to ``ocpi_token_uid`` and ``algorithms`` to ``["RS256"]``
(Keycloak's default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

#: Signatures a verifier may accept: public-key algorithms only. An HMAC (HS*) algorithm would
#: let anyone holding the issuer's public key, which is public, forge tokens; ``none`` is no
#: signature at all.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
FIELDS = frozenset(
    {"issuer", "country_code", "party_id", "audience", "token_uid_claim", "algorithms"}
)


def is_safe_url(text: str) -> bool:
    """https, or http on loopback (tests, the demo): the platform's keys come from this URL,
    and over plain http anyone on the path could swap them."""
    url = urlsplit(text)
    return bool(url.hostname) and (
        url.scheme == "https" or (url.scheme == "http" and url.hostname in LOOPBACK_HOSTS)
    )


@dataclass(frozen=True)
class TrustedIssuer:
    """An eMSP's OpenID Connect issuer whose access tokens name that eMSP's drivers."""

    issuer: str
    country_code: str
    party_id: str
    audience: str
    token_uid_claim: str = "ocpi_token_uid"
    algorithms: frozenset[str] = field(default_factory=lambda: frozenset({"RS256"}))

    def __post_init__(self) -> None:
        if not is_safe_url(self.issuer):
            raise ValueError(f"issuer {self.issuer!r} must be an https URL (http on loopback)")
        url = urlsplit(self.issuer)
        if url.query or url.fragment:
            raise ValueError(f"issuer {self.issuer!r} must be a URL without query or fragment")
        if len(self.country_code) != 2 or not self.country_code.isalpha():
            raise ValueError(f"country_code {self.country_code!r} must be 2 letters")
        if len(self.party_id) != 3 or not self.party_id.isalnum():
            raise ValueError(f"party_id {self.party_id!r} must be 3 letters or digits")
        if not self.audience:
            raise ValueError("audience must not be empty")
        if not self.token_uid_claim:
            raise ValueError("token_uid_claim must not be empty")
        if not self.algorithms or not self.algorithms <= ASYMMETRIC_ALGORITHMS:
            allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
            raise ValueError(
                f"algorithms {sorted(self.algorithms)} must be some of the asymmetric {allowed}"
            )

    @property
    def emsp(self) -> tuple[str, str]:
        return self.country_code, self.party_id


def _entry(raw: Any, where: str) -> TrustedIssuer:
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a JSON object")
    unknown = set(raw) - FIELDS
    if unknown:
        raise ValueError(f"{where} has unknown fields {sorted(unknown)}")
    missing = {"issuer", "country_code", "party_id", "audience"} - set(raw)
    if missing:
        raise ValueError(f"{where} lacks {sorted(missing)}")
    texts = {key: value for key, value in raw.items() if key != "algorithms"}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise ValueError(f"{where}: {key} must be a string")
    algorithms = raw.get("algorithms", ["RS256"])
    if not isinstance(algorithms, list) or not all(isinstance(a, str) for a in algorithms):
        raise ValueError(f"{where}: algorithms must be a list of strings")
    try:
        return TrustedIssuer(
            issuer=texts["issuer"],
            country_code=texts["country_code"].upper(),
            party_id=texts["party_id"].upper(),
            audience=texts["audience"],
            token_uid_claim=texts.get("token_uid_claim", "ocpi_token_uid"),
            algorithms=frozenset(algorithms),
        )
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None


def parse_trusted_issuers(text: str) -> tuple[TrustedIssuer, ...]:
    """The issuers of a JSON list; ``ValueError`` names the entry and field that is wrong."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"is not valid JSON ({error})") from None
    if not isinstance(raw, list):
        raise ValueError("must be a JSON list of issuers")
    issuers = tuple(_entry(entry, f"entry {index}") for index, entry in enumerate(raw))
    seen: set[str] = set()
    for trusted in issuers:
        if trusted.issuer in seen:
            raise ValueError(f"issuer {trusted.issuer} is listed twice")
        seen.add(trusted.issuer)
    return issuers
