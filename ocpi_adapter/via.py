"""The hub's mark on every request it sends: a ``Via`` element (RFC 9110, section 7.6.3).

Via is the header HTTP intermediaries add to a request they pass on, "to avoid forwarding
loops": each appends ``protocol received-by`` and keeps what came before. The hub appends
``1.1 incar-<pseudonym>`` to every request it sends (forwarded or its own), so a request that
comes back to the hub, through whatever alias or proxy, is recognised and refused
(middleware/loop_guard.py).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from ocpi_adapter.urls import normalised

#: The received-protocol of the hub's element: peers talk HTTP/1.1 to it (uvicorn).
PROTOCOL = "1.1"
#: An incoming Via longer than this is not passed on (only the hub's own element is sent).
MAX_PASSED_ON = 1000

_COMMENT = re.compile(r"\([^()]*\)")


def pseudonym(base_url: str) -> str:
    """``incar-`` and 16 hex digits of the SHA-256 of the hub's public base URL.

    Derived from the URL peers use, so every process of one installation (several behind one
    address) agrees, two hubs differ, and no internal host name is given away.
    """
    parts = normalised(base_url)
    key = f"{parts[0]}://{parts[1]}:{parts[2]}{parts[3]}" if parts else base_url.strip()
    return "incar-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def element(name: str) -> str:
    """The hub's own Via element, e.g. ``1.1 incar-0123456789abcdef``."""
    return f"{PROTOCOL} {name}"


def received_by(via: str) -> list[str]:
    """The received-by of each element of a Via value (comments and protocols left out)."""
    names = []
    for part in _COMMENT.sub(" ", via).split(","):
        words = part.split()
        if len(words) >= 2:
            names.append(words[1].lower())
    return names


def has_passed(via: str, name: str) -> bool:
    """Whether a request with this Via has already passed the hub called ``name``."""
    return name.lower() in received_by(via)


def passable(raw: bytes) -> str | None:
    """The incoming Via as the hub can send it on unchanged (the client encodes UTF-8), or
    None: not UTF-8, control characters, or longer than MAX_PASSED_ON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or len(text) > MAX_PASSED_ON:
        return None
    if any(unicodedata.category(char) == "Cc" for char in text):
        return None
    return text


def appended(incoming: str | None, own: str) -> str:
    """What the hub sends: the incoming Via, if any, with its own element appended."""
    return f"{incoming}, {own}" if incoming else own
