"""Paths, query parameters and timestamps are read strictly, the same on both databases.

Over real HTTP against a hub with a strict CPO and a strict eMSP: every refused request gets
2001 (HTTP 200), the hub stores nothing and forwards nothing; the positive controls beside
them pass. docs/policies.md, "Paths, parameters and clocks".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import orjson
import pytest

from incar.timestamps import format_timestamp
from tests.conformance.support import (
    assert_envelope,
    get_all,
    hub_party,
    location,
    register_all,
    token,
)
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.stored import row_counts

CPO = ("NL", "CPA")
EMSP = ("DE", "EMA")
SKEW = 60.0  # INCAR_MAX_CLOCK_SKEW of the hub under test


@dataclass
class Network:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer

    def clear(self) -> None:
        self.cpo.received.clear()
        self.emsp.received.clear()

    def functional(self) -> list[str]:
        return [
            f"{r.method} {r.path}"
            for peer in (self.cpo, self.emsp)
            for r in peer.received
            if "/hubclientinfo/" not in r.path
        ]


@pytest.fixture(scope="module")
async def network() -> AsyncIterator[Network]:
    async with (
        running_hub(max_clock_skew=SKEW) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        yield Network(hub, cpo, emsp)


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: Any


async def raw(
    network: Network, peer: StrictPeer, method: str, path: str, *, to: tuple[str, str], body: Any
) -> Answer:
    """One request with its path exactly as given: an HTTP client would remove dot segments
    (RFC 3986) before sending, an attacker's does not."""
    host, port = urlsplit(network.hub.url).hostname, urlsplit(network.hub.url).port
    assert host is not None and port is not None
    content = orjson.dumps(body) if body is not None else b""
    headers = {
        "Host": f"{host}:{port}",
        **peer.routing(to),
        **peer.auth(),
        "Content-Length": str(len(content)),
        "Connection": "close",
    }
    if body is not None:
        headers["Content-Type"] = "application/json"
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(head.encode() + b"\r\n" + content)
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return Answer(int(status_line.split()[1]), orjson.loads(payload))


async def refused(network: Network, answer: httpx.Response | Answer, fragment: str) -> None:
    await network.hub.settle()
    body = answer.body if isinstance(answer, Answer) else assert_envelope(answer)
    assert (answer.status_code, body["status_code"]) == (200, 2001), body
    assert fragment in body["status_message"], body
    assert network.functional() == [], "something was forwarded"
    assert await row_counts(network.hub) == {}, "something was stored"


def location_url(network: Network, suffix: str) -> str:
    return f"{network.hub.endpoint('locations', 'receiver')}/{suffix}"


# --- paths ------------------------------------------------------------------------------------
BAD_PATHS: dict[str, tuple[str, str]] = {
    # a receiver that normalises dot segments (nginx does) would read NL/CPB/L1
    "dot dot": ("NL/CPA/../CPB/L1", "dot segment"),
    "dot": ("NL/CPA/./L1", "dot segment"),
    "encoded dot dot": ("NL/CPA/%2e%2E/CPB/L1", "dot segment"),
    "encoded slash": ("NL/CPA/L1%2FE1", "encoded '/'"),
    "encoded backslash": ("NL/CPA/L1%5cE1", "encoded '/'"),
    "NUL": ("NL/CPA/L%001", "not a CiString"),
    "line feed": ("NL/CPA/L%0A1", "not a CiString"),
    "not ASCII": ("NL/CPA/L%C3%A91", "not a CiString"),
    "not UTF-8": ("NL/CPA/L%FF1", "not UTF-8"),
    "37 characters": ("NL/CPA/" + "L" * 37, "longer than 36"),
}


@pytest.mark.parametrize("name", list(BAD_PATHS))
async def test_a_path_a_receiver_could_read_otherwise_is_refused(
    network: Network, name: str
) -> None:
    suffix, fragment = BAD_PATHS[name]
    network.clear()
    base = "/ocpi/2.2.1/locations"
    for method, body in (("PUT", location(*CPO, "L1")), ("GET", None)):
        answer = await raw(
            network, network.cpo, method, f"{base}/receiver/{suffix}", to=EMSP, body=body
        )
        await refused(network, answer, fragment)
    by_id = f"{base}/sender/{suffix.removeprefix('NL/CPA/')}"
    await refused(
        network, await raw(network, network.emsp, "GET", by_id, to=CPO, body=None), fragment
    )


