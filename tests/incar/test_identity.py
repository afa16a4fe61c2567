"""incar.identity against a real OpenID Connect provider (idp/server.mjs, oidc-provider).

Drivers log in over HTTP (authorization code with PKCE) at Keycloak-shaped realms; the tokens
the provider issues are then verified, or edited, re-signed and forged the way an attacker
would, and each refusal must say which check failed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwk

from incar.identity import AccessTokenVerifier, AuthenticationError, Driver, TrustedIssuer
from incar.settings import Settings
from incar_cli.idp_process import IdpError
from tests.support.idp import LoginRefused, RunningIdp, Tokens, login, running_idp

API = "https://api.incar.example"
BILLING = "https://billing.example"
REDIRECT = "http://127.0.0.1:9/callback"  # never contacted: the code is read off the redirect
SECRET = "backoffice-secret-backoffice-secret"


def realm(name: str, shape: str, alg: str, users: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "token_shape": shape,
        "alg": alg,
        "audience": API,
        "other_audiences": [BILLING],
        "clients": [
            {"client_id": "driver-app", "redirect_uris": [REDIRECT]},
            {"client_id": "backoffice", "client_secret": SECRET, "redirect_uris": [REDIRECT]},
        ],
        "users": users,
    }


def user(name: str, uid: str | None = None) -> dict[str, Any]:
    claims = {"ocpi_token_uid": uid} if uid else {}
    return {"username": name, "password": f"{name}-pw", "claims": claims}


REALMS = [
    realm("emsp-fi", "rfc9068", "RS256", [user("alice", "FI-ALICE-0001"), user("carol")]),
    realm("emsp-de", "keycloak", "ES256", [user("bob", "DE-BOB-0001")]),
    realm("emsp-se", "keycloak", "RS256", [user("sven", "SE-SVEN-0001")]),
    # A realm of the same provider the platform does not trust.
    realm("stranger", "rfc9068", "RS256", [user("mallory", "XX-MALLORY-01")]),
]
EMSPS = {"emsp-fi": ("FI", "EMF", "RS256"), "emsp-de": ("DE", "EMD", "ES256")}
EMSPS["emsp-se"] = ("SE", "EMS", "RS256")


@dataclass(frozen=True)
class World:
    idp: RunningIdp
    issuers: tuple[TrustedIssuer, ...]
    tokens: dict[str, Tokens]

    @contextlib.asynccontextmanager
    async def verifier(
        self, issuers: tuple[TrustedIssuer, ...] | None = None, **options: Any
    ) -> AsyncIterator[AccessTokenVerifier]:
        """A verifier with an empty key cache, of the world's issuers or of ``issuers``."""
        trusted = self.issuers if issuers is None else issuers
        async with httpx.AsyncClient(trust_env=False) as http:
            yield AccessTokenVerifier(trusted, http=http, **options)


async def sign_in(idp: RunningIdp, realm_name: str, username: str, **options: Any) -> Tokens:
    return await login(
        idp.issuer(realm_name),
        options.pop("client_id", "driver-app"),
        REDIRECT,
        username,
        f"{username}-pw",
        resource=options.pop("resource", API),
        **options,
    )


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    async with running_idp(REALMS, tmp_path_factory.mktemp("idp")) as idp:
        issuers = tuple(
            TrustedIssuer(
                issuer=idp.issuer(name),
                country_code=cc,
                party_id=pid,
                audience=API,
                algorithms=frozenset({alg}),
            )
            for name, (cc, pid, alg) in EMSPS.items()
        )
        logins = {
            "alice": sign_in(idp, "emsp-fi", "alice"),
            "carol": sign_in(idp, "emsp-fi", "carol"),
            "bob": sign_in(idp, "emsp-de", "bob"),
            "sven": sign_in(idp, "emsp-se", "sven"),
            "mallory": sign_in(idp, "stranger", "mallory"),
            "alice-billing": sign_in(idp, "emsp-fi", "alice", resource=BILLING),
            "alice-backoffice": sign_in(
                idp, "emsp-fi", "alice", client_id="backoffice", client_secret=SECRET
            ),
        }
        done = await asyncio.gather(*logins.values())
        yield World(idp=idp, issuers=issuers, tokens=dict(zip(logins, done, strict=True)))


