"""A JWS in compact form taken apart before anything in it is believed.

The header says which issuer's key to look for; nothing read here is trusted until the
signature over it has been verified with that key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from incar.identity.errors import AuthenticationError

#: Far above any real access token (Keycloak's with many roles are a few KiB): a longer one is
#: refused before it is decoded.
MAX_TOKEN_CHARS = 16_384
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class UnverifiedToken:
    text: str
    header: dict[str, Any]
    payload: dict[str, Any]


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        raise AuthenticationError(f"the token's {what} is not base64url-encoded JSON") from None
    if not isinstance(value, dict):
        raise AuthenticationError(f"the token's {what} is not a JSON object")
    return value


def split(token: str) -> UnverifiedToken:
    """Header and payload of a compact JWS, or a refusal saying why it is not one."""
    if not isinstance(token, str) or not token:
        raise AuthenticationError("no token")
    if len(token) > MAX_TOKEN_CHARS:
        raise AuthenticationError(f"the token is longer than {MAX_TOKEN_CHARS} characters")
    parts = token.split(".")
    if len(parts) == 5:
        raise AuthenticationError("encrypted tokens (JWE) are not accepted")
    if len(parts) != 3 or not all(_SEGMENT.fullmatch(part) for part in parts):
        raise AuthenticationError("the token is not a JWT (three base64url parts)")
    return UnverifiedToken(
        text=token,
        header=_json_object(parts[0], "header"),
        payload=_json_object(parts[1], "payload"),
    )
