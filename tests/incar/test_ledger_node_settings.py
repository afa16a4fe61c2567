"""The BigchainDB node's settings: off by default (the ledger embedded), an http(s) URL when
set, a backoff whose longest wait is not shorter than its first; every error names its
variable."""

from __future__ import annotations

import pytest

from incar.settings import Settings, SettingsError


def test_without_a_url_the_ledger_is_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INCAR_BIGCHAINDB_URL", raising=False)
    assert Settings.from_env().bigchaindb_url == ""


def test_the_node_and_its_backoff_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INCAR_BIGCHAINDB_URL", " https://node.example:9984/ ")
    monkeypatch.setenv("INCAR_BIGCHAINDB_RETRY_FIRST", "0.5")
    monkeypatch.setenv("INCAR_BIGCHAINDB_RETRY_LONGEST", "60")
    settings = Settings.from_env()
    assert settings.bigchaindb_url == "https://node.example:9984"
    assert (settings.bigchaindb_retry_first, settings.bigchaindb_retry_longest) == (0.5, 60)


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("INCAR_BIGCHAINDB_URL", "node.example:9984", "INCAR_BIGCHAINDB_URL"),
        ("INCAR_BIGCHAINDB_TIMEOUT", "0", "INCAR_BIGCHAINDB_TIMEOUT"),
        ("INCAR_BIGCHAINDB_RETRY_LONGEST", "0.1", "INCAR_BIGCHAINDB_RETRY_LONGEST"),
        ("INCAR_BIGCHAINDB_POLL_INTERVAL", "soon", "INCAR_BIGCHAINDB_POLL_INTERVAL"),
    ],
)
def test_bad_values_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=named):
        Settings.from_env()
