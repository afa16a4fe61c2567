"""The real OpenID Connect provider of the tests (``idp/server.mjs``) and a driver logging in.

``running_idp`` starts one node process serving the realms it is given, each an issuer at
``http://127.0.0.1:PORT/realms/<realm>``; ``login`` walks the authorization code flow with PKCE
over HTTP as a browser would: authorize, the login form, consent, the redirect, the token
endpoint. The platform under test never sees the password; only this "browser" does.
"""

from __future__ import annotations

from incar_cli.idp_process import RunningIdp, running_idp
from incar_cli.oidc_login import LoginRefused, Tokens, login

__all__ = ["LoginRefused", "RunningIdp", "Tokens", "login", "running_idp"]
