"""Where the workplace's shared material lies (the OCPI spec's examples, OpenStreetMap
extracts): beside the checkout where there is one, else the machines' own /work/shared (CI
checks the project out elsewhere)."""

from __future__ import annotations

from pathlib import Path

_BESIDE = Path(__file__).resolve().parents[3] / "shared"
SHARED = _BESIDE if _BESIDE.is_dir() else Path("/work/shared")
SPEC_EXAMPLES = SHARED / "ocpi" / "spec-2.2.1-d2" / "examples"
OSM = SHARED / "osm"
