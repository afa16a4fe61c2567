"""Joining peer endpoint URLs with path suffixes, tolerant of trailing slashes (check 57), and
telling whether a peer's URL is the hub's own."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import unquote, urlsplit


def join(base: str, suffix: str, query: str = "") -> str:
    suffix = suffix.lstrip("/")
    url = base.rstrip("/") + ("/" + suffix if suffix else "")
    if not suffix and base.endswith("/"):
        url = base  # keep the peer's own spelling of its endpoint
    return f"{url}?{query}" if query else url


_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalised(url: str) -> tuple[str, str, int, str] | None:
    """(scheme, host, port, path) as compared: lower case, default port filled in, the path
    percent-decoded with dot segments, repeated and trailing slashes removed; None for a URL
    that is not absolute http(s)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:  # a port that is not a number or out of range
        return None
    path = posixpath.normpath("/" + re.sub("/+", "/", unquote(parts.path)).strip("/"))
    return scheme, parts.hostname.rstrip("."), port, path.rstrip("/")


def under(url: str, base: str) -> bool:
    """Whether ``url`` is ``base`` or a URL below it (by ``normalised``): a peer URL that leads
    to the hub itself when ``base`` is the hub's own base URL."""
    target, root = normalised(url), normalised(base)
    if target is None or root is None or target[:3] != root[:3]:
        return False
    return target[3] == root[3] or target[3].startswith(root[3] + "/")
