"""A simulated CPO's own OCPI server over real HTTP: versions, details, Sender lists."""

from __future__ import annotations

import httpx

from ocpi_adapter.validation import ObjectKind, validate
from simulator.cpo import SimCpo
from simulator.ocpi_client import next_link
from simulator.protocol import parse_timestamp
from tests.simulator.conftest import STATIONS, ocpi_headers


async def test_versions_and_details_list_the_cpo_interfaces(cpo: SimCpo) -> None:
    async with httpx.AsyncClient() as http:
        versions = (await http.get(cpo.versions_url, headers=ocpi_headers(cpo.token_b))).json()
        assert versions["status_code"] == 1000
        assert versions["timestamp"].endswith("Z")
        [v221] = [v for v in versions["data"] if v["version"] == "2.2.1"]
        details = (await http.get(v221["url"], headers=ocpi_headers(cpo.token_b))).json()
    endpoints = {(e["identifier"], e["role"]) for e in details["data"]["endpoints"]}
    assert details["data"]["version"] == "2.2.1"
    assert {
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "RECEIVER"),
        ("hubclientinfo", "RECEIVER"),
    } <= endpoints


async def test_an_unknown_or_missing_token_gets_401(cpo: SimCpo) -> None:
    async with httpx.AsyncClient() as http:
        wrong = await http.get(cpo.versions_url, headers=ocpi_headers("not-the-token"))
        missing = await http.get(cpo.versions_url)
    assert wrong.status_code == missing.status_code == 401
    assert wrong.json()["status_code"] == 2000


async def test_walking_the_location_pages_returns_every_location_once(cpo: SimCpo) -> None:
    url: str | None = f"{cpo.server.base_url}/ocpi/2.2.1/locations?limit=3"
    seen: list[str] = []
    pages = []
    async with httpx.AsyncClient() as http:
        while url:
            response = await http.get(url, headers=ocpi_headers(cpo.token_b))
            assert response.json()["status_code"] == 1000
            assert response.headers["X-Total-Count"] == str(STATIONS)
            assert response.headers["X-Limit"] == "3"
            pages.append(len(response.json()["data"]))
            for location in response.json()["data"]:
                validate(ObjectKind.LOCATION, location)
                seen.append(location["id"])
            url = next_link(response.headers.get("Link"))
    assert pages == [3, 3, 1]
    assert sorted(seen) == sorted(cpo.locations)


async def test_a_limit_above_the_maximum_is_capped(cpo: SimCpo) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{cpo.server.base_url}/ocpi/2.2.1/tariffs/?limit=5000",
            headers=ocpi_headers(cpo.token_b),
        )
    assert response.headers["X-Limit"] == "50"
    assert "Link" not in response.headers
    assert [t["id"] for t in response.json()["data"]] == sorted(cpo.tariffs)


async def test_date_from_selects_what_changed_since(cpo: SimCpo) -> None:
    location = next(iter(cpo.locations.values()))
    await cpo.set_status(location, location["evses"][0], "OUTOFORDER")
    since = location["last_updated"]
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{cpo.server.base_url}/ocpi/2.2.1/locations",
            params={"date_from": since},
            headers=ocpi_headers(cpo.token_b),
        )
    assert [loc["id"] for loc in response.json()["data"]] == [location["id"]]
    assert parse_timestamp(response.json()["data"][0]["last_updated"]) >= parse_timestamp(since)
    assert response.json()["data"][0]["evses"][0]["status"] == "OUTOFORDER"


async def test_one_connector_by_path_and_trace_headers_echoed(cpo: SimCpo) -> None:
    location = next(iter(cpo.locations.values()))
    evse = location["evses"][0]
    async with httpx.AsyncClient() as http:
        response = await http.get(
            f"{cpo.server.base_url}/ocpi/2.2.1/locations/{location['id']}/{evse['uid']}/1",
            headers=ocpi_headers(
                cpo.token_b,
                **{
                    "X-Request-ID": "req-1",
                    "X-Correlation-ID": "corr-1",
                    "OCPI-from-country-code": "FI",
                    "OCPI-from-party-id": "ICR",
                },
            ),
        )
        unknown = await http.get(
            f"{cpo.server.base_url}/ocpi/2.2.1/locations/NOPE",
            headers=ocpi_headers(cpo.token_b),
        )
    assert response.json()["data"] == evse["connectors"][0]
    assert response.headers["X-Request-ID"] == "req-1"
    assert response.headers["X-Correlation-ID"] == "corr-1"
    assert response.headers["OCPI-from-party-id"] == "CPA"
    assert response.headers["OCPI-to-party-id"] == "ICR"
    assert unknown.status_code == 404
    assert unknown.json()["status_code"] == 2003


async def test_client_info_pushed_by_the_hub_is_stored(cpo: SimCpo) -> None:
    info = {
        "party_id": "EMB",
        "country_code": "FI",
        "role": "EMSP",
        "status": "SUSPENDED",
        "last_updated": "2025-01-01T00:00:00Z",
    }
    async with httpx.AsyncClient() as http:
        put = await http.put(
            f"{cpo.server.base_url}/ocpi/2.2.1/hubclientinfo/FI/EMB",
            json=info,
            headers=ocpi_headers(cpo.token_b),
        )
        got = await http.get(
            f"{cpo.server.base_url}/ocpi/2.2.1/hubclientinfo/fi/emb",
            headers=ocpi_headers(cpo.token_b),
        )
    assert put.json()["status_code"] == 1000
    assert "OCPI-from-party-id" not in put.headers  # configuration module: no routing headers
    assert got.json()["data"] == info
    assert cpo.identity.connected("EMSP") == []
