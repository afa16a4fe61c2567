"""The credentials handshake, as Receiver (POST/PUT/DELETE from a peer) and as Sender.

Network calls to the peer happen outside database transactions; the registry is changed in
one transaction at the end, so a failed handshake stores nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from incar.columns import utcnow
from ocpi_adapter import credentials_token
from ocpi_adapter.client import PeerAuth
from ocpi_adapter.context import Hub
from ocpi_adapter.credentials.policy import check_endpoints
from ocpi_adapter.envelope import dumps
from ocpi_adapter.errors import (
    InvalidParameters,
    MethodNotAllowed,
    OcpiError,
    UnableToUseClientApi,
    Unauthorized,
)
from ocpi_adapter.headers import PartyRef, Trace, new_id
from ocpi_adapter.hubclientinfo import push as clientinfo
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.platforms.service import Caller, TokenKind
from ocpi_adapter.types import ConnectionStatus, ModuleID
from ocpi_adapter.validation import ObjectKind, validate
from ocpi_adapter.versions.discovery import PeerVersion, discover, endpoint_url

log = logging.getLogger("incar.hub.credentials")


def hub_credentials(hub: Hub, token: str) -> dict[str, Any]:
    """The hub's Credentials object: it only ever reports itself, as HUB (check 54)."""
    details: dict[str, Any] = {"name": hub.settings.hub_name}
    if hub.settings.hub_website:
        details["website"] = hub.settings.hub_website
    return {
        "token": token,
        "url": hub.settings.versions_url,
        "roles": [
            {
                "role": "HUB",
                "business_details": details,
                "party_id": hub.settings.hub_party_id,
                "country_code": hub.settings.hub_country_code,
            }
        ],
    }


def _parse(body: Any) -> dict[str, Any]:
    validate(ObjectKind.CREDENTIALS, body)
    assert isinstance(body, dict)
    refs = [PartyRef.of(r["country_code"], r["party_id"]) for r in body["roles"]]
    seen = set()
    for ref, role in zip(refs, body["roles"], strict=True):
        if role["role"] == "HUB":
            raise InvalidParameters("a platform connecting to the hub cannot have the role HUB")
        if (ref, role["role"]) in seen:
            raise InvalidParameters(f"role {role['role']} of {ref} is listed twice")
        seen.add((ref, role["role"]))
    return body


async def _discover(hub: Hub, body: dict[str, Any], legacy: bool) -> PeerVersion:
    peer = await discover(
        hub.client,
        versions_url=body["url"],
        auth=PeerAuth(body["token"], legacy),
        hub_url=hub.settings.base_url,
    )
    check_endpoints(peer.endpoints, body["roles"])
    return peer


async def register(hub: Hub, caller: Caller, body: Any) -> dict[str, Any]:
    """POST credentials with token A: the peer registers (credentials_registration)."""
    if caller.kind is not TokenKind.REGISTRATION:
        raise MethodNotAllowed("this platform is already registered; use PUT to update")
    credentials = _parse(body)
    refs = [PartyRef.of(r["country_code"], r["party_id"]) for r in credentials["roles"]]
    async with hub.db.transaction() as tx:
        await platforms.ensure_free(tx, refs=refs, platform_id=caller.platform.id)
    peer = await _discover(hub, credentials, caller.platform.legacy_raw_token)
    token_c = credentials_token.generate()
    async with hub.db.transaction() as tx:
        platform = await tx.get(Platform, caller.platform.id)
        # The token A may have been used by a concurrent POST in the meantime.
        if platform is None or platform.token_a_digest != credentials_token.digest(caller.token):
            raise Unauthorized("the registration token is no longer valid")
        _store(platform, credentials, peer, token_c)
        platform.token_a_digest = None
        changed = await platforms.set_roles(tx, platform=platform, roles=credentials["roles"])
        await _announce(hub, tx, platform, changed)
    await hub.callers.changed()
    return hub_credentials(hub, token_c)


async def update(hub: Hub, caller: Caller, body: Any) -> dict[str, Any]:
    """PUT credentials with token C: new token both ways, endpoints fetched again."""
    if caller.kind is not TokenKind.CREDENTIALS:
        raise MethodNotAllowed("this platform is not registered yet; use POST to register")
    credentials = _parse(body)
    peer = await _discover(hub, credentials, caller.platform.legacy_raw_token)
    token_c = credentials_token.generate()
    async with hub.db.transaction() as tx:
        platform = await tx.get(Platform, caller.platform.id)
        if platform is None or platform.token_c_digest != credentials_token.digest(caller.token):
            raise Unauthorized("the credentials token is no longer valid")
        was_connected = platform.status is ConnectionStatus.CONNECTED
        _store(platform, credentials, peer, token_c)
        changed = await platforms.set_roles(tx, platform=platform, roles=credentials["roles"])
        if was_connected:
            await clientinfo.push(hub, tx, changed)
        else:
            await _announce(hub, tx, platform, changed)
    await hub.callers.changed()
    return hub_credentials(hub, token_c)


