"""A driver's login at an OpenID Connect provider, as a browser would do it: the authorization
code flow with PKCE (S256) over HTTP, the login form filled in. For the demo (``incar login``)
and the tests; the platform itself never sees a password."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

#: The demo's provider: its drivers' app (a public client) and the graph's audience.
DEMO_AUDIENCE = "https://graph.incar.demo"
DEMO_CLIENT = "driver-app"
DEMO_REDIRECT = "http://127.0.0.1/callback"
#: Redirects a login may follow (authorize, login, resume, consent, resume) before giving up.
MAX_STEPS = 10


class LoginRefused(Exception):
    """The provider did not hand out a code: wrong password, unknown client, bad redirect."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"the provider answered {status}: {' '.join(text.split())[:200]}")
        self.status = status
        self.text = text


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_in: int
    scope: str


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _form_action(page: str, base: str) -> str:
    found = re.search(r'<form[^>]*action="([^"]+)"', page)
    if found is None:
        raise LoginRefused(200, f"no login form in the page: {page[:200]}")
    return urljoin(base, str(found.group(1)).replace("&amp;", "&"))


async def login(
    issuer: str,
    client_id: str,
    redirect_uri: str,
    username: str,
    password: str,
    *,
    resource: str,
    scope: str = "openid charging",
    client_secret: str | None = None,
) -> Tokens:
    """A driver's login at ``issuer``: the authorization code flow with PKCE (S256), over HTTP.

    Raises ``LoginRefused`` where the provider does not redirect back with a code (a wrong
    password leaves the login form on screen, answered 401).
    """
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(16)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as browser:
        discovery = (await browser.get(f"{issuer}/.well-known/openid-configuration")).json()
        answer = await browser.get(
            discovery["authorization_endpoint"],
            params={
                "client_id": client_id,
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "scope": scope,
                "state": state,
                "nonce": secrets.token_urlsafe(16),
                "resource": resource,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        for _ in range(MAX_STEPS):
            if answer.is_redirect:
                target = urljoin(str(answer.url), answer.headers["location"])
                if target.startswith(redirect_uri):
                    return await _redeem(
                        browser,
                        discovery,
                        target,
                        state=state,
                        issuer=issuer,
                        client_id=client_id,
                        client_secret=client_secret,
                        redirect_uri=redirect_uri,
                        verifier=verifier,
                        resource=resource,
                    )
                answer = await browser.get(target)
            elif answer.status_code == 200 and "<form" in answer.text:
                answer = await browser.post(
                    _form_action(answer.text, str(answer.url)),
                    data={"username": username, "password": password},
                )
            else:
                raise LoginRefused(answer.status_code, answer.text)
        raise LoginRefused(0, f"no code after {MAX_STEPS} steps")


async def _redeem(
    browser: httpx.AsyncClient,
    discovery: dict[str, Any],
    redirected_to: str,
    *,
    state: str,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    redirect_uri: str,
    verifier: str,
    resource: str,
) -> Tokens:
    """The code of the redirect, exchanged at the token endpoint (RFC 9207: iss checked)."""
    query = {key: values[0] for key, values in parse_qs(urlsplit(redirected_to).query).items()}
    if "error" in query:
        raise LoginRefused(400, f"{query['error']}: {query.get('error_description', '')}")
    if query.get("state") != state or query.get("iss") != issuer:
        raise LoginRefused(400, f"the redirect is not this login's: {query}")
    form = {
        "grant_type": "authorization_code",
        "code": query["code"],
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        "resource": resource,
    }
    if client_secret is None:
        form["client_id"] = client_id  # a public client names itself, no authentication
        answer = await browser.post(discovery["token_endpoint"], data=form)
    else:
        secret = httpx.BasicAuth(client_id, client_secret)
        answer = await browser.post(discovery["token_endpoint"], data=form, auth=secret)
    if answer.status_code != 200:
        raise LoginRefused(answer.status_code, answer.text)
    body = answer.json()
    return Tokens(
        access_token=body["access_token"],
        id_token=body.get("id_token"),
        refresh_token=body.get("refresh_token"),
        expires_in=int(body["expires_in"]),
        scope=str(body.get("scope", "")),
    )
