"""schema/ holds what the subgraphs' Strawberry schemas print and the supergraph they compose
to: a stale file, or subgraphs that do not compose, fail here (run ``incar schema``), and
``incar schema --check`` says which in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from incar_cli import schema_files


def test_the_checked_in_sdl_is_what_the_schemas_print() -> None:
    stale = schema_files.stale(schema_files.all_files())
    assert stale == [], f"stale: {stale}; run `incar schema`"


def test_check_names_a_stale_file_in_one_line(tmp_path: Path) -> None:
    files = schema_files.all_files(tmp_path)
    schema_files.write(files)
    assert schema_files.stale(files) == []
    files[0].path.write_text(files[0].text + "# edited\\n")
    assert schema_files.stale(schema_files.all_files(tmp_path)) == [files[0].path]


def test_the_command_fails_with_one_line_when_stale(tmp_path: Path) -> None:
    folder = tmp_path / "schema"
    command = [sys.executable, "-m", "incar_cli.main", "schema", "--dir", str(folder)]
    assert subprocess.run(command, capture_output=True, check=False).returncode == 0
    checked = subprocess.run([*command, "--check"], capture_output=True, text=True, check=False)
    assert (checked.returncode, checked.stdout.strip()) == (0, "schema/ is current (7 files)")
    (folder / "locations.graphql").write_text("type Query { edited: Int }\n")
    done = subprocess.run([*command, "--check"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "incar schema: stale: schema/locations.graphql (run incar schema)"
    ]


def test_the_supergraph_joins_the_entities_of_every_subgraph() -> None:
    text = (schema_files.ROOT / "supergraph.graphql").read_text()
    for name in ("LOCATIONS", "SESSIONS", "BOOKINGS"):
        assert f'@join__graph(name: "{name.lower()}"' in text, name
    # Evse is one entity, keyed by its owner, in all three.
    for name in ("LOCATIONS", "SESSIONS", "BOOKINGS"):
        assert f'@join__type(graph: {name}, key: "countryCode partyId locationId uid")' in text
