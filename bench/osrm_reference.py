"""OSRM (``osrm-bindings``, the ``bench`` extra) as the routing benchmark's speed reference.

``prepare`` runs the wheel's own osrm-extract with its Lua car profile on an extract once,
then both OSRM pipelines on the same extracted graph: osrm-partition + osrm-customize (MLD)
and osrm-contract (CH); the files of the two sit side by side under one base name, and a
marker file written last says the folder is complete (an interrupted preparation starts
again). ``Osrm`` opens one of them in process and asks it the questions ``bench.routing``
asks Valhalla, in Valhalla's own request shape (``{"lat", "lon"}`` points), answering with
the few numbers the comparison needs: a route's distance and time, a table's cells, a
matched trace's length.

What OSRM computes differs from what the subgraph asks Valhalla for, and the comparison says
so (bench/README.md): OSRM's car profile has fixed speeds per road class with no time of day
(Valhalla is asked for a depart-now route, which reads live and historical speeds where the
tiles hold them); CH finds at most one alternative (its via-node search), MLD up to the
asked number, with acceptance rules of its own unlike Valhalla's; OSRM's table is a
many-to-many search on the contracted graph, Valhalla's a one-source Dijkstra.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Algorithm = Literal["CH", "MLD"]
ALGORITHMS: tuple[Algorithm, ...] = ("CH", "MLD")
#: Valhalla's search_cutoff in the subgraph's route requests: the same snapping limit.
SNAP_RADIUS_M = 1000.0
MARKER = "prepared.json"


class OsrmError(RuntimeError):
    """A preparation step failed, or OSRM answered with something other than Ok."""


def _package() -> Path:
    import osrm

    return Path(osrm.__file__).resolve().parent


def _version() -> str:
    from importlib.metadata import version

    return version("osrm-bindings")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _run(step: str, args: list[str], folder: Path) -> float:
    started = time.perf_counter()
    log = folder / f"{step}.log"
    with log.open("wb") as out:
        done = subprocess.run(args, cwd=folder, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-5:]
        raise OsrmError(f"{step} exited with {done.returncode}: " + " | ".join(tail))
    return round(time.perf_counter() - started, 2)


@dataclass(frozen=True)
class Prepared:
    base: Path  # what OSRM opens: <folder>/graph.osrm
    seconds: dict[str, float]  # per step; empty when the folder was prepared already
    version: str


def prepare(source: Path, cache: Path, *, threads: int = 2) -> Prepared:
    """OSRM's car data for ``source`` under ``cache``, made once per extract and version."""
    version = _version()
    folder = cache / f"{source.stem.split('.')[0]}-{_sha256(source)[:12]}-osrm{version}"
    base = folder / "graph.osrm"
    marker = folder / MARKER
    if marker.is_file():
        return Prepared(base, {}, version)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    package = _package()
    binary = package / "bin"
    profile = package / "share" / "profiles" / "car.lua"
    # osrm-extract names its output after the input: link the extract in as graph.osm.pbf.
    os.symlink(source.resolve(), folder / "graph.osm.pbf")
    cores = ["-t", str(threads)]
    seconds = {
        "extract": _run(
            "extract", [str(binary / "osrm-extract"), "-p", str(profile), *cores, "graph.osm.pbf"],
            folder,
        ),
        "partition": _run("partition", [str(binary / "osrm-partition"), *cores, base.name], folder),
        "customize": _run("customize", [str(binary / "osrm-customize"), *cores, base.name], folder),
        "contract": _run("contract", [str(binary / "osrm-contract"), *cores, base.name], folder),
    }  # fmt: skip
    marker.write_text(json.dumps({"version": version, "seconds": seconds}) + "\n")
    return Prepared(base, seconds, version)


def _lonlat(point: dict[str, float]) -> tuple[float, float]:
    return (point["lon"], point["lat"])


def _ok(ask: Any, params: Any) -> Any:
    """OSRM's answer; its refusals (raised as RuntimeError, e.g. NoSegment) as OsrmError."""
    try:
        answer = ask(params)
    except RuntimeError as problem:
        raise OsrmError(str(problem)) from None
    if answer["code"] != "Ok":
        raise OsrmError(str(answer["code"]))
    return answer


@dataclass(frozen=True)
class Leg:
    distance_m: float
    duration_s: float
    #: How far OSRM moved the farther end to reach a road: a point far off every road is
    #: snapped differently by each engine, so only near ones make a fair comparison.
    snap_m: float


class Osrm:
    """One OSRM engine in this process (its files mapped, not in shared memory)."""

    def __init__(self, prepared: Prepared, algorithm: Algorithm) -> None:
        import osrm

        self.algorithm = algorithm
        self.engine = osrm.OSRM(
            algorithm=algorithm,
            storage_config=str(prepared.base),
            use_shared_memory=False,
            max_alternatives=3,
        )

    def snapped(self, point: dict[str, float]) -> dict[str, float]:
        """The nearest point on a road OSRM's car profile drives (the point itself if none)."""
        import osrm

        params = osrm.NearestParameters(coordinates=[_lonlat(point)])
        try:
            lon, lat = _ok(self.engine.Nearest, params)["waypoints"][0]["location"]
        except OsrmError:
            return point
        return {"lat": float(lat), "lon": float(lon)}

    def route(
        self, origin: dict[str, float], destination: dict[str, float], *,
        alternatives: int = 0, steps: bool = False,
    ) -> list[Leg]:  # fmt: skip
        """The routes OSRM found, best first (full geometry written, as the subgraph asks);
        raises OsrmError when it finds none."""
        import osrm

        params = osrm.RouteParameters(
            coordinates=[_lonlat(origin), _lonlat(destination)],
            radiuses=[SNAP_RADIUS_M, SNAP_RADIUS_M],
            number_of_alternatives=alternatives,
            steps=steps,
            overview="full",
            geometries="polyline6",
        )
        answer = _ok(self.engine.Route, params)
        snap = max(float(w["distance"]) for w in answer["waypoints"])
        return [Leg(float(r["distance"]), float(r["duration"]), snap) for r in answer["routes"]]

    def table(self, origin: dict[str, float], targets: list[dict[str, float]]) -> list[Leg | None]:
        """Time and distance from ``origin`` to each target (None where none is found)."""
        import osrm

        params = osrm.TableParameters(
            coordinates=[_lonlat(origin), *(_lonlat(t) for t in targets)],
            sources=[0],
            destinations=list(range(1, len(targets) + 1)),
            annotations=["duration", "distance"],
        )
        answer = _ok(self.engine.Table, params)
        durations, distances = answer["durations"][0], answer["distances"][0]
        source = float(answer["sources"][0]["distance"])
        snaps = [max(source, float(d["distance"])) for d in answer["destinations"]]
        return [
            None if duration is None else Leg(float(distance), float(duration), snap)
            for duration, distance, snap in zip(durations, distances, snaps, strict=True)
        ]

    def match(self, points: list[tuple[float, float, int]]) -> float:
        """The matched length in metres of a trace of (lat, lon, epoch seconds) fixes."""
        import osrm

        params = osrm.MatchParameters(
            coordinates=[(lon, lat) for lat, lon, _ in points],
            timestamps=[stamp for _, _, stamp in points],
            overview="false",
        )
        answer = _ok(self.engine.Match, params)
        return sum(float(m["distance"]) for m in answer["matchings"])
