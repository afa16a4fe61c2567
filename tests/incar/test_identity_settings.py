"""INCAR_OIDC_ISSUERS and its neighbours: read at start, refused at start with one clear line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from incar.identity import TrustedIssuer
from incar.settings import Settings, SettingsError

FI = {
    "issuer": "https://kc.example/realms/emsp-fi",
    "country_code": "fi",
    "party_id": "emf",
    "audience": "https://api.incar.example",
}


def settings_with(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


def test_no_issuers_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INCAR_OIDC_ISSUERS", raising=False)
    settings = Settings.from_env()
    assert settings.oidc_issuers == ()
    assert (settings.oidc_leeway, settings.oidc_jwks_refetch_interval) == (30.0, 60.0)


def test_issuers_inline_and_from_a_file_are_the_same(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected = (
        TrustedIssuer(
            issuer=FI["issuer"],
            country_code="FI",
            party_id="EMF",
            audience=FI["audience"],
            token_uid_claim="ocpi_token_uid",
            algorithms=frozenset({"RS256"}),
        ),
    )
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps([FI]))

    inline = settings_with(monkeypatch, INCAR_OIDC_ISSUERS=f"  {json.dumps([FI])}")
    from_file = settings_with(monkeypatch, INCAR_OIDC_ISSUERS=str(path))

    assert inline.oidc_issuers == from_file.oidc_issuers == expected


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"issuers": []}, "must be a JSON list of issuers"),
        ([{**FI, "audience": 3}], "entry 0: audience must be a string"),
        ([{k: v for k, v in FI.items() if k != "audience"}], "entry 0 lacks ['audience']"),
        ([{**FI, "audiance": "x"}], "entry 0 has unknown fields ['audiance']"),
        ([{**FI, "algorithms": ["HS256"]}], "entry 0: algorithms ['HS256'] must be some of"),
        ([{**FI, "algorithms": ["none"]}], "entry 0: algorithms ['none'] must be some of"),
        ([{**FI, "algorithms": []}], "entry 0: algorithms [] must be some of"),
        ([{**FI, "issuer": "http://kc.example/realms/emsp-fi"}], "must be an https URL"),
        ([{**FI, "party_id": "EMFX"}], "entry 0: party_id 'EMFX' must be 3 letters or digits"),
        ([FI, FI], f"issuer {FI['issuer']} is listed twice"),
    ],
)
def test_a_wrong_entry_is_refused_naming_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, entries: Any, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_with(monkeypatch, INCAR_OIDC_ISSUERS=json.dumps(entries))
    assert str(caught.value).startswith("INCAR_OIDC_ISSUERS: ")
    assert message in str(caught.value)


def test_http_is_allowed_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    local = {**FI, "issuer": "http://127.0.0.1:8081/realms/emsp-fi"}
    settings = settings_with(monkeypatch, INCAR_OIDC_ISSUERS=json.dumps([local]))
    assert settings.oidc_issuers[0].issuer == local["issuer"]


def test_an_unreadable_file_and_bad_json_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere.json"
    with pytest.raises(SettingsError, match=r"^INCAR_OIDC_ISSUERS: cannot read .*nowhere\.json"):
        settings_with(monkeypatch, INCAR_OIDC_ISSUERS=str(missing))
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    with pytest.raises(SettingsError, match=r"broken\.json\): is not valid JSON"):
        settings_with(monkeypatch, INCAR_OIDC_ISSUERS=str(broken))


def test_leeway_may_be_zero_but_the_refetch_interval_must_be_positive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert settings_with(monkeypatch, INCAR_OIDC_LEEWAY="0").oidc_leeway == 0.0
    with pytest.raises(SettingsError, match="INCAR_OIDC_LEEWAY"):
        settings_with(monkeypatch, INCAR_OIDC_LEEWAY="-1")
    with pytest.raises(SettingsError, match="INCAR_OIDC_JWKS_REFETCH_INTERVAL"):
        settings_with(monkeypatch, INCAR_OIDC_LEEWAY="0", INCAR_OIDC_JWKS_REFETCH_INTERVAL="0")
