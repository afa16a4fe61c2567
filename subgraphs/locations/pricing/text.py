"""The tariff's alternative text in the driver's language."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from subgraphs.locations.pricing.tariff import DisplayText, parse_alt_text


def _primary(language: str) -> str:
    """The primary subtag, lower case: "fi-FI" and "fi_FI" are "fi" (DisplayText languages are
    ISO 639-1 codes, so a region or script in the preference cannot match anyway)."""
    return language.replace("_", "-").split("-")[0].strip().lower()


def choose_text(texts: Sequence[DisplayText], languages: Sequence[str]) -> str | None:
    if not texts:
        return None
    for wanted in [*map(_primary, languages), "en"]:
        for text in texts:
            if _primary(text.language) == wanted:
                return text.text
    return texts[0].text


def tariff_text(tariff: Mapping[str, Any], languages: Sequence[str]) -> str | None:
    """``tariff_alt_text`` in the first of the driver's ``languages`` it has, else English,
    else its first text; None when the tariff has none."""
    return choose_text(parse_alt_text(tariff.get("tariff_alt_text")), languages)
