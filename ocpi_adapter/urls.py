"""Joining peer endpoint URLs with path suffixes, tolerant of trailing slashes (check 57)."""

from __future__ import annotations


def join(base: str, suffix: str, query: str = "") -> str:
    suffix = suffix.lstrip("/")
    url = base.rstrip("/") + ("/" + suffix if suffix else "")
    if not suffix and base.endswith("/"):
        url = base  # keep the peer's own spelling of its endpoint
    return f"{url}?{query}" if query else url
