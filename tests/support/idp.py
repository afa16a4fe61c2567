"""The real OpenID Connect provider of the tests (``idp/server.mjs``) and a driver logging in.

``running_idp`` starts one node process serving the realms it is given, each an issuer at
``http://127.0.0.1:PORT/realms/<realm>``; ``login`` walks the authorization code flow with PKCE
over HTTP as a browser would: authorize, the login form, consent, the redirect, the token
endpoint. The platform under test never sees the password; only this "browser" does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from incar_cli.idp_process import RunningIdp, running_idp
from incar_cli.oidc_login import LoginRefused, Tokens, login

__all__ = ["LoginRefused", "RunningIdp", "Tokens", "driver_realm", "login", "running_idp"]


def driver_realm(
    name: str, *, audience: str, redirect_uri: str, drivers: Mapping[str, str]
) -> dict[str, Any]:
    """A Keycloak-shaped realm of an eMSP: the app client ``driver-app``, and each driver
    (user name to OCPI token uid) with the password ``<user>-pw`` and the uid as a claim."""
    return {
        "name": name,
        "token_shape": "keycloak",
        "audience": audience,
        "scope": "charging",
        "token_uid_claim": "ocpi_token_uid",
        "clients": [{"client_id": "driver-app", "redirect_uris": [redirect_uri]}],
        "users": [
            {"username": u, "password": f"{u}-pw", "claims": {"ocpi_token_uid": uid}}
            for u, uid in drivers.items()
        ],
    }
