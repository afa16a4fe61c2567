"""Reads a peer's versions and 2.2.1 version details (credentials handshake, still-alive)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocpi_adapter.client import PeerAuth, PeerClient
from ocpi_adapter.errors import (
    NoMatchingEndpoints,
    OcpiError,
    UnableToUseClientApi,
    UnsupportedVersion,
)
from ocpi_adapter.headers import Trace, new_id
from ocpi_adapter.types import OCPI_VERSION, InterfaceRole, ModuleID
from ocpi_adapter.urls import under


@dataclass(frozen=True, slots=True)
class PeerVersion:
    version: str
    details_url: str
    endpoints: list[dict[str, Any]]


async def _get_data(client: PeerClient, url: str, auth: PeerAuth, what: str) -> Any:
    trace = Trace(request_id=new_id(), correlation_id=new_id())
    try:
        response = await client.request("GET", url, auth=auth, headers=trace.as_headers())
    except OcpiError as error:
        raise UnableToUseClientApi(f"could not GET {what} at {url}: {error.message}") from None
    if response.status != 200:
        raise UnableToUseClientApi(f"GET {what} at {url} answered HTTP {response.status}")
    try:
        body = response.json()
    except ValueError:
        raise UnableToUseClientApi(f"GET {what} at {url} did not answer JSON") from None
    if not isinstance(body, dict) or body.get("status_code") != 1000 or "data" not in body:
        raise UnableToUseClientApi(f"GET {what} at {url} did not answer an OCPI 1000 envelope")
    return body["data"]


def _single(data: Any) -> Any:
    # Some peers wrap single objects in a list (a known quirk of py-ocpi based platforms).
    if isinstance(data, list) and len(data) == 1:
        return data[0]
    return data


async def ping(client: PeerClient, *, versions_url: str, auth: PeerAuth) -> None:
    """Still-alive check: a GET on the versions endpoint (mod_hub_client_info)."""
    await _get_data(client, versions_url, auth, "versions")


def _not_the_hub(url: str, hub_url: str, what: str) -> None:
    """A peer's URL that leads to the hub itself is no API of the peer's (policy): the hub would
    call itself, and forward to itself, in a loop. Refused before anything is sent to it."""
    if under(url, hub_url):
        raise UnableToUseClientApi(f"the {what} {url} is this hub's own URL, not the platform's")


async def discover(
    client: PeerClient, *, versions_url: str, auth: PeerAuth, hub_url: str
) -> PeerVersion:
    """The peer's 2.2.1 endpoints; none of its URLs may lead to ``hub_url`` (the hub's own)."""
    _not_the_hub(versions_url, hub_url, "versions URL")
    versions = await _get_data(client, versions_url, auth, "versions")
    if not isinstance(versions, list):
        raise UnableToUseClientApi(f"versions at {versions_url} is not a list")
    match = [v for v in versions if isinstance(v, dict) and v.get("version") == OCPI_VERSION]
    if not match or not isinstance(match[0].get("url"), str):
        offered = ", ".join(str(v.get("version")) for v in versions if isinstance(v, dict))
        raise UnsupportedVersion(f"the peer offers versions [{offered}], not {OCPI_VERSION}")
    details_url = match[0]["url"]
    _not_the_hub(details_url, hub_url, "version details URL")
    details = _single(await _get_data(client, details_url, auth, "version details"))
    if not isinstance(details, dict) or not isinstance(details.get("endpoints"), list):
        raise UnableToUseClientApi(f"version details at {details_url} have no endpoints list")
    endpoints = []
    for raw in details["endpoints"]:
        if not isinstance(raw, dict):
            continue
        identifier, role, url = raw.get("identifier"), raw.get("role"), raw.get("url")
        if isinstance(identifier, str) and isinstance(url, str):
            if under(url, hub_url):
                # Not an endpoint of the platform's (3003, as a required one that is missing).
                raise NoMatchingEndpoints(
                    f"the {identifier} {role} endpoint {url} is this hub's own URL"
                )
            endpoints.append({"identifier": identifier, "role": role, "url": url})
    return PeerVersion(version=OCPI_VERSION, details_url=details_url, endpoints=endpoints)


def endpoint_url(
    endpoints: list[dict[str, Any]], module: ModuleID, role: InterfaceRole | None
) -> str | None:
    """The peer's URL for a module and interface (for credentials the role is disregarded)."""
    for endpoint in endpoints:
        if endpoint.get("identifier") != module:
            continue
        if role is None or module is ModuleID.CREDENTIALS or endpoint.get("role") == role:
            url = endpoint.get("url")
            return url if isinstance(url, str) else None
    return None