async def test_ids_of_every_allowed_kind_pass(network: Network) -> None:
    network.clear()
    for location_id in ("L.1", "a b", "L" * 36, "~!$&'()*+,;=:@"):
        encoded = quote(location_id, safe="")
        answer = await network.emsp.call(
            "GET", f"{network.hub.endpoint('locations', 'sender')}/{encoded}", to=CPO
        )
        assert assert_envelope(answer)["status_code"] == 1000, (location_id, answer.text)
    # The strict peer records the decoded path.
    assert network.functional() == [
        f"GET /locations/sender/{i}" for i in ("L.1", "a b", "L" * 36, "~!$&'()*+,;=:@")
    ]


# --- query parameters -------------------------------------------------------------------------
BAD_QUERIES: dict[str, tuple[str, str]] = {
    "offset 2^63": ("offset=9223372036854775808", "offset"),
    "offset beyond the bound": ("offset=1000000001", "offset"),
    "superscript two": ("offset=%C2%B2", "offset"),
    "limit superscript": ("limit=%C2%B2", "limit"),
    "negative offset": ("offset=-1", "offset"),
    "offset twice": ("offset=0&offset=5", "given 2 times"),
    "limit of 23 digits": ("limit=" + "9" * 23, "limit"),
    "date_from with an offset": ("date_from=0001-01-01T00:00:00%2B01:00", "date_from"),
    "date_to with a negative offset": ("date_to=9999-12-31T23:59:59-01:00", "date_to"),
    "date_from of year 0": ("date_from=0000-01-01T00:00:00Z", "date_from"),
    "date_to not a date": ("date_to=yesterday", "date_to"),
}


@pytest.mark.parametrize("name", list(BAD_QUERIES))
async def test_a_bad_list_parameter_is_refused(network: Network, name: str) -> None:
    query, fragment = BAD_QUERIES[name]
    network.clear()
    for peer, module in ((network.emsp, "locations"), (network.cpo, "tokens")):
        url = f"{network.hub.endpoint(module, 'sender')}?{query}"
        await refused(network, await peer.call("GET", url, to=hub_party(network.hub)), fragment)
    clientinfo = f"{network.hub.url}/ocpi/2.2.1/hubclientinfo?{query}"
    answer = await network.emsp.call("GET", clientinfo, routing=False)
    await refused(network, answer, fragment)


async def test_extreme_but_valid_list_parameters_are_answered(network: Network) -> None:
    network.clear()
    queries = [
        "date_from=0001-01-01T00:00:00Z&date_to=9999-12-31T23:59:59.999Z",
        "date_from=9999-12-31T23:59:59Z",
        "offset=1000000000&limit=9999999999",
        "offset=0007&limit=0",
    ]
    for query in queries:
        url = f"{network.hub.endpoint('locations', 'sender')}?{query}"
        answer = await network.emsp.call("GET", url, to=hub_party(network.hub))
        body = assert_envelope(answer)
        assert body["status_code"] == 1000, (query, answer.text)
        assert body["data"] == []
    assert network.functional() == []


async def test_the_parameters_the_hub_reads_itself_are_checked_before_routing(
    network: Network,
) -> None:
    network.clear()
    tokens = f"{network.hub.endpoint('tokens', 'receiver')}/DE/EMA/T1"
    patch = {"valid": False, "last_updated": "2026-01-02T00:00:00Z"}
    for query, fragment in (
        ("type=KEYFOB", "type must be one of"),
        ("type=RFID&type=APP_USER", "given 2 times"),
    ):
        answer = await network.emsp.call("PATCH", f"{tokens}?{query}", to=CPO, json=patch)
        await refused(network, answer, fragment)
    profiles = f"{network.hub.endpoint('chargingprofiles', 'receiver')}/S1"
    good = quote(f"{network.emsp.url}/results/1", safe="")
    for query, fragment in (
        (f"duration=900&response_url={good}&response_url={good}", "given 2 times"),
        ("duration=900&response_url=not-a-url", "not an absolute URL"),
        ("duration=900", "response_url is required"),
    ):
        answer = await network.emsp.call("GET", f"{profiles}?{query}", to=CPO)
        await refused(network, answer, fragment)
    # Parameters the hub does not read pass as they came (check 57).
    answer = await network.emsp.call("PATCH", f"{tokens}?type=APP_USER&x=1&x=2", to=CPO, json=patch)
    assert assert_envelope(answer)["status_code"] == 1000, answer.text
    (forwarded,) = network.cpo.requests("PATCH", "/tokens/receiver/DE/EMA/T1")
    assert forwarded.query == "type=APP_USER&x=1&x=2"


