"""Offline composition of the supergraph from the subgraphs' SDL files (``compose.mjs``).

Composition runs in Node because the composition library the gateway trusts is a JavaScript
one; running the same library here means the supergraph checked in is exactly what Hive Gateway
would accept.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GATEWAY_DIR = Path(__file__).resolve().parent
COMPOSE_SCRIPT = GATEWAY_DIR / "compose.mjs"
COMPOSE_TIMEOUT = 60.0


@dataclass(frozen=True, kw_only=True)
class SubgraphSpec:
    """One subgraph as the gateway reaches it: its name, its GraphQL URL, its published SDL."""

    name: str
    url: str
    sdl_path: Path


class CompositionError(Exception):
    """The subgraphs do not compose; ``messages`` holds one line per composition error."""

    def __init__(self, messages: Sequence[str]) -> None:
        self.messages = tuple(messages)
        super().__init__("; ".join(self.messages) or "composition failed")


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise CompositionError(["Node.js is not installed (node is not on PATH)"])
    return node


def compose(subgraphs: Sequence[SubgraphSpec]) -> str:
    """The supergraph SDL composed from ``subgraphs``; raises CompositionError if they do not."""
    listing = json.dumps(
        [
            {"name": s.name, "url": s.url, "sdl_path": str(Path(s.sdl_path).resolve())}
            for s in subgraphs
        ]
    )
    with tempfile.TemporaryDirectory(prefix="incar-compose-") as folder:
        target = Path(folder) / "supergraph.graphql"
        done = subprocess.run(
            [node_executable(), str(COMPOSE_SCRIPT), "-", str(target)],
            input=listing,
            capture_output=True,
            text=True,
            cwd=GATEWAY_DIR,
            timeout=COMPOSE_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise CompositionError([line for line in done.stderr.splitlines() if line.strip()])
        return target.read_text()
