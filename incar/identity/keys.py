"""Each trusted issuer's signing keys, found by OpenID Connect discovery and kept in memory.

Keys are fetched on first use (``/.well-known/openid-configuration`` names the ``jwks_uri``),
and again when a token names a key the cache does not hold (the issuer rotated its keys), but
at most once per ``refetch_interval`` per issuer: a stream of tokens with made-up ``kid``\\s
must not turn the platform into a client hammering its eMSPs' identity providers. Keys older
than ``max_age`` are fetched again on next use, so a key the issuer withdrew stops working.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jwk
from joserfc.errors import JoseError

from incar.identity.errors import AuthenticationError
from incar.identity.issuers import TrustedIssuer, is_safe_url

log = logging.getLogger("incar.identity")

#: A discovery document or key set larger than this is not one (Keycloak's are a few KiB).
MAX_DOCUMENT_BYTES = 262_144
PublicKey = jwk.RSAKey | jwk.ECKey | jwk.OKPKey


@dataclass
class _IssuerKeys:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    jwks_uri: str | None = None
    keys: dict[str, PublicKey] = field(default_factory=dict)
    #: When keys were last asked for (monotonic seconds), whether or not the answer was usable.
    attempted_at: float | None = None
    fetched_at: float | None = None


def _signing_keys(document: Any) -> dict[str, PublicKey]:
    """The public signature keys of a JWKS by kid; keys for encryption, keys without a kid and
    symmetric keys (an "oct" key in a public key set is a mistake, never a verification key) are
    left out."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("is not a JWK set")
    keys: dict[str, PublicKey] = {}
    for raw in document["keys"]:
        if not isinstance(raw, dict) or not isinstance(raw.get("kid"), str):
            continue
        if raw.get("use", "sig") != "sig" or raw.get("kty") not in ("RSA", "EC", "OKP"):
            continue
        try:
            key = jwk.import_key(raw)
        except (JoseError, ValueError, TypeError) as error:
            log.warning("a key of the set is unusable (kid %s): %s", raw["kid"], error)
            continue
        if isinstance(key, PublicKey):
            keys[raw["kid"]] = key
    return keys


class KeyCache:
    """The keys of every trusted issuer, fetched over ``http`` and cached per issuer."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        refetch_interval: float,
        max_age: float = 3600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._monotonic = monotonic
        self._issuers: dict[str, _IssuerKeys] = {}

    async def key(self, issuer: TrustedIssuer, kid: str) -> PublicKey:
        """The key ``kid`` of ``issuer``; refused if the issuer, even asked again, has none."""
        state = self._issuers.setdefault(issuer.issuer, _IssuerKeys())
        # One fetch at a time per issuer: tokens arriving while keys are fetched wait for that
        # answer instead of each fetching its own.
        async with state.lock:
            now = self._monotonic()
            if state.fetched_at is None or now - state.fetched_at >= self._max_age:
                await self._fetch_if_due(issuer, state, now)
            if kid not in state.keys:
                await self._fetch_if_due(issuer, state, now)
            found = state.keys.get(kid)
        if found is None:
            raise AuthenticationError(f"key {kid!r} is not a key of issuer {issuer.issuer}")
        return found

    async def _fetch_if_due(self, issuer: TrustedIssuer, state: _IssuerKeys, now: float) -> None:
        if state.attempted_at is not None and now - state.attempted_at < self._refetch_interval:
            if state.fetched_at is None:
                raise AuthenticationError(
                    f"the keys of issuer {issuer.issuer} could not be fetched; retrying later",
                    code="IDP_UNAVAILABLE",
                )
            return
        state.attempted_at = now
        try:
            if state.jwks_uri is None:
                state.jwks_uri = await self._discover(issuer)
            state.keys = _signing_keys(await self._get_json(state.jwks_uri))
        except (httpx.HTTPError, ValueError) as error:
            log.warning("fetching the keys of %s failed: %s", issuer.issuer, error)
            if state.fetched_at is None:
                raise AuthenticationError(
                    f"the keys of issuer {issuer.issuer} could not be fetched ({error})",
                    code="IDP_UNAVAILABLE",
                ) from None
            return  # the keys fetched before stay in use until the issuer answers again
        state.fetched_at = now
        log.info("fetched %d keys of %s", len(state.keys), issuer.issuer)

    async def _discover(self, issuer: TrustedIssuer) -> str:
        # Discovery 1.0, 4.1: a terminating "/" of the issuer goes before the well-known path.
        url = f"{issuer.issuer.rstrip('/')}/.well-known/openid-configuration"
        document = await self._get_json(url)
        if not isinstance(document, dict):
            raise ValueError("the discovery document is not a JSON object")
        # OpenID Connect Discovery 1.0, 4.3: the document must name the issuer it was fetched
        # for, exactly; otherwise it describes someone else.
        if document.get("issuer") != issuer.issuer:
            raise ValueError(f"the discovery document names issuer {document.get('issuer')!r}")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not is_safe_url(jwks_uri):
            raise ValueError(f"the discovery document has no usable jwks_uri ({jwks_uri!r})")
        return jwks_uri

    async def _get_json(self, url: str) -> Any:
        async with self._http.stream("GET", url, headers={"Accept": "application/json"}) as answer:
            if answer.status_code != 200:
                raise ValueError(f"GET {url} answered {answer.status_code}")
            body = bytearray()
            async for chunk in answer.aiter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ValueError(f"GET {url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        return json.loads(bytes(body))
