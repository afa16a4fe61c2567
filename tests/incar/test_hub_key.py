"""The hub's key file: made on first use, private, one key for concurrent first uses."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from incar.hub_key import HubKey, HubKeyError, load_or_create
from incar.settings import Settings


def test_the_key_is_made_on_first_use_with_mode_0600_and_kept(tmp_path: Path) -> None:
    path = Settings(data_dir=tmp_path / "var").ledger_key_path
    assert path == tmp_path / "var" / "ledger-ed25519.pem"
    assert not path.exists()
    first = HubKey(path=path, name="incar/FI-ICR/cdrs")
    public = first.public_bytes
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert HubKey(path=path, name="incar/FI-ICR/cdrs").public_bytes == public
    assert sorted(p.name for p in path.parent.iterdir()) == ["ledger-ed25519.pem"]


def test_concurrent_first_uses_end_with_one_key(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    found: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: found.append(load_or_create(path).private_bytes_raw()))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and len(found) == 8


def test_a_key_others_may_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    load_or_create(path)
    os.chmod(path, 0o640)
    with pytest.raises(HubKeyError, match="chmod 600"):
        load_or_create(path)


def test_a_file_that_is_no_ed25519_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(b"not a key")
    os.chmod(path, 0o600)
    with pytest.raises(HubKeyError, match="not a PEM"):
        load_or_create(path)


def test_the_origin_is_a_setting_with_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().ledger_name == "incar/FI-ICR/cdrs"
    monkeypatch.setenv("INCAR_LEDGER_ORIGIN", "ledger.example/cdrs")
    monkeypatch.setenv("INCAR_LEDGER_KEY_FILE", "/etc/incar/key.pem")
    settings = Settings.from_env()
    assert settings.ledger_name == "ledger.example/cdrs"
    assert settings.ledger_key_path == Path("/etc/incar/key.pem")
    monkeypatch.setenv("INCAR_LEDGER_ORIGIN", "a b")
    with pytest.raises(ValueError, match="INCAR_LEDGER_ORIGIN"):
        Settings.from_env()
