"""Pytest fixtures for extrawest peers, importable as a plugin from any conftest.

``tests/peers/extrawest/conftest.py`` re-exports them for the tests beside it; other folders can
list ``"tests.peers.extrawest.fixtures"`` in the root conftest's ``pytest_plugins``.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.peers.extrawest.launcher import ExtrawestPeer, Role, ensure_venv

PeerFactory = Callable[..., ExtrawestPeer]


@pytest.fixture(scope="session")
def extrawest_venv() -> Path:
    """The peer venv's python, built once per session (seconds when already up to date)."""
    return ensure_venv()


@pytest.fixture(scope="module")
def extrawest_cpo(extrawest_venv: Path) -> Iterator[ExtrawestPeer]:
    with ExtrawestPeer("CPO") as peer:
        yield peer


@pytest.fixture(scope="module")
def extrawest_emsp(extrawest_venv: Path) -> Iterator[ExtrawestPeer]:
    with ExtrawestPeer("EMSP") as peer:
        yield peer


@pytest.fixture
def extrawest_peers(extrawest_venv: Path) -> Iterator[PeerFactory]:
    """Start extra peers inside one test: ``extrawest_peers("CPO", party_id="AAA")``."""
    started: list[ExtrawestPeer] = []

    def start(role: Role, **options: Any) -> ExtrawestPeer:
        peer = ExtrawestPeer(role, **options)
        started.append(peer)
        return peer.start()

    yield start
    for peer in reversed(started):
        peer.stop()
