"""The ids in a request's path, read strictly before anything is routed.

A hub forwards the path as it came (check 21), so a segment must mean the same to every
receiver: one that a receiver could read as another path (``.``, ``..``, an encoded ``/`` or
``\\``) is refused (hub policy; CiString allows dots, but never a whole segment of them), and so
is an id that OCPI's types do not allow: CiString(n) is printable ASCII of at most n characters
(a country code 2, a party id 3, every other id 36), which also keeps NUL and other control
characters out of both databases.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote

from ocpi_adapter.errors import InvalidParameters

CISTRING: Final = re.compile(r"[\x20-\x7e]*")
LENGTHS: Final = {"country_code": 2, "party_id": 3}
ID_LENGTH: Final = 36  # location_id, evse_uid, connector_id, tariff_id, session_id, token_uid
DOT_SEGMENTS: Final = frozenset({".", ".."})
_ENCODED_SEPARATOR: Final = re.compile(r"%(2f|5c)", re.IGNORECASE)


def segments(suffix: str) -> tuple[str, ...]:
    """The path after a module endpoint, split on "/" and then percent-decoded (an id "A|1"
    arrives as "A%7C1" and is the id of the body and of what the hub stores)."""
    raw = suffix.strip("/")
    if not raw:
        return ()
    parts = []
    for part in raw.split("/"):
        if _ENCODED_SEPARATOR.search(part) or "\\" in part:
            raise InvalidParameters(
                f"path segment {part!r} holds an encoded '/' or a '\\': a receiver could read "
                "it as another path (hub policy)"
            )
        try:
            decoded = unquote(part, errors="strict")
        except UnicodeDecodeError:
            raise InvalidParameters(f"path segment {part!r} is not UTF-8") from None
        if decoded in DOT_SEGMENTS:
            raise InvalidParameters(
                f"path segment {part!r} is a dot segment: a receiver could read the path as "
                "another one (hub policy)"
            )
        parts.append(decoded)
    return tuple(parts)


def check_ids(params: dict[str, str]) -> None:
    """Every id the path names is a CiString of its length (types.asciidoc)."""
    for name, value in params.items():
        limit = LENGTHS.get(name, ID_LENGTH)
        if CISTRING.fullmatch(value) is None:
            raise InvalidParameters(f"{name} {value!r} is not a CiString (printable ASCII only)")
        if len(value) > limit:
            raise InvalidParameters(f"{name} is longer than {limit} characters: {value[:40]!r}")
