"""Geocoding: from a line of text to places of the map, best first.

A query is folded and cut into tokens (``text.tokens``: words, and numbers with their range or
letter). Candidate names come from the FTS5 trigram index, ranked by BM25: first through each
word's rare trigrams, then, when none of those answers well, through all of them. Each
candidate is scored in Python: the run of tokens nearest its name (optimal string alignment
distance, within ``text.allowed_typos``), whether the other words name its city or the other
numbers its postcode, and, for a street, whether a number of the query is one of its houses.
So "Städtle 43, 9490 Vaduz", "43 stadtle vaduz", "Vaduz, Städtle 43" and "Stadtel 43" find
the same house. docs/routing-places.md has the weights.
"""

from __future__ import annotations

import math
import sqlite3
import unicodedata
from dataclasses import dataclass, replace

from subgraphs.routing.places import checks
from subgraphs.routing.places.geometry import Point, distance_m
from subgraphs.routing.places.text import (
    HOUSENUMBER,
    allowed_typos,
    distance,
    fold,
    number_range,
    plain_tokens,
    tokens,
    trigrams,
)
from subgraphs.routing.places.types import MatchKind, Place, PlaceKind

#: Candidates read from the trigram index per query, before scoring.
_CANDIDATES = 100
#: Trigrams asked for per word (see ``_rarest``), and the share of the names past which a
#: trigram is too common to ask for.
_PER_WORD = 4
_COMMON = 0.05
#: A best score from which the rare trigrams' candidates are taken to have found the place.
_SURE = 0.9
#: Each edit costs this much of a name's score.
_PER_TYPO = 0.1
_FOLDED = 0.99
#: Kind weights: a house when a number was asked, then towns, streets, other names.
_KIND_WEIGHT = {
    PlaceKind.ADDRESS: 1.0,
    PlaceKind.LOCALITY: 0.99,
    PlaceKind.STREET: 0.98,
    PlaceKind.POI: 0.96,
}
#: A house found for a number its range holds, or for a range's first number.
_NEAR_NUMBER = 0.95
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_NEAR_WEIGHT = 0.1
_NEAR_SCALE_KM = 5.0


@dataclass(frozen=True, slots=True)
class _Query:
    text: str
    #: Words and numbers in their order: a name may hold a number ("Rua 25 de Abril").
    tokens: list[str]
    #: The same with their accents, when they align one to one (else None).
    plain: list[str] | None

    @property
    def words(self) -> list[str]:
        return [token for token in self.tokens if not HOUSENUMBER.match(token)]

    @property
    def numbers(self) -> list[str]:
        return [token for token in self.tokens if HOUSENUMBER.match(token)]

    @property
    def size(self) -> int:
        return sum(len(token) for token in self.tokens)


@dataclass(frozen=True, slots=True)
class _Candidate:
    id: int
    kind: PlaceKind
    name: str
    folded: str
    category: str | None
    city: str | None
    postcode: str | None
    lat: float
    lon: float
    osm: str | None


@dataclass(frozen=True, slots=True)
class _NameMatch:
    typos: int
    start: int
    end: int


def geocode(
    db: sqlite3.Connection, text: str, *, near: Point | None = None, limit: int = 5
) -> list[Place]:
    """Places of the map that ``text`` names, best first; an empty list when none does."""
    query = _parse(checks.query(text))
    checks.limit(limit, most=checks.MAX_LIMIT)
    if near is not None:
        checks.coordinates(*near)
    if not query.words:
        return []
    best: dict[tuple[object, ...], Place] = {}
    tried: set[int] = set()
    top = 0.0
    # First the candidates of each word's rare trigrams; only when none of them answers well
    # (a typo spoilt the rare ones), those of all its trigrams, common ones included.
    for thorough in (False, True):
        for candidate in _candidates(db, query, thorough=thorough):
            if candidate.id in tried:
                continue
            tried.add(candidate.id)
            matched = _match_name(candidate.folded, query.tokens)
            if matched is None:
                continue
            for found in _places(db, candidate, matched, query):
                top = max(top, found.score)
                place = found if near is None else _nearer(found, near)
                key = (place.kind, fold(place.name), place.housenumber, round(place.lat, 3),
                       round(place.lon, 3))  # fmt: skip
                if key not in best or best[key].score < place.score:
                    best[key] = place
        if top >= _SURE:
            break
    ranked = sorted(
        best.values(), key=lambda p: (-p.score, p.distance_m or 0.0, p.label, p.osm or "")
    )
    return ranked[:limit]


