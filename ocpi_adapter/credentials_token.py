"""Credentials tokens in the Authorization header: ``Token base64(token)``, raw for legacy peers."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets


def generate() -> str:
    """A new credentials token: 43 printable, non-whitespace ASCII characters (string(64))."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """Tokens the hub issues are stored as digests only; this is the lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()


def authorization(token: str, *, legacy_raw: bool = False) -> str:
    if legacy_raw:
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode()).decode("ascii")


def candidates(header: str | None) -> tuple[str | None, str | None]:
    """(decoded, raw) readings of an Authorization header; either may be None.

    The decoded reading is the 2.2.1 one; the raw reading only counts for platforms flagged as
    legacy (2.1.1/2.2 peers that do not Base64-encode), which the caller decides.
    """
    if not header:
        return None, None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return None, None
    decoded: str | None = None
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
        if text and all(0x21 <= ord(c) <= 0x7E for c in text):
            decoded = text
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = None
    return decoded, value