@pytest.fixture
async def verifier(world: World) -> AsyncIterator[AccessTokenVerifier]:
    async with world.verifier() as fresh:
        yield fresh


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def encode(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), signature]
    )


def edited(token: str, edit: Callable[[dict[str, Any], dict[str, Any]], None]) -> str:
    """``token`` with its header or payload changed and its original signature kept."""
    header, payload, signature = parts(token)
    edit(header, payload)
    return encode(header, payload, signature)


async def refused(verifier: AccessTokenVerifier, token: str) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    assert caught.value.code == "UNAUTHENTICATED"
    assert "\n" not in caught.value.reason
    return caught.value


# --- accepted ---------------------------------------------------------------------------------


async def test_an_rfc9068_access_token_names_the_driver_and_their_emsp(
    world: World, verifier: AccessTokenVerifier
) -> None:
    token = world.tokens["alice"].access_token
    header, payload, _ = parts(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256"

    driver = await verifier.verify(token)

    assert driver == Driver(
        issuer=world.idp.issuer("emsp-fi"),
        subject="alice",
        country_code="FI",
        party_id="EMF",
        token_uid="FI-ALICE-0001",
        expires_at=datetime.fromtimestamp(payload["exp"], UTC),
        scopes=frozenset({"charging"}),
        client_id="driver-app",
    )
    assert timedelta(0) < driver.expires_at - datetime.now(UTC) <= timedelta(seconds=300)


async def test_a_keycloak_shaped_access_token_is_accepted_with_its_es256_signature(
    world: World, verifier: AccessTokenVerifier
) -> None:
    token = world.tokens["bob"].access_token
    header, payload, _ = parts(token)
    assert (header["typ"], header["alg"], payload["typ"]) == ("JWT", "ES256", "Bearer")
    assert payload["azp"] == "driver-app" and payload["preferred_username"] == "bob"
    assert payload["aud"] == [API, "account"]

    driver = await verifier.verify(token)

    assert (driver.country_code, driver.party_id, driver.token_uid) == ("DE", "EMD", "DE-BOB-0001")
    assert (driver.subject, driver.client_id) == ("bob", "driver-app")


async def test_a_keycloak_shaped_rs256_token_and_a_confidential_clients_token_are_accepted(
    world: World, verifier: AccessTokenVerifier
) -> None:
    sven = await verifier.verify(world.tokens["sven"].access_token)
    backoffice = await verifier.verify(world.tokens["alice-backoffice"].access_token)

    assert (sven.country_code, sven.party_id, sven.token_uid) == ("SE", "EMS", "SE-SVEN-0001")
    assert (backoffice.token_uid, backoffice.client_id) == ("FI-ALICE-0001", "backoffice")


async def test_a_verifier_made_from_the_settings_uses_their_issuers_and_its_own_client(
    world: World,
) -> None:
    settings = Settings().with_(oidc_issuers=world.issuers, oidc_leeway=0.0)
    async with AccessTokenVerifier.from_settings(settings) as verifier:
        driver = await verifier.verify(world.tokens["bob"].access_token)
    assert (driver.country_code, driver.party_id) == ("DE", "EMD")


# --- refused: signature and keys ----------------------------------------------------------


async def test_a_tampered_payload_fails_the_signature(
    world: World, verifier: AccessTokenVerifier
) -> None:
    def another_driver(_header: dict[str, Any], payload: dict[str, Any]) -> None:
        payload["ocpi_token_uid"] = "FI-SOMEONE-ELSE"

    for name in ("alice", "bob"):
        token = edited(world.tokens[name].access_token, another_driver)
        error = await refused(verifier, token)
        assert error.reason == "the token's signature does not verify"


async def test_a_token_of_one_realm_with_its_iss_edited_to_another_trusted_realm_is_refused(
    world: World, verifier: AccessTokenVerifier
) -> None:
    alice = world.tokens["alice"].access_token
    se_issuer = world.idp.issuer("emsp-se")
    se_kid = parts(world.tokens["sven"].access_token)[0]["kid"]

    def to_se(_header: dict[str, Any], payload: dict[str, Any]) -> None:
        payload["iss"] = se_issuer

    def to_se_with_its_kid(header: dict[str, Any], payload: dict[str, Any]) -> None:
        to_se(header, payload)
        header["kid"] = se_kid

    error = await refused(verifier, edited(alice, to_se))
    assert error.reason == f"key {parts(alice)[0]['kid']!r} is not a key of issuer {se_issuer}"
    error = await refused(verifier, edited(alice, to_se_with_its_kid))
    assert error.reason == "the token's signature does not verify"


async def test_alg_none_is_refused_in_every_spelling(
    world: World, verifier: AccessTokenVerifier
) -> None:
    header, payload, _ = parts(world.tokens["alice"].access_token)
    for none in ("none", "None", "NONE"):
        error = await refused(verifier, encode({**header, "alg": none}, payload, ""))
        assert error.reason == "alg none is not allowed"


async def test_hs256_signed_with_the_issuers_public_key_as_secret_is_refused(
    world: World, verifier: AccessTokenVerifier
) -> None:
    """The classic key-confusion attack: a verifier that takes the algorithm from the token
    would check an HMAC keyed with the (public) RSA key and accept the forgery."""
    header, payload, _ = parts(world.tokens["alice"].access_token)
    async with httpx.AsyncClient(trust_env=False) as client:
        discovery = await client.get(
            f"{world.idp.issuer('emsp-fi')}/.well-known/openid-configuration"
        )
        jwks = (await client.get(discovery.json()["jwks_uri"])).json()
    public = jwk.RSAKey.import_key(jwks["keys"][0])
    secret = public.as_pem(private=False)
    forged_header = {**header, "alg": "HS256"}
    signing_input = f"{b64(json.dumps(forged_header).encode())}.{b64(json.dumps(payload).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

    error = await refused(verifier, f"{signing_input}.{b64(mac)}")

    assert error.reason == "alg HS256 is not allowed (asymmetric signatures only)"


async def test_an_algorithm_the_issuer_is_not_configured_for_is_refused(
    world: World,
) -> None:
    rs256_only = tuple(
        TrustedIssuer(
            issuer=trusted.issuer,
            country_code=trusted.country_code,
            party_id=trusted.party_id,
            audience=API,
        )
        for trusted in world.issuers
    )
    async with world.verifier(rs256_only) as strict:
        error = await refused(strict, world.tokens["bob"].access_token)
    assert error.reason == f"alg ES256 is not allowed for issuer {world.idp.issuer('emsp-de')}"


# --- refused: issuer, audience, type, claims -------------------------------------------------


async def test_a_real_token_of_an_untrusted_realm_is_refused_without_asking_that_realm(
    world: World, verifier: AccessTokenVerifier
) -> None:
    before = await world.idp.jwks_requests()

    error = await refused(verifier, world.tokens["mallory"].access_token)

    assert error.reason == f"issuer {world.idp.issuer('stranger')} is not trusted"
    assert (await world.idp.jwks_requests())["stranger"] == before["stranger"]


async def test_a_real_token_for_another_audience_is_refused(
    world: World, verifier: AccessTokenVerifier
) -> None:
    token = world.tokens["alice-billing"].access_token
    assert parts(token)[1]["aud"] == BILLING

    error = await refused(verifier, token)

    assert error.reason == f"audience ['{BILLING}'] does not include {API}"


@pytest.mark.parametrize("name", ["alice", "bob"])
async def test_an_id_token_is_not_an_access_token(
    world: World, verifier: AccessTokenVerifier, name: str
) -> None:
    id_token = world.tokens[name].id_token
    assert id_token is not None

    error = await refused(verifier, id_token)

    assert error.reason == "an ID token is not an access token"


async def test_an_id_token_is_refused_even_where_the_audience_is_set_to_the_client(
    world: World,
) -> None:
    """A misconfigured audience (the client id, as the ID token's aud) must not let it in."""
    fi = world.issuers[0]
    misconfigured = TrustedIssuer(
        issuer=fi.issuer,
        country_code=fi.country_code,
        party_id=fi.party_id,
        audience="driver-app",
    )
    id_token = world.tokens["alice"].id_token
    assert id_token is not None and parts(id_token)[1]["aud"] == "driver-app"
    async with world.verifier((misconfigured,)) as verifier:
        error = await refused(verifier, id_token)
    assert error.reason == "an ID token is not an access token"


async def test_a_token_without_the_token_uid_claim_is_refused(
    world: World, verifier: AccessTokenVerifier
) -> None:
    error = await refused(verifier, world.tokens["carol"].access_token)

    assert error.reason == "the token has no ocpi_token_uid claim"


# --- refused: time ---------------------------------------------------------------------------


def at(epoch: float) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(epoch, UTC)


async def test_an_expired_token_is_refused_after_the_leeway(world: World) -> None:
    token = world.tokens["alice"].access_token
    exp = parts(token)[1]["exp"]
    expired_at = datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    async with world.verifier(clock=at(exp + 29), leeway=30) as within_leeway:
        assert (await within_leeway.verify(token)).token_uid == "FI-ALICE-0001"
    async with world.verifier(clock=at(exp + 30), leeway=30) as after:
        error = await refused(after, token)

    assert error.reason == f"token expired at {expired_at}"


async def test_a_token_issued_in_the_future_is_refused(world: World) -> None:
    token = world.tokens["bob"].access_token
    iat = parts(token)[1]["iat"]

    async with world.verifier(clock=at(iat - 31), leeway=30) as behind:
        error = await refused(behind, token)

    assert error.reason.startswith("token was issued in the future, at ")


# --- refused: not a token at all --------------------------------------------------------------


@pytest.mark.parametrize(
    ("garbage", "reason"),
    [
        ("", "no token"),
        ("Bearer", "the token is not a JWT (three base64url parts)"),
        ("a.b", "the token is not a JWT (three base64url parts)"),
        ("a.b.c.d", "the token is not a JWT (three base64url parts)"),
        ("a.b.c.d.e", "encrypted tokens (JWE) are not accepted"),
        ("ey J.ey J.sig", "the token is not a JWT (three base64url parts)"),
        ("abc.def.ghi", "the token's header is not base64url-encoded JSON"),
        (f"{b64(b'[1]')}.{b64(b'{}')}.", "the token's header is not a JSON object"),
        (f"{b64(b'{}')}.{b64(b'{}')}.", "the token's header has no alg"),
        ("x" * 20_000, "the token is longer than 16384 characters"),
        (
            f"{b64(b'{"alg":"RS256"}')}.{b64(b'{"iss":"https://evil.example"}')}.",
            "issuer https://evil.example is not trusted",
        ),
    ],
)
async def test_garbage_is_refused_with_a_reason(
    verifier: AccessTokenVerifier, garbage: str, reason: str
) -> None:
    assert (await refused(verifier, garbage)).reason == reason


# --- keys: cached, and fetched again at most once per interval -------------------------------


def with_random_kid(token: str) -> str:
    def random_kid(header: dict[str, Any], _payload: dict[str, Any]) -> None:
        header["kid"] = secrets.token_urlsafe(16)

    return edited(token, random_kid)


async def test_keys_are_fetched_once_per_issuer_and_then_served_from_the_cache(
    world: World, verifier: AccessTokenVerifier
) -> None:
    before = await world.idp.jwks_requests()

    for _ in range(5):
        await verifier.verify(world.tokens["alice"].access_token)
        await verifier.verify(world.tokens["bob"].access_token)

    after = await world.idp.jwks_requests()
    assert after["emsp-fi"] - before["emsp-fi"] == 1
    assert after["emsp-de"] - before["emsp-de"] == 1


async def test_unknown_kids_make_the_verifier_ask_the_issuer_at_most_once_per_interval(
    world: World,
) -> None:
    alice = world.tokens["alice"].access_token
    async with world.verifier(refetch_interval=1.0) as verifier:
        await verifier.verify(alice)
        start = (await world.idp.jwks_requests())["emsp-fi"]

        # An attacker's burst of made-up kids right after the keys were fetched: none asks.
        for _ in range(20):
            await refused(verifier, with_random_kid(alice))
        assert (await world.idp.jwks_requests())["emsp-fi"] == start

        # Once the interval has passed, a burst (concurrent this time) asks exactly once.
        await asyncio.sleep(1.1)
        burst = [refused(verifier, with_random_kid(alice)) for _ in range(20)]
        await asyncio.gather(*burst)
        assert (await world.idp.jwks_requests())["emsp-fi"] == start + 1

        # And the genuine token still verifies from the cache.
        assert (await verifier.verify(alice)).token_uid == "FI-ALICE-0001"
        assert (await world.idp.jwks_requests())["emsp-fi"] == start + 1


async def test_an_issuer_whose_keys_cannot_be_fetched_refuses_with_idp_unavailable(
    world: World,
) -> None:
    with_port = world.idp.url.rsplit(":", 1)[0]
    dead = TrustedIssuer(
        issuer=f"{with_port}:9/realms/emsp-fi", country_code="FI", party_id="EMF", audience=API
    )

    def to_dead(_header: dict[str, Any], payload: dict[str, Any]) -> None:
        payload["iss"] = dead.issuer

    token = edited(world.tokens["alice"].access_token, to_dead)
    async with world.verifier((dead,)) as verifier:
        with pytest.raises(AuthenticationError) as caught:
            await verifier.verify(token)
    assert caught.value.code == "IDP_UNAVAILABLE"
    assert caught.value.reason.startswith(f"the keys of issuer {dead.issuer} could not be fetched")


async def test_a_key_rotation_is_picked_up_at_the_first_unknown_kid(
    tmp_path: Path,
) -> None:
    """The provider restarted on its port is the same issuer with a new key: the verifier,
    holding the old key, fetches the new one for the first token that names it."""
    realms = [realm("emsp-fi", "rfc9068", "RS256", [user("alice", "FI-ALICE-0001")])]
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(trust_env=False))
        async with running_idp(realms, tmp_path) as first:
            trusted = TrustedIssuer(
                issuer=first.issuer("emsp-fi"), country_code="FI", party_id="EMF", audience=API
            )
            verifier = AccessTokenVerifier([trusted], http=http, refetch_interval=0.5)
            old = await sign_in(first, "emsp-fi", "alice")
            await verifier.verify(old.access_token)
        port = int(first.url.rsplit(":", 1)[1])
        second = await stack.enter_async_context(running_idp(realms, tmp_path, port=port))
        new = await sign_in(second, "emsp-fi", "alice")
        assert parts(new.access_token)[0]["kid"] != parts(old.access_token)[0]["kid"]
        await asyncio.sleep(0.6)

        assert (await verifier.verify(new.access_token)).token_uid == "FI-ALICE-0001"
        assert (await second.jwks_requests())["emsp-fi"] == 1
        with pytest.raises(AuthenticationError, match="is not a key of issuer"):
            await verifier.verify(old.access_token)


