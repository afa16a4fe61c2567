"""The real OpenID Connect provider of the tests (``idp/server.mjs``) and a driver logging in.

``running_idp`` starts one node process serving the realms it is given, each an issuer at
``http://127.0.0.1:PORT/realms/<realm>``; ``login`` walks the authorization code flow with PKCE
over HTTP as a browser would: authorize, the login form, consent, the redirect, the token
endpoint. The platform under test never sees the password; only this "browser" does.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import secrets
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

SERVER = Path(__file__).resolve().parents[2] / "idp" / "server.mjs"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
#: Redirects a login may follow (authorize, login, resume, consent, resume) before giving up.
MAX_STEPS = 10


class LoginRefused(Exception):
    """The provider did not hand out a code: wrong password, unknown client, bad redirect."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"the provider answered {status}: {text.strip()[:200]}")
        self.status = status
        self.text = text


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_in: int
    scope: str


@dataclass
class RunningIdp:
    url: str
    process: asyncio.subprocess.Process

    def issuer(self, realm: str) -> str:
        return f"{self.url}/realms/{realm}"

    async def jwks_requests(self) -> dict[str, int]:
        """How many times each realm's JWKS was fetched since the provider started."""
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.get(f"{self.url}/_stats")
        counts: dict[str, int] = answer.json()["jwks_requests"]
        return counts


async def _ready_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(START_TIMEOUT):
        while line := (await process.stdout.readline()).decode():
            if line.startswith("ready "):
                return line.split()[1]
    raise AssertionError("the OpenID Connect provider exited before it was ready")


@contextlib.asynccontextmanager
async def running_idp(
    realms: list[dict[str, Any]], workdir: Path, *, port: int = 0
) -> AsyncIterator[RunningIdp]:
    """``idp/server.mjs`` with ``realms`` on a free loopback port, stopped (SIGTERM) at the end.

    The provider picks its own port (``--port 0``) and says which in its ready line: no race
    with another process for a port chosen in advance. ``port`` starts it again where an
    earlier one was (same issuers, new keys: a key rotation).
    """
    config = workdir / "realms.json"
    config.write_text(json.dumps({"realms": realms}))
    log = (workdir / "idp.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SERVER),
        str(config),
        "--port",
        str(port),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    try:
        try:
            url = await _ready_line(process)
        except (TimeoutError, AssertionError):
            raise AssertionError(
                f"idp/server.mjs did not start:\n{(workdir / 'idp.log').read_text()}"
            ) from None
        yield RunningIdp(url=url, process=process)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _form_action(page: str, base: str) -> str:
    found = re.search(r'<form[^>]*action="([^"]+)"', page)
    if found is None:
        raise AssertionError(f"no login form in the page: {page[:200]}")
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
        raise AssertionError(f"no code after {MAX_STEPS} steps")


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
    assert query.get("state") == state, query
    assert query.get("iss") == issuer, query
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
