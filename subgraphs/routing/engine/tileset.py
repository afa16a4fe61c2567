"""A tile set's Valhalla configuration, and the test route that proves the tile set answers.

``python -m subgraphs.routing.engine.tileset FOLDER`` runs the test route in a process of its
own: the builder calls it so that tiles which crash the engine crash that process, not the one
switching maps (or serving the platform).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from incar.maps import CONFIG, TILES, write_atomically
from subgraphs.routing.traffic import extract

#: Per Actor (one per worker thread): tiles stay cached up to this size. Valhalla's own
#: default (1 GB) times the workers would be far more than the embedded platform should hold.
CACHE_BYTES = 128 * 1024 * 1024
#: Data sets the wheel does not ship (admin areas, time zones, traffic, elevation, transit):
#: (live traffic is ours: its extract is named once the pool has laid it out)
#: empty paths keep Valhalla from looking for them under its default /data/valhalla.
_ABSENT = ("traffic_extract", "admin", "landmarks", "timezone", "transit_dir", "transit_feeds_dir")


class ProbeError(RuntimeError):
    """A tile set that loads but answers no route."""


def valhalla_config(folder: Path, *, log: bool = False) -> dict[str, Any]:
    """Valhalla's configuration for the tiles in ``folder``; ``log``: to stdout (the builder)."""
    import valhalla

    tiles = folder / TILES
    tiles.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = valhalla.get_config(tile_extract="", tile_dir=tiles, verbose=log)
    mjolnir = config["mjolnir"]
    for key in _ABSENT:
        mjolnir[key] = ""
    mjolnir["data_processing"]["use_admin_db"] = False
    mjolnir["max_cache_size"] = CACHE_BYTES
    # The platform's matrices are one to many (a point to the stations around it): one
    # Dijkstra from the source answers them, 10 to 15 times faster on the Porto map than the
    # bidirectional CostMatrix Valhalla picks for cars by default, with the same cells.
    config["thor"]["source_to_target_algorithm"] = "timedistancematrix"
    config["additional_data"]["elevation"] = ""
    live = extract.path_of(folder)
    if live.is_file():  # laid out by the route pool when it opens the tile set
        mjolnir["traffic_extract"] = str(live)
    return config


def config_file(folder: Path) -> Path:
    """The configuration an Actor reads (pyvalhalla takes a file: a dict becomes a temp file
    per Actor). Rewritten when the folder moved, since it holds the tiles' absolute path."""
    path = folder / CONFIG
    expected = valhalla_config(folder)
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        current = None
    if current != expected:
        write_atomically(path, json.dumps(expected, indent=1))
    return path


def tiles_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in (folder / TILES).rglob("*.gph"))


def probe(folder: Path) -> dict[str, Any]:
    """Routes between two points of the graph itself (read from its largest local tile), so
    the test needs no knowledge of the region. Returns the route's summary."""
    import valhalla
    from valhalla.baldr import GraphId, GraphTileHeader
    from valhalla.baldr.utils import GraphUtils

    config = config_file(folder)
    local = sorted((folder / TILES / "2").rglob("*.gph"), key=lambda path: path.stat().st_size)
    if not local:
        raise ProbeError("the tile set has no road tiles")
    largest = local[-1]
    edges = GraphTileHeader.from_file(largest).directededgecount
    tile = GraphId.from_tile_path(largest.relative_to(folder / TILES).as_posix())
    graph = GraphUtils(config)
    actor = valhalla.Actor(config)

    def point(index: int) -> dict[str, float]:
        shape = graph.get_edge_shape(GraphId(tile.tileid(), tile.level(), index))
        lon, lat = shape[len(shape) // 2]
        return {"lat": round(lat, 6), "lon": round(lon, 6)}

    problems: list[str] = []
    for start, end in ((0, edges // 2), (edges // 4, 3 * edges // 4), (0, edges - 1)):
        for costing in ("auto", "pedestrian"):
            request = {
                "locations": [point(start), point(end)],
                "costing": costing,
                "directions_type": "none",
            }
            try:
                answer: dict[str, Any] = actor.route(request)
            except RuntimeError as error:  # ValhallaError: no route between these two
                problems.append(str(error))
                continue
            summary = answer["trip"]["summary"]
            return {
                "costing": costing,
                "locations": request["locations"],
                "length_km": summary["length"],
                "time_s": summary["time"],
            }
    raise ProbeError(f"no test route found ({problems[-1] if problems else 'no edges'})")


def main(argv: list[str]) -> int:
    try:
        print(json.dumps(probe(Path(argv[0]))))
    except (ProbeError, RuntimeError, OSError) as error:
        print(f"{error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