# --- the login itself ----------------------------------------------------------------------


async def test_a_wrong_password_fails_at_the_provider(world: World) -> None:
    for username, password in [("alice", "not-her-password"), ("nobody", "nobody-pw")]:
        with pytest.raises(LoginRefused) as caught:
            await login(
                world.idp.issuer("emsp-fi"),
                "driver-app",
                REDIRECT,
                username,
                password,
                resource=API,
            )
        assert caught.value.status == 401
        assert "Invalid username or password." in caught.value.text


async def test_the_provider_requires_pkce_of_a_public_client(world: World) -> None:
    issuer = world.idp.issuer("emsp-fi")
    async with httpx.AsyncClient(trust_env=False) as browser:
        answer = await browser.get(
            f"{issuer}/protocol/openid-connect/auth",
            params={
                "client_id": "driver-app",
                "response_type": "code",
                "redirect_uri": REDIRECT,
                "scope": "openid charging",
                "resource": API,
            },
        )
    assert answer.is_redirect
    assert answer.headers["location"].startswith(f"{REDIRECT}?error=invalid_request")


async def test_a_provider_that_cannot_start_says_why(tmp_path: Path) -> None:
    """A realms file the provider refuses: the error gives its exit code and its own reason."""
    realms = [realm("emsp-fi", "rfc9068", "HS256", [user("alice")])]
    with pytest.raises(IdpError) as refused:
        async with running_idp(realms, tmp_path):
            pass
    assert str(refused.value).splitlines()[0] == (
        "idp/server.mjs did not start: it exited with code 2 before it was ready; its log:"
    )
    assert "idp: realm emsp-fi: alg must be RS256 or ES256" in str(refused.value)
