"""Text as the index compares it: folded, split into words, measured by edit distance.

Folding is Unicode NFKD with the combining marks dropped, then case folding: "Töölö" and
"toolo" fold alike, "Straße" becomes "strasse", "ﬁ" becomes "fi". Every name is stored folded
and every query is folded the same way, so case and accents never count as typos.
"""

from __future__ import annotations

import re
import unicodedata

#: What separates words: anything that is not a letter or a digit (hyphens and dots included,
#: so "Josef-Rheinberger-Strasse" and "Josef Rheinberger Strasse" fold to the same words).
_SEPARATORS = re.compile(r"[^\w]+|_")
#: A house number as ``tokens`` gives it: digits, perhaps a letter, perhaps a range ("12",
#: "12a", "12-14", "31-33b").
HOUSENUMBER = re.compile(r"^\d{1,5}[a-z]?(-\d{1,5}[a-z]?)?$")
#: In folded text: a range ("12-14", "12 - 14", an en dash too), a number with its letter
#: ("12a", "7 b", but not the "a" of "12 amsterdam"), a word, or any other run of digits.
_TOKEN = re.compile(
    r"\d{1,5}[a-z]?\s*[-\u2010-\u2015]\s*\d{1,5}[a-z]?(?![\w])"
    r"|\d{1,5}(?:\s?[a-z](?![a-z\d]))?"
    r"|[^\W_]*[^\W\d_][^\W_]*|\d+"
)
_DASHES = re.compile(r"\s*[-\u2010-\u2015]\s*")


def _bare(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def fold(text: str) -> str:
    """Lower case, accents dropped, punctuation as single spaces."""
    return " ".join(_SEPARATORS.split(_bare(text))).strip()


def tokens(text: str) -> list[str]:
    """The folded words and numbers of ``text``, a house number's range or letter kept with
    it: "Yrjönkatu 12-14" gives ["yrjonkatu", "12-14"], "Erottajankatu 7 B" ["erottajankatu",
    "7b"]."""
    found = _TOKEN.findall(_bare(text))
    return [_DASHES.sub("-", token).replace(" ", "") for token in found]


def plain_tokens(text: str) -> list[str]:
    """``tokens`` with the accents kept (case folded, NFC): to tell "Misericórdia" from a
    "Misericordia" when the query has the accent."""
    found = _TOKEN.findall(unicodedata.normalize("NFC", text).casefold())
    return [_DASHES.sub("-", token).replace(" ", "") for token in found]


def housenumber_key(number: str) -> str:
    """A house number as compared: "12 A" and "12a" are "12a", "12 - 14" is "12-14"."""
    return "".join(tokens(number))


def number_range(key: str) -> tuple[int, int] | None:
    """The first and last number of a range key ("12-14" gives (12, 14)), else None."""
    first, dash, last = key.partition("-")
    if not dash:
        return None
    low, high = int(re.sub(r"\D", "", first)), int(re.sub(r"\D", "", last))
    return (low, high) if low <= high else None


def trigrams(word: str) -> set[str]:
    """The word's three-letter pieces (the FTS5 trigram tokenizer's terms)."""
    return {word[at : at + 3] for at in range(len(word) - 2)}


def distance(left: str, right: str, *, limit: int) -> int:
    """The optimal string alignment distance (insertions, deletions, substitutions and swaps of
    two neighbours each count 1), or ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(left) - len(right)) > limit:
        return limit + 1
    if left == right:
        return 0
    before: list[int] | None = None
    previous = list(range(len(right) + 1))
    for row, char in enumerate(left, start=1):
        current = [row] + [0] * len(right)
        for col, other in enumerate(right, start=1):
            cost = 0 if char == other else 1
            best = min(previous[col] + 1, current[col - 1] + 1, previous[col - 1] + cost)
            if before is not None and col > 1 and char == right[col - 2] and left[row - 2] == other:
                best = min(best, before[col - 2] + 1)
            current[col] = best
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return min(previous[-1], limit + 1)


def allowed_typos(length: int) -> int:
    """How many edits a name of ``length`` letters tolerates: none below 4 letters (too many
    short names are one letter apart), one up to 7, two from 8 on."""
    if length < 4:
        return 0
    return 1 if length < 8 else 2
