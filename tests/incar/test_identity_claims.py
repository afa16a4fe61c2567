"""incar.identity.claims as functions: the shapes no real provider of the tests issues.

The provider never stamps nbf, writes typ as application/at+jwt or sends a malformed exp;
other providers may, and an attacker can only do so with a key the platform trusts, so these
are checked on the claims directly. Real tokens: tests/incar/test_identity.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from incar.identity import AuthenticationError, claims

NOW = 1_800_000_000.0


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_the_rfc9068_type_is_read_as_a_media_type(typ: str) -> None:
    claims.access_token_type({"typ": typ}, {})


@pytest.mark.parametrize(
    ("header", "payload", "reason"),
    [
        ({"typ": "JWT"}, {"typ": "ID"}, "an ID token is not an access token"),
        ({}, {"nonce": "n"}, "an ID token is not an access token"),
        ({"typ": "JWT"}, {"typ": "Refresh"}, "the token is not an access token"),
        ({"typ": "dpop+jwt"}, {"typ": "Bearer"}, "the token is not an access token"),
        ({"typ": "JWT"}, {}, "the token is not an access token"),
    ],
)
def test_anything_but_an_access_token_is_refused(
    header: dict[str, Any], payload: dict[str, Any], reason: str
) -> None:
    with pytest.raises(AuthenticationError) as caught:
        claims.access_token_type(header, payload)
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "the token has no exp claim"),
        ({"exp": True}, "claim exp is not a number of seconds"),
        ({"exp": "1800000100"}, "claim exp is not a number of seconds"),
        ({"exp": NOW + 100, "nbf": NOW + 31}, "token is not valid before 2027-01-15T08:00:31Z"),
        ({"exp": NOW + 100, "iat": NOW + 31}, "token was issued in the future, at "),
        ({"exp": NOW - 30}, "token expired at 2027-01-15T07:59:30Z"),
    ],
)
def test_times_outside_the_leeway_are_refused(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        claims.validity(payload, now=NOW, leeway=30)
    assert caught.value.reason.startswith(reason)


def test_times_within_the_leeway_are_accepted() -> None:
    payload = {"exp": NOW - 29, "nbf": NOW + 30, "iat": NOW + 30}
    assert claims.validity(payload, now=NOW, leeway=30).timestamp() == NOW - 29


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "the token has no ocpi_token_uid claim"),
        ({"ocpi_token_uid": 12345}, "claim ocpi_token_uid is not a non-empty string"),
        ({"ocpi_token_uid": ""}, "claim ocpi_token_uid is not a non-empty string"),
        ({"ocpi_token_uid": "X" * 37}, "claim ocpi_token_uid is longer than an OCPI token uid"),
    ],
)
def test_the_token_uid_must_be_an_ocpi_token_uid(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        claims.token_uid(payload, "ocpi_token_uid")
    assert caught.value.reason.startswith(reason)


@pytest.mark.parametrize("aud", [None, 7, ["a", 7]])
def test_an_audience_that_is_not_strings_is_no_audience(aud: Any) -> None:
    with pytest.raises(AuthenticationError, match="the token has no aud claim"):
        claims.audience({"aud": aud}, "a")


def test_critical_header_extensions_are_refused() -> None:
    with pytest.raises(AuthenticationError, match=r"critical extensions \(crit\)"):
        claims.algorithm({"alg": "RS256", "crit": ["b64"]})
