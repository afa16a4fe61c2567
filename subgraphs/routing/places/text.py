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
#: A house number: digits, perhaps a letter or a range ("12", "12a", "12-14").
HOUSENUMBER = re.compile(r"^\d{1,5}[a-z]?$")


def fold(text: str) -> str:
    """Lower case, accents dropped, punctuation as single spaces."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(_SEPARATORS.split(bare.casefold())).strip()


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return fold(text).split()


def housenumber_key(number: str) -> str:
    """A house number as compared: "12 A", "12a" and "12-a" all become "12a"."""
    return "".join(words(number))


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
