"""OCPI DateTime values (types.asciidoc): RFC 3339 in UTC, the ``Z`` optional on input."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(value: str) -> datetime:
    """Parses an OCPI DateTime; one without a zone is UTC, as the spec says."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime | None = None) -> str:
    """An OCPI DateTime in UTC with millisecond precision and a ``Z`` suffix."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
