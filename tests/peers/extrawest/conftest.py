from tests.peers.extrawest.fixtures import (
    extrawest_cpo,
    extrawest_emsp,
    extrawest_peers,
    extrawest_venv,
)

__all__ = ["extrawest_cpo", "extrawest_emsp", "extrawest_peers", "extrawest_venv"]
