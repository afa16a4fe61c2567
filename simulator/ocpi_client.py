"""Outbound OCPI: the credentials registration with the hub, and requests to its modules.

Hub endpoints come only from the hub's version details; no hub path is written here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from simulator.clock import SimClock
from simulator.protocol import (
    CORRELATION_ID,
    REQUEST_ID,
    SUCCESS,
    VERSION,
    PartyRef,
    authorization,
    new_id,
    routing_headers,
)

log = logging.getLogger(__name__)


class OcpiClientError(Exception):
    """A request whose answer was not a usable OCPI success."""


@dataclass(frozen=True, slots=True)
class Reply:
    http_status: int
    status_code: int | None
    data: Any
    headers: httpx.Headers

    @property
    def ok(self) -> bool:
        return self.http_status < 300 and self.status_code == SUCCESS


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The hub's module URLs by (identifier, role), from its version details."""

    urls: dict[tuple[str, str], str]

    @classmethod
    def parse(cls, details: Any) -> Endpoints:
        urls: dict[tuple[str, str], str] = {}
        for item in (details or {}).get("endpoints", []):
            key = (str(item["identifier"]), str(item.get("role", "")).upper())
            urls[key] = str(item["url"]).rstrip("/")
        return cls(urls)

    def url(self, module: str, role: str) -> str | None:
        return self.urls.get((module, role))

    def any(self, module: str) -> str | None:
        for (identifier, _role), url in self.urls.items():
            if identifier == module:
                return url
        return None


@dataclass(frozen=True, slots=True)
class Registration:
    token_c: str
    endpoints: Endpoints
    hub_party: PartyRef
    hub_roles: list[dict[str, Any]]


async def call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    token: str,
    *,
    json: Any = None,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One OCPI request: token, fresh X-Request-ID, the envelope unpacked."""
    sent = {"Authorization": authorization(token), REQUEST_ID: new_id(), CORRELATION_ID: new_id()}
    sent.update(headers or {})
    response = await client.request(method, url, json=json, params=params, headers=sent)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return Reply(response.status_code, None, None, response.headers)
    status = body.get("status_code")
    return Reply(
        response.status_code,
        status if isinstance(status, int) else None,
        body.get("data"),
        response.headers,
    )


def next_link(header: str | None) -> str | None:
    """The URL of a ``Link: <url>; rel="next"`` header."""
    for part in (header or "").split(","):
        url, _, params = part.partition(";")
        if 'rel="next"' in params.replace(" ", "") and url.strip().startswith("<"):
            return url.strip()[1:-1]
    return None


async def register(
    client: httpx.AsyncClient,
    hub_versions_url: str,
    token_a: str,
    own_versions_url: str,
    roles: list[dict[str, Any]],
    *,
    token_b: str,
) -> Registration:
    """The credentials handshake as Sender (credentials.asciidoc, Registration).

    ``token_b`` must already be accepted by the party's own server: the hub fetches the party's
    versions and version details with it before it answers the POST. Failures, including an
    unreachable hub, raise ``OcpiClientError``.
    """
    try:
        return await _register(
            client, hub_versions_url, token_a, own_versions_url, roles, token_b=token_b
        )
    except httpx.HTTPError as exc:
        raise OcpiClientError(f"hub at {hub_versions_url} unreachable: {exc!r}") from exc


async def _register(
    client: httpx.AsyncClient,
    hub_versions_url: str,
    token_a: str,
    own_versions_url: str,
    roles: list[dict[str, Any]],
    *,
    token_b: str,
) -> Registration:
    versions = await call(client, "GET", hub_versions_url, token_a)
    if not versions.ok or not isinstance(versions.data, list):
        raise OcpiClientError(f"hub versions: HTTP {versions.http_status} {versions.status_code}")
    chosen = next((v for v in versions.data if v.get("version") == VERSION), None)
    if chosen is None:
        raise OcpiClientError(f"hub does not offer OCPI {VERSION}")
    details = await call(client, "GET", chosen["url"], token_a)
    if not details.ok:
        raise OcpiClientError(f"hub version details: HTTP {details.http_status}")
    endpoints = Endpoints.parse(details.data)
    credentials_url = endpoints.any("credentials")
    if credentials_url is None:
        raise OcpiClientError("hub version details list no credentials endpoint")
    answer = await call(
        client,
        "POST",
        credentials_url,
        token_a,
        json={"token": token_b, "url": own_versions_url, "roles": roles},
    )
    if not answer.ok or not isinstance(answer.data, dict):
        raise OcpiClientError(
            f"credentials POST: HTTP {answer.http_status} status {answer.status_code}"
        )
    hub_roles = list(answer.data.get("roles") or [])
    hubs = [r for r in hub_roles if r.get("role") == "HUB"] or hub_roles
    hub = hubs[0] if hubs else None
    if hub is None:
        raise OcpiClientError("hub credentials carry no role")
    return Registration(
        token_c=str(answer.data["token"]),
        endpoints=endpoints,
        hub_party=PartyRef.of(hub["country_code"], hub["party_id"]),
        hub_roles=hub_roles,
    )


class HubClient:
    """A registered party talking to the hub's functional modules."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        me: PartyRef,
        clock: SimClock,
        registration: Registration,
    ) -> None:
        self.http = http
        self.me = me
        self.clock = clock
        self.registration = registration

    @property
    def hub(self) -> PartyRef:
        return self.registration.hub_party

    async def send(
        self,
        method: str,
        module: str,
        role: str,
        suffix: str = "",
        *,
        to: PartyRef | None,
        body: Any = None,
        params: dict[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> Reply:
        """A request to the hub's ``module`` endpoint of ``role``; TO = hub means broadcast."""
        base = self.registration.endpoints.url(module, role)
        if base is None:
            raise OcpiClientError(f"hub offers no {module} {role} endpoint")
        return await self.send_url(
            method, base + suffix, to=to, body=body, params=params, correlation_id=correlation_id
        )

    async def send_url(
        self,
        method: str,
        url: str,
        *,
        to: PartyRef | None,
        body: Any = None,
        params: dict[str, str] | None = None,
        correlation_id: str | None = None,
    ) -> Reply:
        headers = routing_headers(self.me, to)
        if correlation_id:
            headers[CORRELATION_ID] = correlation_id
        try:
            reply = await call(
                self.http,
                method,
                url,
                self.registration.token_c,
                json=body,
                params=params,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            log.warning("%s %s %s failed: %s", self.me, method, url, exc)
            return Reply(0, None, None, httpx.Headers())
        if not reply.ok:
            log.info(
                "%s %s %s -> HTTP %s OCPI %s",
                self.me,
                method,
                url,
                reply.http_status,
                reply.status_code,
            )
        return reply
