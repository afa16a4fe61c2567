"""The languages Valhalla writes directions in, and how a requested tag is matched to one.

Valhalla answers an unknown ``language`` silently in US English, so the tag is checked here
first: an exact tag (any case) is used as it is; a tag whose language Valhalla has in another
region ("fi", "de-AT", "pt-AO") gets that language's first locale below; any other tag is
refused, naming the list. The list is Valhalla 3.9.1's (its odin/locales, compiled into
pyvalhalla); ``tests/routing/test_languages.py`` asks the engine for each.
"""

from __future__ import annotations

import re

SUPPORTED: tuple[str, ...] = (
    "en-US", "en-GB", "en-AU", "ar-SA", "bg-BG", "ca-ES", "cs-CZ", "da-DK", "de-DE", "el-GR",
    "es-ES", "et-EE", "fi-FI", "fr-FR", "he-IL", "hi-IN", "hu-HU", "it-IT", "ja-JP", "ko-KR",
    "mn-MN", "nb-NO", "nl-NL", "pl-PL", "pt-PT", "pt-BR", "ro-RO", "ru-RU", "sk-SK", "sl-SI",
    "sv-SE", "tr-TR", "uk-UA", "vi-VN",
)  # fmt: skip
DEFAULT = "en-US"
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_BY_TAG = {tag.lower(): tag for tag in SUPPORTED}


class UnsupportedLanguage(ValueError):
    """A tag Valhalla has no directions for, or not a language tag at all."""


def resolve(tag: str) -> str:
    """The supported locale for ``tag``; UnsupportedLanguage if there is none."""
    if not _BCP47.match(tag):
        raise UnsupportedLanguage(f"language: {tag!r} is not a language tag such as fi-FI")
    exact = _BY_TAG.get(tag.lower())
    if exact is not None:
        return exact
    primary = tag.split("-", 1)[0].lower()
    for supported in SUPPORTED:
        if supported.split("-", 1)[0].lower() == primary:
            return supported
    raise UnsupportedLanguage(
        f"language: no directions in {tag!r}; supported: {', '.join(SUPPORTED)}"
    )
