"""The checks a signature does not make: what the token is, for whom, and for how long.

A JOSE library's decode only proves who signed the bytes; every check below is the platform's
own, each failing with the reason a person can act on.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from incar.identity.errors import AuthenticationError
from incar.identity.issuers import ASYMMETRIC_ALGORITHMS, TrustedIssuer

#: OCPI 2.2.1 Token.uid is a CiString(36).
MAX_TOKEN_UID_CHARS = 36


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(payload: dict[str, Any], claim: str) -> float | None:
    value = payload.get(claim)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AuthenticationError(f"claim {claim} is not a number of seconds")
    return float(value)


def _string(payload: dict[str, Any], claim: str) -> str:
    value = payload.get(claim)
    if value is None:
        raise AuthenticationError(f"the token has no {claim} claim")
    if not isinstance(value, str) or not value:
        raise AuthenticationError(f"claim {claim} is not a non-empty string")
    return value


def algorithm(header: dict[str, Any]) -> str:
    """The header's ``alg`` if it is an asymmetric signature at all (issuer's list: later)."""
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise AuthenticationError("the token's header has no alg")
    if alg.lower() == "none":
        raise AuthenticationError("alg none is not allowed")
    if alg not in ASYMMETRIC_ALGORITHMS:
        raise AuthenticationError(f"alg {alg} is not allowed (asymmetric signatures only)")
    if "crit" in header:
        # RFC 7515, 4.1.11: extensions a recipient does not understand make the token invalid.
        raise AuthenticationError("the token's header names critical extensions (crit)")
    return alg


def issuer(payload: dict[str, Any], trusted: dict[str, TrustedIssuer]) -> TrustedIssuer:
    """The configured issuer the token claims to come from; nothing else is ever asked."""
    iss = payload.get("iss")
    if not isinstance(iss, str):
        raise AuthenticationError("the token has no iss claim")
    found = trusted.get(iss)
    if found is None:
        raise AuthenticationError(f"issuer {iss} is not trusted")
    return found


def access_token_type(header: dict[str, Any], payload: dict[str, Any]) -> None:
    """An access token: RFC 9068's header ``typ`` or Keycloak's payload ``typ: Bearer``.

    An ID token is signed by the same key and names the same user, but it tells a client who
    logged in; it was never meant for an API, and its audience is the client.
    """
    typ = header.get("typ")
    media = typ.lower().removeprefix("application/") if isinstance(typ, str) else None
    if media == "at+jwt":
        return
    if payload.get("typ") == "Bearer" and media in (None, "jwt"):
        return
    if payload.get("typ") == "ID" or "nonce" in payload or "at_hash" in payload:
        raise AuthenticationError("an ID token is not an access token")
    raise AuthenticationError(
        f"the token is not an access token (header typ {typ!r}, payload typ "
        f"{payload.get('typ')!r}; expected at+jwt, or Keycloak's typ Bearer)"
    )


def audience(payload: dict[str, Any], expected: str) -> None:
    aud = payload.get("aud")
    listed = [aud] if isinstance(aud, str) else aud
    if not isinstance(listed, list) or not all(isinstance(item, str) for item in listed):
        raise AuthenticationError("the token has no aud claim")
    if expected not in listed:
        raise AuthenticationError(f"audience {listed} does not include {expected}")


def validity(payload: dict[str, Any], *, now: float, leeway: float) -> datetime:
    """When the token expires; refused if it has, or is not valid yet, beyond ``leeway``."""
    exp = _number(payload, "exp")
    if exp is None:
        raise AuthenticationError("the token has no exp claim")
    if now >= exp + leeway:
        raise AuthenticationError(f"token expired at {_when(exp)}")
    nbf = _number(payload, "nbf")
    if nbf is not None and nbf > now + leeway:
        raise AuthenticationError(f"token is not valid before {_when(nbf)}")
    iat = _number(payload, "iat")
    if iat is not None and iat > now + leeway:
        raise AuthenticationError(f"token was issued in the future, at {_when(iat)}")
    return datetime.fromtimestamp(exp, UTC)


def subject(payload: dict[str, Any]) -> str:
    return _string(payload, "sub")


def token_uid(payload: dict[str, Any], claim: str) -> str:
    uid = _string(payload, claim)
    if len(uid) > MAX_TOKEN_UID_CHARS:
        raise AuthenticationError(f"claim {claim} is longer than an OCPI token uid (36)")
    return uid


def client_id(payload: dict[str, Any]) -> str | None:
    value = payload.get("client_id", payload.get("azp"))
    return value if isinstance(value, str) else None


def scopes(payload: dict[str, Any]) -> frozenset[str]:
    scope = payload.get("scope")
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()
