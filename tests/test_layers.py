"""The house plan's layers, read from the imports: the foundation (``incar``) imports none of
the doors above it, a subgraph never the OCPI adapter, and only the command line starts
everything (ARCHITECTURE.md, Layout)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Each package and the top-level packages of the project it must not import.
FORBIDDEN: dict[str, set[str]] = {
    "incar": {"ocpi_adapter", "subgraphs", "simulator", "incar_cli", "gateway", "migrations"},
    "subgraphs": {"ocpi_adapter", "simulator", "incar_cli", "migrations"},
    "ocpi_adapter": {"simulator", "incar_cli", "migrations"},
    "simulator": {"ocpi_adapter", "subgraphs", "incar_cli", "migrations"},
}


def imported(path: Path) -> set[str]:
    """The top-level packages a module imports, at any place in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", list(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
        if imported(path) & FORBIDDEN[package]
    }
    assert offenders == {}