def _parse(text: str) -> _Query:
    found = tokens(text)
    checks.word_count(len(found))
    plain = plain_tokens(text)
    return _Query(text, found, plain if len(plain) == len(found) else None)


def _candidates(db: sqlite3.Connection, query: _Query, *, thorough: bool) -> list[_Candidate]:
    grams = _rarest(db, query.tokens, every=thorough)
    columns = "n.id, n.kind, n.name, n.folded, n.category, n.city, n.postcode, n.lat, n.lon, n.osm"
    rows: list[tuple[object, ...]] = []
    if grams:
        match = " OR ".join(f'"{gram}"' for gram in grams)
        rows += db.execute(
            f"SELECT {columns} FROM names_fts f JOIN names n ON n.id = f.rowid"
            " WHERE names_fts MATCH ? ORDER BY f.rank LIMIT ?",
            (match, _CANDIDATES),
        ).fetchall()
    # Names too short for a trigram ("Au"), and exact names the ranking left out.
    windows = sorted(_windows(query.tokens))
    marks = ", ".join("?" * len(windows))
    rows += db.execute(
        f"SELECT {columns} FROM names n WHERE n.folded IN ({marks})",
        windows,
    ).fetchall()
    seen: set[int] = set()
    out: list[_Candidate] = []
    for row in rows:
        id_, kind, *rest = row
        candidate = _Candidate(id_, PlaceKind(kind), *rest)  # type: ignore[arg-type]
        if candidate.id not in seen:
            seen.add(candidate.id)
            out.append(candidate)
    return out


def _rarest(db: sqlite3.Connection, words: list[str], *, every: bool) -> list[str]:
    """The trigrams that pick the candidates: of each word, its rarest few that the index has,
    leaving out those in more than ``_COMMON`` of the names while rarer ones remain (a common
    one, "str" or "rua", only adds candidates to rank). Each word counts, so a typo in the
    street leaves the street's other trigrams, and the city's cannot crowd them out. A word
    is cut with a space either side, as the index cut the names: "rua 25 de abril" shares
    " 25" and " de" with a query whose "abril" has a typo. With ``every``, all the trigrams
    the index has."""
    cut = {word: trigrams(f" {word} ") for word in words}
    grams = sorted(set().union(*cut.values()))
    if not grams:
        return []
    marks = ", ".join("?" * len(grams))
    docs = dict(
        db.execute(f"SELECT term, doc FROM names_vocab WHERE term IN ({marks})", grams).fetchall()
    )
    if every:
        return sorted(docs)
    common = _COMMON * _names(db)
    chosen: set[str] = set()
    for own in cut.values():
        known = sorted((docs[gram], gram) for gram in own if gram in docs)
        rare = [gram for count, gram in known if count <= common]
        chosen.update(rare[:_PER_WORD] if rare else [gram for _, gram in known[:2]])
    return sorted(chosen)


def _names(db: sqlite3.Connection) -> int:
    (count,) = db.execute("SELECT max(id) FROM names").fetchone()
    return int(count or 0)


def _windows(words: list[str]) -> set[str]:
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)}