# --- clocks -----------------------------------------------------------------------------------
def ahead(seconds: float) -> str:
    return format_timestamp(datetime.now(UTC) + timedelta(seconds=seconds))


async def test_a_last_updated_beyond_the_accepted_skew_is_refused_at_any_depth(
    network: Network,
) -> None:
    network.clear()
    url = location_url(network, "NL/CPA/L9")
    far = location(*CPO, "L9", last_updated="9999-12-31T00:00:00Z")
    nested = location(*CPO, "L9")
    nested["evses"][0]["connectors"][0]["last_updated"] = ahead(10 * SKEW)
    for body in (far, nested):
        answer = await network.cpo.call("PUT", url, to=hub_party(network.hub), json=body)
        await refused(network, answer, "ahead of the hub's clock")
    tokens = f"{network.hub.endpoint('tokens', 'receiver')}/DE/EMA/T9"
    answer = await network.emsp.call(
        "PUT", tokens, to=CPO, json=token(*EMSP, "T9", last_updated=ahead(2 * SKEW))
    )
    await refused(network, answer, "ahead of the hub's clock")


async def test_a_stamp_within_the_skew_is_accepted_and_later_updates_still_win() -> None:
    async with (
        running_hub(max_clock_skew=SKEW) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        url = f"{hub.endpoint('locations', 'receiver')}/NL/CPA/L8"
        soon = location(*CPO, "L8", last_updated=ahead(SKEW / 2), name="first")
        answer = await cpo.call("PUT", url, to=hub_party(hub), json=soon)
        assert assert_envelope(answer)["status_code"] == 1000, answer.text
        later = {**soon, "name": "second", "last_updated": ahead(SKEW * 0.9)}
        answer = await cpo.call("PUT", url, to=hub_party(hub), json=later)
        assert assert_envelope(answer)["status_code"] == 1000, answer.text
        await hub.settle()
        items, _ = await get_all(emsp, hub.endpoint("locations", "sender"), hub_party(hub))
        assert [(i["id"], i["name"]) for i in items] == [("L8", "second")]
        sent = [orjson.loads(r.body)["name"] for r in emsp.requests("PUT", "/locations/")]
        assert sent == ["first", "second"]


async def test_ids_of_one_owner_that_differ_in_case_are_one_object() -> None:
    """CiString: "loc9" and "LOC9" of one owner are one object, its children too."""
    async with (
        running_hub() as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        receiver = hub.endpoint("locations", "receiver")
        first = location(*CPO, "loc9", last_updated="2026-01-01T00:00:00Z")
        second = location(*CPO, "LOC9", last_updated="2026-01-02T00:00:00Z", name="second")
        for path, body in (("nl/cpa/loc9", first), ("NL/CPA/LOC9", second)):
            answer = await cpo.call("PUT", f"{receiver}/{path}", to=hub_party(hub), json=body)
            assert assert_envelope(answer)["status_code"] == 1000, answer.text
        patch = {"status": "CHARGING", "last_updated": "2026-01-03T00:00:00Z"}
        answer = await cpo.call(
            "PATCH", f"{receiver}/NL/CPA/Loc9/LOC9-e1", to=hub_party(hub), json=patch
        )
        assert assert_envelope(answer)["status_code"] == 1000, answer.text
        await hub.settle()
        items, _ = await get_all(emsp, hub.endpoint("locations", "sender"), hub_party(hub))
        assert [(i["id"], i["name"], i["evses"][0]["status"]) for i in items] == [
            ("LOC9", "second", "CHARGING")
        ]
        assert await row_counts(hub) == {"location": 1}
