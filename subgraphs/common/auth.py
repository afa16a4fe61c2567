"""Who is asking: every subgraph reads the Authorization header itself, so a subgraph reached
without the gateway trusts nothing the gateway would have checked.

- ``Bearer <access token>``: a driver, logged in at their eMSP's OpenID Connect provider; the
  token is verified against that provider's keys (``incar.identity``).
- ``Token <OCPI credentials token>``: a CPO's or eMSP's back-office, with the token the hub
  gave it; a platform with several parties names the one it speaks for with OCPI's own
  ``OCPI-from-country-code`` and ``OCPI-from-party-id`` headers.
- nothing: anonymous (public station data only).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from strawberry.extensions import SchemaExtension

from incar.identity import AccessTokenVerifier, AuthenticationError
from subgraphs.common.context import ANONYMOUS, Viewer, ViewerKind
from subgraphs.common.errors import Code, error


class AuthProblem(Exception):
    """The request's credentials are wrong: the whole request is refused with ``code``."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class VerifiedDriver:
    """What a verified access token says (the identity module's result, as the graph uses it)."""

    emsp: tuple[str, str]
    token_uid: str
    subject: str


class DriverTokens(Protocol):
    async def __call__(self, token: str) -> VerifiedDriver:
        """The driver of a valid access token; raises AuthProblem otherwise."""
        ...


def oidc_drivers(verifier: AccessTokenVerifier) -> DriverTokens:
    """Drivers from access tokens of the trusted OpenID Connect issuers."""

    async def drivers(token: str) -> VerifiedDriver:
        try:
            found = await verifier.verify(token)
        except AuthenticationError as problem:
            raise AuthProblem(Code(problem.code), problem.reason) from None
        return VerifiedDriver(
            emsp=(found.country_code, found.party_id),
            token_uid=found.token_uid,
            subject=found.subject,
        )

    return drivers


#: The parties (country code, party id, role) of a connected platform's credentials token,
#: or None if the hub knows no such token.
PartyTokens = Callable[[str], Awaitable[list[tuple[str, str, str]] | None]]


@dataclass(frozen=True, slots=True)
class Authenticator:
    drivers: DriverTokens | None = None
    parties: PartyTokens | None = None

    async def viewer(self, headers: Mapping[str, str]) -> Viewer:
        authorization = (headers.get("authorization") or "").strip()
        if not authorization:
            return ANONYMOUS
        scheme, _, credential = authorization.partition(" ")
        credential = credential.strip()
        if not credential:
            raise AuthProblem(Code.UNAUTHENTICATED, "the Authorization header has no credential")
        if scheme.lower() == "bearer":
            if self.drivers is None:
                raise AuthProblem(Code.UNAUTHENTICATED, "no OpenID Connect issuer is trusted here")
            driver = await self.drivers(credential)
            return Viewer(
                kind=ViewerKind.DRIVER,
                country_code=driver.emsp[0].upper(),
                party_id=driver.emsp[1].upper(),
                token_uid=driver.token_uid.upper(),
                subject=driver.subject,
            )
        if scheme.lower() == "token":
            return await self._party(authorization, headers)
        raise AuthProblem(
            Code.UNAUTHENTICATED, "use 'Bearer <access token>' or 'Token <OCPI credentials token>'"
        )

    async def _party(self, authorization: str, headers: Mapping[str, str]) -> Viewer:
        parties = await self.parties(authorization) if self.parties else None
        if not parties:
            raise AuthProblem(Code.UNAUTHENTICATED, "unknown or missing credentials token")
        cc = (headers.get("ocpi-from-country-code") or "").upper()
        pid = (headers.get("ocpi-from-party-id") or "").upper()
        if cc or pid:
            chosen = [p for p in parties if (p[0], p[1]) == (cc, pid)]
            if not chosen:
                raise AuthProblem(Code.FORBIDDEN, f"this token does not speak for {cc}*{pid}")
        elif len(parties) > 1:
            raise AuthProblem(
                Code.BAD_USER_INPUT,
                "this platform has several parties: name one with OCPI-from-country-code "
                "and OCPI-from-party-id",
            )
        else:
            chosen = parties
        country_code, party_id, role = chosen[0]
        return Viewer(
            kind=ViewerKind.PARTY, country_code=country_code, party_id=party_id, role=role
        )


class Authenticated(SchemaExtension):
    """A request whose credentials are wrong is refused whole, with their code: a client
    sending an expired token learns so, even for public data."""

    def on_operation(self):  # type: ignore[no-untyped-def]
        problem = getattr(self.execution_context.context, "auth_problem", None)
        if isinstance(problem, AuthProblem):
            raise error(problem.code, problem.message)
        yield