def _match_name(name: str, words: list[str]) -> _NameMatch | None:
    """The run of query words nearest ``name`` and its distance, or None past the typos a
    name of that length tolerates. Spaces do not count ("Rhein park" is "Rheinpark")."""
    limit = allowed_typos(len(name.replace(" ", "")))
    squeezed = name.replace(" ", "")
    best: _NameMatch | None = None
    seen: dict[str, int] = {}  # a run repeated ("katu katu") is measured once
    for start in range(len(words)):
        for end in range(start + 1, len(words) + 1):
            run = "".join(words[start:end])
            if len(run) > len(squeezed) + limit:
                break
            typos = seen.get(run)
            if typos is None:
                typos = seen[run] = distance(run, squeezed, limit=limit)
            if typos > limit:
                continue
            if best is None or (typos, -(end - start)) < (best.typos, -(best.end - best.start)):
                best = _NameMatch(typos, start, end)
    return best


def _places(
    db: sqlite3.Connection, candidate: _Candidate, matched: _NameMatch, query: _Query
) -> list[Place]:
    outside = query.tokens[: matched.start] + query.tokens[matched.end :]
    others = [token for token in outside if not HOUSENUMBER.match(token)]
    numbers = [token for token in outside if HOUSENUMBER.match(token)]
    kind = candidate.kind
    name_kind = _name_kind(candidate.name, query.text, matched.typos)
    name_score = 1.0 - _PER_TYPO * matched.typos
    # "Cálvario" asked: the street of that spelling before a "Calvário" (or a "Calvario").
    if name_kind is MatchKind.FOLDED or _accents_differ(candidate.name, matched, query):
        name_score *= _FOLDED
    said = _said(candidate.name, matched.typos, name_kind)
    out: list[Place] = []
    if kind is PlaceKind.STREET and numbers:
        for address in _houses(db, candidate.folded, numbers):
            asked = _asked(address.number_key, numbers)
            rest = [n for n in numbers if n != asked]
            covered = len(candidate.folded.replace(" ", "")) + len(asked)
            covered += _context(others, rest, address.city, address.postcode)
            exact = asked == address.number_key
            score = name_score * _coverage(covered, query) * _KIND_WEIGHT[PlaceKind.ADDRESS]
            score *= 1.0 if exact else _NEAR_NUMBER
            out.append(
                Place(
                    kind=PlaceKind.ADDRESS,
                    label=_label(
                        address.street, address.housenumber, address.postcode, address.city
                    ),
                    lat=address.lat,
                    lon=address.lon,
                    name=address.street,
                    housenumber=address.housenumber,
                    postcode=address.postcode,
                    city=address.city,
                    category="addr:housenumber",
                    osm=address.osm,
                    score=round(score, 4),
                    match=name_kind,
                    explanation=f"{said}, house number {address.housenumber}"
                    + ("" if exact else f" for the {asked} asked"),
                )
            )
        if out:
            return out
    covered = len(candidate.folded.replace(" ", ""))
    covered += _context(others, numbers, candidate.city, candidate.postcode)
    score = name_score * _coverage(covered, query) * _KIND_WEIGHT[kind]
    explanation = said
    if kind is PlaceKind.STREET and numbers:
        explanation += f", no house number {' or '.join(numbers)} on it in the map"
    label = (
        _label(candidate.name, None, candidate.postcode, candidate.city)
        if kind is PlaceKind.STREET
        else _label(candidate.name, None, None, candidate.city)
    )
    return [
        Place(
            kind=kind,
            label=label,
            lat=candidate.lat,
            lon=candidate.lon,
            name=candidate.name,
            postcode=candidate.postcode,
            city=candidate.city,
            category=candidate.category,
            osm=candidate.osm,
            score=round(score, 4),
            match=name_kind,
            explanation=explanation,
        )
    ]


@dataclass(frozen=True, slots=True)
class _House:
    street: str
    housenumber: str
    number_key: str
    postcode: str | None
    city: str | None
    lat: float
    lon: float
    osm: str


