"""``incar map import`` and ``incar map show`` as an operator runs them, builder kills included."""

from __future__ import annotations

import asyncio
import os
import select
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from incar import maps
from incar.maps import MapManifest
from subgraphs.routing.engine.build import PHASES
from subgraphs.routing.engine.pool import RoutePool
from tests.routing.conftest import VADUZ, extract
from tests.support.hub_process import INCAR

TIMEOUT = 120.0


def _env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("INCAR_")}
    return {**env, "INCAR_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}


def incar(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INCAR, *args], env=_env(data_dir), capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=TIMEOUT, check=False,
    )  # fmt: skip


def active(data_dir: Path) -> MapManifest | None:
    # Read in process: every incar command costs a second of start-up on this machine.
    return maps.read_active(data_dir)


async def routes_in_vaduz(data_dir: Path) -> None:
    pool = RoutePool(data_dir, workers=1)
    await pool.start(progress=None)
    try:
        assert pool.manifest.region == "liechtenstein"
        answer = await pool.route({"locations": list(VADUZ), "costing": "auto"})
        assert 0.5 < answer["trip"]["summary"]["length"] < 5
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A data directory where ``incar map import`` built Liechtenstein, and its stderr."""
    data_dir = tmp_path_factory.mktemp("data")
    done = incar(data_dir, "map", "import", str(extract("liechtenstein.osm.pbf")))
    assert done.returncode == 0, done.stderr
    return data_dir, done.stderr


async def test_an_import_shows_its_phases_and_the_map_routes(installed: tuple[Path, str]) -> None:
    data_dir, progress = installed
    lines = progress.splitlines()
    assert lines[0].startswith("building the map of liechtenstein from ")
    for (title, _, _), line in zip(PHASES, lines[1:], strict=False):
        assert line.startswith(f"  {title} ... ") and line.endswith(" s"), line
    assert lines[-1].startswith("active map: liechtenstein (1.4 MiB of tiles, built ")
    shown = incar(data_dir, "map", "show")
    assert shown.stdout.startswith("active map: liechtenstein (from liechtenstein.osm.pbf)")
    assert "tiles:    1.4 MiB in " in shown.stdout
    assert "built at: " in shown.stdout
    # The places index, built with the tiles (no taxi stand nor loading zone in this extract).
    assert (
        "places:   972 addresses, 972 streets, 489 named, 361 PUBLIC_TRANSPORT, 158 PARKING\n"
        in shown.stdout
    )
    await routes_in_vaduz(data_dir)


@pytest.mark.parametrize("bad", ["truncated", "text", "missing"])
async def test_a_bad_file_is_one_line_and_the_map_keeps_routing(
    bad: str, installed: tuple[Path, str], tmp_path: Path
) -> None:
    data_dir, _ = installed
    before = active(data_dir)
    path = tmp_path / f"{bad}.osm.pbf"
    if bad == "truncated":
        data = extract("liechtenstein.osm.pbf").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif bad == "text":
        path.write_text("this is not a map\n", encoding="utf-8")
    done = incar(data_dir, "map", "import", str(path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"incar map import: {path}: ")
    assert active(data_dir) == before
    await routes_in_vaduz(data_dir)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _wait_for(process: subprocess.Popen[bytes], text: str, said: bytearray) -> None:
    """Reads the process's stderr until ``text`` appears (bounded)."""
    assert process.stderr is not None
    deadline = time.monotonic() + TIMEOUT
    while text.encode() not in said:
        assert time.monotonic() < deadline, f"no {text!r} in {said.decode()!r}"
        ready, _, _ = select.select([process.stderr], [], [], 1.0)
        if ready:
            chunk = os.read(process.stderr.fileno(), 4096)
            assert chunk, f"the import ended before {text!r}: {said.decode()!r}"
            said += chunk


async def _builders(process: subprocess.Popen[bytes], said: bytearray) -> list[int]:
    """The tile builder's process ids, once the import is in its first phase."""
    _wait_for(process, f"{PHASES[0][0]} ... ", said)
    deadline = time.monotonic() + 10
    while not (builders := _children(process.pid)):
        assert time.monotonic() < deadline, "no builder subprocess"
        await asyncio.sleep(0.05)
    return builders


def _start_import(data_dir: Path, args: Sequence[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [INCAR, "map", "import", *args], env=_env(data_dir), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


async def test_a_killed_builder_leaves_the_old_map_active(installed: tuple[Path, str]) -> None:
    data_dir, _ = installed
    before = active(data_dir)
    # Porto takes seconds to read: the builder is caught in its first phase.
    process = _start_import(data_dir, [str(extract("porto_portugal.osm.pbf"))])
    said = bytearray()
    try:
        for builder in await _builders(process, said):
            os.kill(builder, signal.SIGKILL)
        _, rest = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    said += rest
    assert process.returncode == 1
    assert said.decode().splitlines()[-1] == (
        f"incar map import: {extract('porto_portugal.osm.pbf')}: "
        "the tile builder failed (killed by SIGKILL)"
    )
    assert active(data_dir) == before
    assert not list((data_dir / "maps").glob(".building-*"))
    await routes_in_vaduz(data_dir)


async def test_a_killed_import_leaves_the_old_map_and_the_next_import_tidies_up(
    installed: tuple[Path, str],
) -> None:
    data_dir, _ = installed
    before = active(data_dir)
    process = _start_import(data_dir, [str(extract("porto_portugal.osm.pbf"))])
    try:
        await _builders(process, bytearray())
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the import and its builder, as a crash would
        process.wait()
    assert active(data_dir) == before
    assert list((data_dir / "maps").glob(".building-*"))
    await routes_in_vaduz(data_dir)

    again = incar(data_dir, "map", "import", str(extract("liechtenstein.osm.pbf")))
    assert again.returncode == 0, again.stderr
    assert "built already" in again.stderr
    assert active(data_dir) == before
    assert not list((data_dir / "maps").glob(".building-*"))
