"""``incar schema``: each subgraph's SDL and the composed supergraph, in ``schema/``.

The files are generated from the Strawberry schemas and checked in, so a schema change shows
in review; ``--check`` (what the test suite runs) fails when a file is stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "schema"


@dataclass(frozen=True, slots=True)
class SchemaFile:
    path: Path
    text: str

    @property
    def current(self) -> bool:
        return self.path.exists() and self.path.read_text() == self.text


def subgraph_files(root: Path = ROOT) -> list[SchemaFile]:
    from subgraphs.catalog import subgraphs

    return [
        SchemaFile(root / f"{name}.graphql", subgraph.schema.as_str().rstrip() + "\n")
        for name, subgraph in subgraphs().items()
    ]


def write(files: list[SchemaFile]) -> list[Path]:
    """Writes the files that differ; returns them."""
    changed = [f for f in files if not f.current]
    for f in changed:
        f.path.parent.mkdir(parents=True, exist_ok=True)
        f.path.write_text(f.text)
    return [f.path for f in changed]


def stale(files: list[SchemaFile]) -> list[Path]:
    return [f.path for f in files if not f.current]


def all_files(root: Path = ROOT) -> list[SchemaFile]:
    """The subgraphs' SDL files and the supergraph composed from them, with the subgraphs'
    URLs of the embedded default (``incar serve`` composes its own with the URLs it serves)."""
    import tempfile

    from incar.settings import Settings
    from incar_cli import platform
    from subgraphs.catalog import subgraphs

    served = platform.served_at(Settings(), list(subgraphs().values()))
    with tempfile.TemporaryDirectory(prefix="incar-schema-") as folder:
        supergraph = platform.supergraph(served, Path(folder)).read_text()
    files = subgraph_files(root)
    return [*files, SchemaFile(root / "supergraph.graphql", supergraph.rstrip() + "\n")]