def _houses(db: sqlite3.Connection, street: str, numbers: list[str]) -> list[_House]:
    """The street's houses of one of ``numbers``; failing that, for a number with a letter
    the number alone (7 for "7b") and for a range its first number (12 for "12-14"); failing
    that, a house whose range holds one of them (12 in "12-14")."""
    near = [n.partition("-")[0] for n in numbers if "-" in n]
    near += [n.rstrip(_LETTERS) for n in numbers if n[-1:].isalpha() and "-" not in n]
    for keys in (numbers, near):
        houses = _numbered(db, street, keys)
        if houses:
            return houses
    plain = {int(n.rstrip(_LETTERS)) for n in numbers if "-" not in n}
    if not plain:
        return []
    rows = db.execute(
        f"SELECT {_HOUSE} FROM addresses WHERE street_key = ? AND number_key LIKE '%-%'",
        (street,),
    ).fetchall()
    return [
        _House(*row)
        for row in rows
        if (span := number_range(row[2])) is not None
        and any(span[0] <= n <= span[1] for n in plain)
    ]


_HOUSE = "street, housenumber, number_key, postcode, city, lat, lon, osm"


def _numbered(db: sqlite3.Connection, street: str, keys: list[str]) -> list[_House]:
    if not keys:
        return []
    marks = ", ".join("?" * len(keys))
    rows = db.execute(
        f"SELECT {_HOUSE} FROM addresses WHERE street_key = ? AND number_key IN ({marks})",
        (street, *keys),
    ).fetchall()
    return [_House(*row) for row in rows]


def _asked(key: str, numbers: list[str]) -> str:
    """Which of the query's numbers found the house numbered ``key``."""
    if key in numbers:
        return key
    span = number_range(key)
    for number in numbers:
        if "-" in number and number.partition("-")[0] == key:
            return number
        if number.rstrip(_LETTERS) == key:
            return number
        digits = number.rstrip(_LETTERS)
        if span is not None and digits.isdigit() and span[0] <= int(digits) <= span[1]:
            return number
    return numbers[0]


def _context(words: list[str], numbers: list[str], city: str | None, postcode: str | None) -> int:
    """How many letters of the query's other words and numbers the city or postcode explain."""
    covered = 0
    city_words = fold(city or "").split()
    for word in words:
        limit = allowed_typos(len(word))
        if any(distance(word, own, limit=limit) <= limit for own in city_words):
            covered += len(word)
    if postcode is not None:
        covered += sum(len(number) for number in numbers if number == fold(postcode))
    return covered


def _coverage(covered: int, query: _Query) -> float:
    """Half the score is for explaining the whole query: unexplained words cost."""
    return 0.5 + 0.5 * min(1.0, covered / max(query.size, 1))


def _accents_differ(name: str, matched: _NameMatch, query: _Query) -> bool:
    """Whether, for a match with typos, the accents of the query's run disagree with the
    name's (they add edits when kept)."""
    if not matched.typos or query.plain is None:
        return False
    run = "".join(query.plain[matched.start : matched.end])
    if run.isascii():
        return False
    own = _plain(name).replace(" ", "")
    return distance(run, own, limit=matched.typos + 4) > matched.typos


def _name_kind(name: str, text: str, typos: int) -> MatchKind:
    if typos:
        return MatchKind.FUZZY
    if _plain(name) in _plain(text):
        return MatchKind.EXACT
    return MatchKind.FOLDED


def _plain(text: str) -> str:
    """Case folded with accents kept, punctuation as single spaces."""
    composed = unicodedata.normalize("NFC", text).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in composed).split())


def _said(name: str, typos: int, kind: MatchKind) -> str:
    if kind is MatchKind.EXACT:
        return f"'{name}' as written"
    if kind is MatchKind.FOLDED:
        return f"'{name}' with case, accents and spacing aside"
    return f"'{name}' within {typos} edit{'s' if typos > 1 else ''}"


def _label(name: str, number: str | None, postcode: str | None, city: str | None) -> str:
    head = f"{name} {number}" if number else name
    tail = " ".join(part for part in (postcode, city) if part)
    return f"{head}, {tail}" if tail else head


def _nearer(place: Place, near: Point) -> Place:
    metres = distance_m(near, (place.lat, place.lon))
    weight = 1 - _NEAR_WEIGHT + _NEAR_WEIGHT * math.exp(-metres / 1000 / _NEAR_SCALE_KM)
    return replace(place, score=round(place.score * weight, 4), distance_m=round(metres, 1))
