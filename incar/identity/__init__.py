"""Drivers' identity: access tokens of their eMSP's OpenID Connect provider, verified here.

The platform never sees a driver's password: the driver logs in at their eMSP's provider
(Keycloak in production, one realm per eMSP) and the app presents the access token it got.
``AccessTokenVerifier.verify`` checks it against the issuers of ``INCAR_OIDC_ISSUERS`` and
answers the ``Driver`` it speaks for, or raises ``AuthenticationError``.
"""

from incar.identity.driver import Driver
from incar.identity.errors import AuthenticationCode, AuthenticationError
from incar.identity.issuers import ASYMMETRIC_ALGORITHMS, TrustedIssuer, parse_trusted_issuers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from incar.identity.verifier import AccessTokenVerifier


def __getattr__(name: str) -> object:
    # The verifier brings joserfc, httpx and the database columns; the settings read only the
    # issuers' entries, and every ``incar`` command reads the settings: load it when used.
    if name == "AccessTokenVerifier":
        from incar.identity.verifier import AccessTokenVerifier

        return AccessTokenVerifier
    raise AttributeError(name)


__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "AccessTokenVerifier",
    "AuthenticationCode",
    "AuthenticationError",
    "Driver",
    "TrustedIssuer",
    "parse_trusted_issuers",
]
