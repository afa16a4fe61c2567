"""``incar map import FILE.osm.pbf`` and ``incar map show``: which region the platform runs on.

An import prints its progress on stderr (a line per phase) and switches the active map only
once the new tile set is complete and answers a test route; a bad file is one line on stderr
with exit status 2, and the previous map keeps working.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from incar import maps
from incar.settings import Settings

#: Bad input, as argparse's usage errors: the operator has to give another file.
BAD_INPUT = 2


def run_import(settings: Settings, source: Path, *, region: str | None) -> int:
    from subgraphs.routing.engine.build import BuildError, import_map
    from subgraphs.routing.engine.pbf import MapInputError

    try:
        import_map(settings.data_dir, source, region=region, stream=sys.stderr)
    except MapInputError as error:
        print(f"incar map import: {error}", file=sys.stderr)
        return BAD_INPUT
    except BuildError as error:
        print(f"incar map import: {error}", file=sys.stderr)
        return 1
    return 0


def run_show(settings: Settings, *, as_json: bool) -> int:
    try:
        manifest = maps.read_active(settings.data_dir)
    except maps.ManifestError as error:
        print(f"incar map show: {error} (run incar map import FILE.osm.pbf)", file=sys.stderr)
        return 1
    if manifest is None:
        if as_json:
            print("null")
        else:
            print(
                f"no map yet: the default ({maps.DEFAULT_REGION}) is built on first use, "
                "or run incar map import FILE.osm.pbf"
            )
        return 0
    folder = maps.tileset_dir(settings.data_dir, manifest.id)
    counts = _places_counts(folder)
    if as_json:
        print(json.dumps({**asdict(manifest), "folder": str(folder), "places": counts}))
        return 0
    min_lon, min_lat, max_lon, max_lat = manifest.bbox
    print(f"active map: {manifest.region} (from {manifest.source_name})")
    print(f"  source:   {manifest.source_bytes:,} bytes, sha256 {manifest.source_sha256}")
    print(f"  bbox:     lon {min_lon} to {max_lon}, lat {min_lat} to {max_lat}")
    print(f"  tiles:    {manifest.tiles_bytes / 1_048_576:.1f} MiB in {folder}")
    print(
        f"  built at: {manifest.built_at} in {manifest.build_seconds} s "
        f"(Valhalla {manifest.valhalla_version})"
    )
    if counts is None:
        print("  places:   no index yet (built on first use)")
    else:
        print("  places:   " + ", ".join(f"{count:,} {what}" for what, count in counts.items()))
    return 0


def _places_counts(folder: Path) -> dict[str, int] | None:
    """The places index's counts (addresses, streets, POIs per class), None without one."""
    import sqlite3

    from subgraphs.routing.places import PlaceError, PlaceIndex
    from subgraphs.routing.places import index as places_index

    path = folder / places_index.FILENAME
    if not path.is_file():
        return None
    try:
        return PlaceIndex(path).counts
    except (PlaceError, sqlite3.Error, ValueError, KeyError, OSError):
        return None