async def unregister(hub: Hub, caller: Caller) -> None:
    """DELETE credentials with token C: both sides stop all automated communication."""
    if caller.kind is not TokenKind.CREDENTIALS:
        raise MethodNotAllowed("this platform is not registered")
    async with hub.db.transaction() as tx:
        platform = await tx.get(Platform, caller.platform.id)
        if platform is None:
            raise Unauthorized("unknown platform")
        platform.token_c_digest = None
        platform.outgoing_token = None
        changed = await platforms.set_status(
            tx, platform=platform, status=ConnectionStatus.SUSPENDED
        )
        await clientinfo.push(hub, tx, changed)
    await hub.callers.changed()


def _store(
    platform: Platform, credentials: dict[str, Any], peer: PeerVersion, token_c: str
) -> None:
    now = utcnow()
    platform.outgoing_token = credentials["token"]
    platform.token_c_digest = credentials_token.digest(token_c)
    platform.versions_url = credentials["url"]
    platform.version = peer.version
    platform.endpoints = peer.endpoints
    platform.status = ConnectionStatus.CONNECTED
    platform.registered_at = now
    platform.last_seen_at = now
    names = [r.get("business_details", {}).get("name") for r in credentials["roles"]]
    if platform.name.startswith("pending-") and names and names[0]:
        platform.name = names[0]


async def _announce(
    hub: Hub, tx: AsyncSession, platform: Platform, changed: Sequence[Party]
) -> None:
    await clientinfo.push(hub, tx, changed)
    await clientinfo.welcome(hub, tx, platform)


async def connect(
    hub: Hub, *, versions_url: str, token_a: str, legacy_raw_token: bool = False
) -> Platform:
    """The hub as Sender: registers itself at a peer that issued it ``token_a``.

    The hub's token B must already authenticate when the peer calls back during the POST, so it
    is stored first as a registration token; it becomes the credentials token on success.
    """
    auth = PeerAuth(token_a, legacy_raw_token)
    peer = await discover(
        hub.client, versions_url=versions_url, auth=auth, hub_url=hub.settings.base_url
    )
    credentials_url = endpoint_url(peer.endpoints, ModuleID.CREDENTIALS, None)
    if credentials_url is None:
        raise UnableToUseClientApi("the peer's version details lack the credentials endpoint")
    token_b = credentials_token.generate()
    async with hub.db.transaction() as tx:
        platform = Platform(
            name=f"pending-{new_id()[:8]}",
            token_a_digest=credentials_token.digest(token_b),
            legacy_raw_token=legacy_raw_token,
            versions_url=versions_url,
        )
        tx.add(platform)
    try:
        answer = await _post_credentials(hub, credentials_url, auth, token_b)
        peer = await discover(
            hub.client,
            versions_url=answer["url"],
            auth=PeerAuth(answer["token"], legacy_raw_token),
            hub_url=hub.settings.base_url,
        )
        async with hub.db.transaction() as tx:
            stored = await tx.get(Platform, platform.id)
            assert stored is not None
            stored.token_a_digest = None
            # The hub issued B and received C: B is the token the peer presents to the hub.
            _store(stored, answer, peer, token_b)
            changed = await platforms.set_roles(tx, platform=stored, roles=answer["roles"])
            await _announce(hub, tx, stored, changed)
    except OcpiError:
        async with hub.db.transaction() as tx:
            pending = await tx.get(Platform, platform.id)
            if pending is not None:
                await tx.delete(pending)
        raise
    await hub.callers.changed()
    return stored


async def _post_credentials(hub: Hub, url: str, auth: PeerAuth, token_b: str) -> dict[str, Any]:
    trace = Trace(request_id=new_id(), correlation_id=new_id())
    response = await hub.client.request(
        "POST",
        url,
        auth=auth,
        headers=trace.as_headers(),
        body=dumps(hub_credentials(hub, token_b)),
        # The peer calls the hub back during this POST; give it more than one hop's deadline.
        deadline=max(hub.client.timeout * 3, 30.0),
    )
    return _credentials_answer(response.status, response.body)


def _credentials_answer(status: int, body: bytes) -> dict[str, Any]:
    if status == 405:
        raise MethodNotAllowed("the peer answered 405: the hub is already registered there")
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UnableToUseClientApi(f"the peer answered HTTP {status} without JSON") from None
    if not isinstance(envelope, dict):
        raise UnableToUseClientApi("the peer's answer is not an OCPI envelope")
    code = envelope.get("status_code")
    if status != 200 or code != 1000:
        message = envelope.get("status_message") or ""
        raise OcpiError(
            f"the peer refused the registration: HTTP {status}, status {code} {message}".strip(),
            status=UnableToUseClientApi.status,
        )
    data = envelope.get("data")
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    validate(ObjectKind.CREDENTIALS, data)
    assert isinstance(data, dict)
    return data
