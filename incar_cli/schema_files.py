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

    from gateway.compose import SubgraphSpec, compose
    from incar.settings import Settings
    from subgraphs.catalog import subgraphs

    files = subgraph_files(root)
    base = Settings().subgraphs_url
    with tempfile.TemporaryDirectory(prefix="incar-schema-") as folder:
        specs = []
        for f, (name, subgraph) in zip(files, subgraphs().items(), strict=True):
            sdl = Path(folder) / f.path.name
            sdl.write_text(f.text)
            specs.append(SubgraphSpec(name=name, url=f"{base}{subgraph.path}", sdl_path=sdl))
        supergraph = compose(specs)
    return [*files, SchemaFile(root / "supergraph.graphql", supergraph.rstrip() + "\n")]
