"""A driver's bearer token, verified by the platform itself against their eMSP's issuer.

The checks run in an order chosen so that nothing from an untrusted source causes work: the
token's shape and ``alg`` first, then its ``iss`` against the configured issuers (an unknown
issuer is never contacted), then the key of its ``kid`` (fetched from that issuer only, rate
limited), the signature, and only then what the signed claims say.

The clock: ``exp``, ``nbf`` and ``iat`` are stamped by the identity provider from the real
world's time, so the verifier compares them with the wall clock, also in the demo, whose
simulated clock runs ahead (a simulated hour would expire a token issued a wall-clock minute
ago). ``clock`` is a parameter so that tests can step past an expiry without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

import httpx
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError

from incar.columns import utcnow
from incar.identity import claims
from incar.identity.compact import UnverifiedToken, split
from incar.identity.driver import Driver
from incar.identity.errors import AuthenticationError
from incar.identity.issuers import TrustedIssuer
from incar.identity.keys import KeyCache, PublicKey

if TYPE_CHECKING:  # settings read the issuers from this package: no import at run time
    from incar.settings import Settings

#: The curve each ECDSA algorithm is defined with (RFC 7518, 3.4).
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
KEY_FETCH_TIMEOUT = 5.0


def _fits(key: PublicKey, alg: str) -> bool:
    """Whether ``key`` is of the kind ``alg`` is defined for (and names no other alg)."""
    declared = key.get("alg")
    if declared is not None and declared != alg:
        return False
    if alg.startswith(("RS", "PS")):
        return key.key_type == "RSA"
    if alg.startswith("ES"):
        return key.key_type == "EC" and key.get("crv") == _CURVES[alg]
    return key.key_type == "OKP" and key.get("crv") in ("Ed25519", "Ed448")


class AccessTokenVerifier:
    """Verifies access tokens of the trusted issuers; ``verify`` answers the driver or raises
    ``AuthenticationError``. One per process: it holds the issuers' keys."""

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        *,
        leeway: float = 30.0,
        refetch_interval: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._issuers = {trusted.issuer: trusted for trusted in issuers}
        self._leeway = leeway
        self._clock = clock
        # A client given is the caller's to close; one made here is the verifier's.
        self._own_http = http is None
        if http is None:
            http = httpx.AsyncClient(timeout=KEY_FETCH_TIMEOUT, follow_redirects=False)
        self._http = http
        self._keys = KeyCache(self._http, refetch_interval=refetch_interval)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        http: httpx.AsyncClient | None = None,
    ) -> AccessTokenVerifier:
        return cls(
            settings.oidc_issuers,
            leeway=settings.oidc_leeway,
            refetch_interval=settings.oidc_jwks_refetch_interval,
            clock=clock,
            http=http,
        )

    async def verify(self, token: str) -> Driver:
        unverified = split(token)
        alg = claims.algorithm(unverified.header)
        trusted = claims.issuer(unverified.payload, self._issuers)
        if alg not in trusted.algorithms:
            raise AuthenticationError(f"alg {alg} is not allowed for issuer {trusted.issuer}")
        await self._check_signature(unverified, alg, trusted)
        payload = unverified.payload
        claims.access_token_type(unverified.header, payload)
        claims.audience(payload, trusted.audience)
        expires_at = claims.validity(payload, now=self._clock().timestamp(), leeway=self._leeway)
        return Driver(
            issuer=trusted.issuer,
            subject=claims.subject(payload),
            country_code=trusted.country_code,
            party_id=trusted.party_id,
            token_uid=claims.token_uid(payload, trusted.token_uid_claim),
            expires_at=expires_at,
            scopes=claims.scopes(payload),
            client_id=claims.client_id(payload),
        )

    async def _check_signature(
        self, unverified: UnverifiedToken, alg: str, trusted: TrustedIssuer
    ) -> None:
        kid = unverified.header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationError("the token's header has no kid")
        key = await self._keys.key(trusted, kid)
        if not _fits(key, alg):
            raise AuthenticationError(f"key {kid!r} of issuer {trusted.issuer} is not for {alg}")
        try:
            jws.deserialize_compact(unverified.text, key, algorithms=[alg])
        except BadSignatureError:
            raise AuthenticationError("the token's signature does not verify") from None
        except JoseError as error:
            reason = f"the token's signature cannot be checked ({error})"
            raise AuthenticationError(reason) from None

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    async def __aenter__(self) -> AccessTokenVerifier:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
