"""An extract is read before anything is built from it: framing, OSMHeader, features, bbox."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from subgraphs.routing.engine.pbf import MapInputError, inspect
from tests.routing.conftest import extract
from tests.routing.pbf_files import LIECHTENSTEIN_HEADER_END as HEADER_END
from tests.routing.pbf_files import with_header


def test_a_real_extract_gives_its_digest_size_blocks_and_bbox() -> None:
    path = extract("liechtenstein.osm.pbf")
    summary = inspect(path)
    assert summary.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert summary.size == path.stat().st_size
    assert summary.data_blocks == 20
    assert summary.bbox == (9.471078, 47.04774, 9.636217, 47.27128)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (lambda data: data[: len(data) // 2], "truncated (it ends inside a block)"),
        (lambda data: data[: HEADER_END + 2], "truncated (it ends inside a block header)"),
        (lambda data: b"node 1 at 47.1, 9.5\n" * 50, "not an OpenStreetMap PBF file"),
        (lambda data: b"", "empty, not an OpenStreetMap PBF file"),
        (lambda data: data[HEADER_END:], "not an OpenStreetMap PBF file"),
    ],
    ids=["half", "cut-in-a-block-header", "text", "empty", "no-OSMHeader-first"],
)
def test_a_bad_file_is_one_line_naming_it(content: object, says: str, tmp_path: Path) -> None:
    data = extract("liechtenstein.osm.pbf").read_bytes()
    path = tmp_path / "bad.osm.pbf"
    path.write_bytes(content(data))  # type: ignore[operator]
    with pytest.raises(MapInputError) as refused:
        inspect(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    assert says in message
    assert "\n" not in message


def test_a_history_file_is_foreign_to_the_tile_builder(tmp_path: Path) -> None:
    path = tmp_path / "history.osh.pbf"
    path.write_bytes(with_header("OsmSchema-V0.6", "HistoricalInformation"))
    with pytest.raises(MapInputError, match="needs the PBF feature 'HistoricalInformation'"):
        inspect(path)


def test_a_header_without_bbox_is_read_and_has_none(tmp_path: Path) -> None:
    path = tmp_path / "plain.osm.pbf"
    path.write_bytes(with_header("OsmSchema-V0.6", "DenseNodes"))
    summary = inspect(path)
    assert (summary.bbox, summary.data_blocks) == (None, 0)


def test_a_missing_file_or_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MapInputError, match=r": no such file$"):
        inspect(tmp_path / "nowhere.osm.pbf")
    with pytest.raises(MapInputError, match=r": not a file$"):
        inspect(tmp_path)
