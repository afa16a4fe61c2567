"""Conformance checks 29-31 (E. Pagination).

29: the lists the hub serves itself (hubclientinfo, GET All via the hub) filter on
``last_updated`` (date_from inclusive, date_to exclusive), count per client, cap the limit and
link to the next page with the filters kept. docs/policies.md (GET All) fixes the order: the
order in which the hub first stored each object, so a walk sees every object once.
30/31: a paginated GET forwarded to one party keeps the peer's counts, and its next-page Link is
moved onto the hub; no URL into a peer (Link, Location, response_url) reaches another party.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, parse_qsl, quote, urlencode, urlsplit

import httpx
import pytest
from starlette.responses import Response

from incar.timestamps import parse_timestamp
from tests.conformance.support import (
    Party,
    addressed,
    assert_envelope,
    cdr,
    charging_session,
    hub_party,
    location,
    register_all,
)
from tests.peers.extrawest.launcher import ExtrawestPeer
from tests.peers.extrawest.registration import register_extrawest
from tests.peers.strict.peer import Received, StrictPeer, envelope, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub

CPO: Party = ("NL", "CPA")
EMSP: Party = ("DE", "EMA")
# A platform with a CPO and an eMSP role offers what the hub asks of both.
BOTH: dict[str, list[str]] = {
    "locations": ["SENDER"],
    "tariffs": ["SENDER"],
    "sessions": ["SENDER"],
    "cdrs": ["SENDER"],
    "tokens": ["SENDER", "RECEIVER"],
    "hubclientinfo": ["RECEIVER"],
}
NEXT = re.compile(r'^<([^<>]+)>; rel="next"$')


def next_url(response: httpx.Response) -> str | None:
    """The target of the ``Link: <...>; rel="next"`` header, or None on the last page."""
    value = response.headers.get("link")
    if value is None:
        return None
    match = NEXT.match(value)
    assert match is not None, value
    return match.group(1)


def query_of(url: str) -> dict[str, str]:
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    assert len({k for k, _ in pairs}) == len(pairs), url  # no parameter twice
    return dict(pairs)


def ids(items: list[Any]) -> list[str]:
    return [str(item["id"]) for item in items]


def clientinfo_url(hub: HubUnderTest) -> str:
    return f"{hub.url}/ocpi/2.2.1/hubclientinfo"


async def hub_get(peer: StrictPeer, url: str, to: Party | None) -> httpx.Response:
    """A hub list GET: hubclientinfo without routing headers, functional modules with them."""
    answer = await peer.call("GET", url, to=to, routing="hubclientinfo" not in url)
    assert answer.status_code == 200, answer.text
    assert assert_envelope(answer)["status_code"] == 1000, answer.text
    return answer


async def walk(peer: StrictPeer, url: str, to: Party | None) -> list[httpx.Response]:
    """Every page from ``url`` on, following the next-page Links."""
    pages: list[httpx.Response] = []
    target: str | None = url
    while target is not None:
        assert len(pages) < 50, "the Links do not end"
        pages.append(await hub_get(peer, target, to))
        target = next_url(pages[-1])
    return pages


def items_of(pages: list[httpx.Response]) -> list[Any]:
    return [item for page in pages for item in page.json()["data"]]


async def publish_locations(cpo: StrictPeer, hub: HubUnderTest, stamps: dict[str, str]) -> None:
    """Broadcast pushes of Locations (TO = hub), stored by the hub in this order."""
    for location_id, stamp in stamps.items():
        answer = await cpo.call(
            "PUT",
            f"{hub.endpoint('locations', 'receiver')}/{cpo.country_code}/{cpo.party_id}/"
            + location_id,
            to=cpo.hub_party,
            json=location(cpo.country_code, cpo.party_id, location_id, last_updated=stamp),
        )
        assert answer.json()["status_code"] == 1000, answer.text
    await hub.settle()


# Deliberately not in time order, with equal stamps: the hub's order must not depend on them.
STAMPS = {
    "L5": "2026-03-05T00:00:00Z",
    "L1": "2026-03-01T00:00:00Z",
    "L3": "2026-03-03T00:00:00Z",
    "L2": "2026-03-02T00:00:00Z",
    "L3b": "2026-03-03T00:00:00Z",
    "L4": "2026-03-04T00:00:00Z",
    "L3c": "2026-03-03T00:00:00Z",
}


# --- 29: lists the hub serves itself ---------------------------------------------------------
@pytest.mark.conformance(29)
async def test_check29_get_all_date_from_inclusive_date_to_exclusive(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        await publish_locations(cpo, hub, STAMPS)
        url = hub.endpoint("locations", "sender")
        cases = {
            # bounds equal to stored stamps: the lower one is in, the upper one is out
            "date_from=2026-03-03T00:00:00Z&date_to=2026-03-05T00:00:00Z": [
                "L3",
                "L3b",
                "L4",
                "L3c",
            ],
            "date_from=2026-03-05T00:00:00Z": ["L5"],
            "date_to=2026-03-02T00:00:00Z": ["L1"],
            # the same instants in other valid spellings
            "date_from=2026-03-02T00:00:00&date_to=2026-03-03T00:00:00.000Z": ["L2"],
            "date_from=2026-03-03T00:00:00.001Z&date_to=2026-03-04T00:00:00.001Z": ["L4"],
            "date_from=2026-03-04T00:00:00Z&date_to=2026-03-04T00:00:00Z": [],
        }
        for query, expected in cases.items():
            answer = await hub_get(emsp, f"{url}?{query}", to=emsp.hub_party)
            assert ids(answer.json()["data"]) == expected, query
            assert answer.headers["x-total-count"] == str(len(expected)), query
            assert "link" not in answer.headers, query


@pytest.mark.conformance(29)
async def test_check29_hubclientinfo_date_filters_and_count_for_this_client(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as viewer,
        running_peer(
            role="CPO",
            country_code="NL",
            party_id="CP1",
            extra_roles=[("EMSP", "NL", "EM1")],
            modules=BOTH,
        ) as first,
        running_peer(role="CPO", country_code="NL", party_id="CP2") as second,
        running_peer(role="CPO", country_code="NL", party_id="CP3") as third,
    ):
        await register_all(hub, viewer, first, second, third)
        whole = (await hub_get(viewer, clientinfo_url(hub), None)).json()["data"]
        # Every party but the viewer's own platform's, each once.
        parties = [(c["country_code"], c["party_id"]) for c in whole]
        assert sorted(parties) == [("NL", "CP1"), ("NL", "CP2"), ("NL", "CP3"), ("NL", "EM1")]
        # The platform with two roles sees the other three parties, not its own two.
        mine = await hub_get(first, clientinfo_url(hub), None)
        assert mine.headers["x-total-count"] == "3"
        assert sorted((c["country_code"], c["party_id"]) for c in mine.json()["data"]) == [
            ("DE", "EMA"),
            ("NL", "CP2"),
            ("NL", "CP3"),
        ]
        stamp = {(c["country_code"], c["party_id"]): c["last_updated"] for c in whole}
        lower, upper = stamp[("NL", "CP2")], stamp[("NL", "CP3")]
        assert lower < upper
        window = await hub_get(
            viewer,
            f"{clientinfo_url(hub)}?{urlencode({'date_from': lower, 'date_to': upper})}",
            None,
        )
        got = [(c["country_code"], c["party_id"]) for c in window.json()["data"]]
        assert got == [("NL", "CP2")]
        assert window.headers["x-total-count"] == "1"
        later = await hub_get(
            viewer, f"{clientinfo_url(hub)}?{urlencode({'date_from': upper})}", None
        )
        assert [(c["country_code"], c["party_id"]) for c in later.json()["data"]] == [("NL", "CP3")]


@pytest.mark.conformance(29)
async def test_check29_x_total_count_is_the_total_for_this_client(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        running_peer(role="EMSP", country_code="DE", party_id="EMB") as other,
    ):
        await register_all(hub, cpo, emsp, other)
        pushes = [
            (EMSP, "S1", "2026-01-01T00:01:00Z"),
            (EMSP, "S2", "2026-01-01T00:02:00Z"),
            (EMSP, "S3", "2026-01-01T00:03:00Z"),
            (("DE", "EMB"), "S4", "2026-01-01T00:04:00Z"),
        ]
        for owner, session_id, stamp in pushes:
            answer = await cpo.call(
                "PUT",
                f"{hub.endpoint('sessions', 'receiver')}/NL/CPA/{session_id}",
                to=owner,
                json=charging_session(CPO, session_id, owner, last_updated=stamp),
            )
            assert answer.json()["status_code"] == 1000, answer.text
        url = hub.endpoint("sessions", "sender")
        # Each eMSP counts its customers' sessions; the CPO does not read the Sessions list at
        # all (the role matrix: the sessions Sender interface is for eMSPs and SCSPs).
        expected = [(emsp, "3"), (other, "1")]
        for peer, total in expected:
            page = await hub_get(peer, f"{url}?limit=1", to=peer.hub_party)
            assert page.headers["x-total-count"] == total, peer.party_id
            assert len(page.json()["data"]) == 1
        refused = await cpo.call("GET", f"{url}?limit=1", to=cpo.hub_party)
        assert assert_envelope(refused)["status_code"] == 2001, refused.text
        # The filters count, limit and offset do not.
        filtered = await hub_get(
            emsp, f"{url}?offset=1&limit=1&date_from=2026-01-01T00:02:00Z", to=emsp.hub_party
        )
        assert filtered.headers["x-total-count"] == "2"
        assert ids(filtered.json()["data"]) == ["S3"]


@pytest.mark.conformance(29)
async def test_check29_x_limit_is_the_hub_maximum() -> None:
    async with (
        running_hub(page_limit=3) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        running_peer(role="CPO", country_code="NL", party_id="CP2") as cpo2,
        running_peer(role="CPO", country_code="NL", party_id="CP3") as cpo3,
        running_peer(role="CPO", country_code="NL", party_id="CP4") as cpo4,
    ):
        await register_all(hub, cpo, emsp, cpo2, cpo3, cpo4)
        await publish_locations(cpo, hub, STAMPS)
        url = hub.endpoint("locations", "sender")
        for query, returned in {"limit=2000": 3, "": 3, "limit=2": 2, "limit=3": 3}.items():
            answer = await hub_get(emsp, f"{url}?{query}", to=emsp.hub_party)
            assert answer.headers["x-limit"] == "3", query
            assert len(answer.json()["data"]) == returned, query
            assert answer.headers["x-total-count"] == str(len(STAMPS))
            link = next_url(answer)
            assert link is not None
            assert query_of(link) == {"offset": str(returned), "limit": str(returned)}
        # The last page is short; X-Limit still shows the maximum.
        last = await hub_get(emsp, f"{url}?offset=6&limit=2000", to=emsp.hub_party)
        assert last.headers["x-limit"] == "3"
        assert len(last.json()["data"]) == 1
        assert "link" not in last.headers
        infos = await hub_get(emsp, f"{clientinfo_url(hub)}?limit=2000", None)
        assert infos.headers["x-limit"] == "3"
        assert infos.headers["x-total-count"] == "4"
        assert len(infos.json()["data"]) == 3
        info_link = next_url(infos)
        assert info_link is not None
        assert info_link.startswith(clientinfo_url(hub) + "?")
        assert query_of(info_link) == {"offset": "3", "limit": "3"}


@pytest.mark.conformance(29)
async def test_check29_link_keeps_the_filters_and_is_absent_on_the_last_page(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        await publish_locations(cpo, hub, STAMPS)
        url = hub.endpoint("locations", "sender")
        filters = {"date_from": "2026-03-02T00:00:00Z", "date_to": "2026-03-05T00:00:00Z"}
        pages = await walk(emsp, f"{url}?{urlencode({**filters, 'limit': 2})}", emsp.hub_party)
        # 5 objects in the window: pages of 2, 2 and 1; the last one has no Link.
        assert [len(p.json()["data"]) for p in pages] == [2, 2, 1]
        for number, page in enumerate(pages[:-1], start=1):
            link = next_url(page)
            assert link is not None
            assert link.startswith(url + "?"), link
            assert query_of(link) == {**filters, "offset": str(2 * number), "limit": "2"}
            assert page.headers["x-total-count"] == "5"
            assert addressed(page) == (hub_party(hub), EMSP)
        assert "link" not in pages[-1].headers
        assert ids(items_of(pages)) == ["L3", "L2", "L3b", "L4", "L3c"]
        # A last page that is exactly full has no Link either.
        full = await walk(emsp, f"{url}?{urlencode({**filters, 'limit': 5})}", emsp.hub_party)
        assert len(full) == 1 and len(full[0].json()["data"]) == 5
        # Beyond the end: an empty page, no Link.
        beyond = await hub_get(emsp, f"{url}?offset=99", to=emsp.hub_party)
        assert beyond.json()["data"] == [] and "link" not in beyond.headers
        assert beyond.headers["x-total-count"] == str(len(STAMPS))


@pytest.mark.conformance(29)
async def test_check29_walking_returns_every_object_once_in_a_stable_order(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        await publish_locations(cpo, hub, STAMPS)
        url = hub.endpoint("locations", "sender")
        # Policy: the order in which the hub first stored each object.
        whole = ids((await hub_get(emsp, url, to=emsp.hub_party)).json()["data"])
        assert whole == list(STAMPS)
        for limit in (1, 2, 3, 6):
            pages = await walk(emsp, f"{url}?limit={limit}", emsp.hub_party)
            assert ids(items_of(pages)) == whole, limit
            again = await walk(emsp, f"{url}?limit={limit}", emsp.hub_party)
            assert [p.json()["data"] for p in again] == [p.json()["data"] for p in pages], limit

        # Changes while a client walks: an update keeps the object's place, a new object comes
        # last, so the walk still returns every object exactly once.
        first = await hub_get(emsp, f"{url}?limit=3", to=emsp.hub_party)
        seen = ids(first.json()["data"])
        await publish_locations(
            cpo, hub, {"L1": "2026-04-01T00:00:00Z", "L6": "2026-02-01T00:00:00Z"}
        )
        link = next_url(first)
        assert link is not None
        rest = await walk(emsp, link, emsp.hub_party)
        walked = seen + ids(items_of(rest))
        assert walked == [*STAMPS, "L6"]
        assert rest[0].headers["x-total-count"] == str(len(STAMPS) + 1)
        assert first.headers["x-total-count"] == str(len(STAMPS))


@pytest.mark.conformance(29)
async def test_check29_hubclientinfo_walk_returns_every_party_once() -> None:
    async with (
        running_hub(page_limit=2) as hub,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as viewer,
        running_peer(
            role="CPO",
            country_code="NL",
            party_id="CP1",
            extra_roles=[("EMSP", "NL", "EM1")],
            modules=BOTH,
        ) as first,
        running_peer(role="CPO", country_code="NL", party_id="CP2") as second,
        running_peer(role="CPO", country_code="NL", party_id="CP3") as third,
    ):
        await register_all(hub, viewer, first, second, third)
        whole: list[Any] = []
        for limit in ("", "?limit=1", "?limit=2000"):
            pages = await walk(viewer, clientinfo_url(hub) + limit, None)
            assert all(p.headers["x-total-count"] == "4" for p in pages)
            assert all(p.headers["x-limit"] == "2" for p in pages)
            listed = items_of(pages)
            whole = whole or listed
            assert listed == whole, limit
        assert sorted((c["country_code"], c["party_id"]) for c in whole) == [
            ("NL", "CP1"),
            ("NL", "CP2"),
            ("NL", "CP3"),
            ("NL", "EM1"),
        ]


# --- 30/31: pages forwarded from one party ---------------------------------------------------
PEER_LIMIT = 3


def at(base: str) -> Callable[[dict[str, str]], str]:
    """Next-page URLs at ``base`` with the pagination parameters in the query."""
    return lambda params: f"{base}?{urlencode(params)}"


def pager(
    peer: StrictPeer,
    objects: list[Any],
    sent: list[bytes],
    link_to: Callable[[dict[str, str]], str],
) -> Callable[[Received], Response]:
    """A Sender list that pages like a strict peer: date_from, offset, limit, own Link."""

    def handler(received: Received) -> Response:
        query = dict(parse_qsl(received.query))
        start = query.get("date_from")
        matching = [
            o
            for o in objects
            if start is None or parse_timestamp(o["last_updated"]) >= parse_timestamp(start)
        ]
        offset = int(query.get("offset", "0"))
        limit = min(int(query.get("limit", PEER_LIMIT)), PEER_LIMIT)
        body = envelope(matching[offset : offset + limit])
        sent.append(body)
        headers = {
            "X-Total-Count": str(len(matching)),
            "X-Limit": str(PEER_LIMIT),
            # Headers with the peer's own URLs the hub must not pass on.
            "Location": f"{peer.url}/locations/sender/L1",
            "Content-Location": f"{peer.url}/locations/sender",
        }
        if offset + limit < len(matching):
            params = {**query, "offset": str(offset + limit), "limit": str(limit)}
            headers["Link"] = f'<{link_to(params)}>; rel="next"'
        return Response(body, headers=headers, media_type="application/json")

    return handler


def assert_no_url_into(text: str, *peers: str) -> None:
    """No URL into any of ``peers`` (base URLs or host names) appears in ``text``."""
    for peer in peers:
        netloc = urlsplit(peer).netloc or peer
        assert netloc not in text, (netloc, text)


def seen_by_requester(response: httpx.Response) -> str:
    return "\n".join(f"{k}: {v}" for k, v in response.headers.items()) + "\n" + response.text


def seen_by_peer(peer: StrictPeer) -> str:
    """Everything the hub sent to ``peer``: paths, queries, headers and bodies."""
    return "\n".join(
        f"{r.method} {r.path}?{r.query}\n{r.headers}\n{r.body.decode()}" for r in peer.received
    )


LINK_BASES: dict[str, Callable[[StrictPeer], str]] = {
    "endpoint": lambda cpo: cpo.endpoint("locations", "sender"),
    "endpoint-slash": lambda cpo: cpo.endpoint("locations", "sender") + "/",
    # A peer that prints its public name instead of the address the hub uses (rebuilt).
    "foreign-host": lambda _: "https://cpo.example.com/ocpi/cpo/2.2.1/locations/",
}


@pytest.mark.conformance(30)
@pytest.mark.parametrize("link_kind", list(LINK_BASES))
async def test_check30_forwarded_pages_keep_counts_and_link_to_the_hub(
    hub: HubUnderTest, link_kind: str
) -> None:
    objects = [
        location(*CPO, location_id, last_updated=stamp) for location_id, stamp in STAMPS.items()
    ]
    sent: list[bytes] = []
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        cpo.on(
            "GET",
            "/locations/sender",
            pager(cpo, objects, sent, at(LINK_BASES[link_kind](cpo))),
        )
        await register_all(hub, cpo, emsp)
        url = hub.endpoint("locations", "sender")
        date_from = "2026-03-02T00:00:00Z"
        pages = await walk(emsp, f"{url}?date_from={date_from}&limit=2", CPO)

        expected = [o for o in objects if o["last_updated"] >= date_from]
        assert len(expected) == 6
        assert items_of(pages) == expected
        assert [p.content for p in pages] == sent  # each page relayed byte for byte
        asked = [r.query for r in cpo.requests("GET", "/locations/sender")]
        assert len(asked) == 3
        assert parse_qs(asked[0]) == {"date_from": [date_from], "limit": ["2"]}
        for number, page in enumerate(pages):
            assert addressed(page) == (CPO, EMSP)
            assert page.headers["x-total-count"] == "6"
            assert page.headers["x-limit"] == str(PEER_LIMIT)
            assert "location" not in page.headers and "content-location" not in page.headers
            assert_no_url_into(seen_by_requester(page), cpo.url, "cpo.example.com")
            link = next_url(page)
            if number == len(pages) - 1:
                assert link is None
                continue
            assert link is not None
            assert link.startswith(url + ("/?" if link_kind == "endpoint-slash" else "?")), link
            # ocpi-tool rebuilds the next URL from these: they stay visible in the Link.
            assert query_of(link) == {
                "date_from": date_from,
                "limit": "2",
                "offset": str(2 * (number + 1)),
            }
            # The hub forwards the next page's query as the Link showed it.
            assert parse_qs(asked[number + 1]) == parse_qs(urlsplit(link).query)


@pytest.mark.conformance(30)
@pytest.mark.extrawest
async def test_check30_extrawest_cpo_pages_through_the_hub(
    hub: HubUnderTest, extrawest_cpo: ExtrawestPeer
) -> None:
    ext = extrawest_cpo
    party = (ext.country_code, ext.party_id)
    objects = [
        location(*party, location_id, last_updated=stamp) for location_id, stamp in STAMPS.items()
    ]
    await asyncio.to_thread(ext.delete_item, "store", "locations")
    await asyncio.to_thread(ext.seed, "locations", *objects)
    await register_extrawest(hub, ext)
    async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
        await emsp.register(hub)
        await hub.settle()
        url = hub.endpoint("locations", "sender")
        pages = await walk(emsp, f"{url}?limit=2", party)
        filtered = await walk(emsp, f"{url}?date_from=2026-03-03T00:00:00Z&limit=2", party)

    # extrawest orders by last_updated; the hub returns exactly its objects, each once.
    walked = items_of(pages)
    assert sorted(ids(walked)) == sorted(i.upper() for i in STAMPS)  # extrawest upper-cases
    assert [o["last_updated"] for o in walked] == sorted(STAMPS.values())
    assert sorted(ids(items_of(filtered))) == ["L3", "L3B", "L3C", "L4", "L5"]
    for page in [*pages, *filtered]:
        assert page.headers["x-limit"] == "2"
        assert addressed(page) == (party, EMSP)
        assert_no_url_into(seen_by_requester(page), ext.base_url)
    assert [p.headers["x-total-count"] for p in pages] == ["7"] * 4
    assert [p.headers["x-total-count"] for p in filtered] == ["5"] * 3
    for walked_pages in (pages, filtered):
        links = [next_url(p) for p in walked_pages]
        assert links[-1] is None
        for number, link in enumerate(links[:-1], start=1):
            assert link is not None and link.startswith(url + "?"), link
            query = query_of(link)
            assert (query["offset"], query["limit"]) == (str(2 * number), "2")
    # date_from stays visible in the Link (extrawest prints it its own way; the hub keeps it).
    first_filtered = next_url(filtered[0])
    assert first_filtered is not None
    # extrawest writes "2026-03-03 00:00:00+00:00", not an OCPI DateTime; the moment is kept.
    shown = datetime.fromisoformat(query_of(first_filtered)["date_from"].replace("Z", "+00:00"))
    assert shown == datetime(2026, 3, 3, tzinfo=UTC)
    assert "date_to" not in query_of(first_filtered)  # extrawest's "None" is not passed on


# --- 31: no URL into a peer reaches another party --------------------------------------------
@pytest.mark.conformance(31)
async def test_check31_no_peer_url_reaches_another_party(hub: HubUnderTest) -> None:
    objects = [location(*CPO, f"L{n}") for n in range(1, 6)]
    the_cdr = cdr(CPO, "CDR1", EMSP)
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):

        def unmappable(_: dict[str, str]) -> str:
            return f"{cpo.url}/elsewhere/cursor/abc"

        links = iter(
            [
                at(cpo.endpoint("locations", "sender")),
                at("https://cpo.example.com/ocpi/cpo/2.2.1/locations"),
                # Neither under the endpoint nor with pagination parameters: cannot be mapped.
                unmappable,
            ]
        )

        def rotating(params: dict[str, str]) -> str:
            return next(links)(params)

        cpo.on("GET", "/locations/sender", pager(cpo, objects, [], rotating))
        cpo.on(
            "GET",
            "/locations/sender/L1",
            lambda _: ocpi(
                objects[0],
                headers={"Location": f"{cpo.url}/locations/sender/L1", "Link": f"<{cpo.url}/x>"},
            ),
        )
        emsp.on(
            "POST",
            "/cdrs/receiver",
            lambda _: ocpi(headers={"Location": f"{emsp.url}/cdrs/receiver/stored/CDR1"}),
        )
        emsp.on("GET", "/cdrs/receiver/stored/CDR1", lambda _: ocpi(the_cdr))
        await register_all(hub, cpo, emsp)
        seen: list[httpx.Response] = []

        # A paginated GET (Links under the endpoint, at another host, unmappable).
        url = hub.endpoint("locations", "sender")
        target: str | None = f"{url}?limit=1"
        while target is not None:
            seen.append(await emsp.call("GET", target, to=CPO))
            target = next_url(seen[-1])
        assert len(seen) == 3  # the unmappable Link ends the walk instead of leaking
        seen.append(await emsp.call("GET", f"{url}/L1", to=CPO))
        assert seen[-1].json()["data"] == objects[0]

        # A CDR: the eMSP's Location becomes a hub URL the CPO can GET.
        posted = await cpo.call("POST", hub.endpoint("cdrs", "receiver"), to=EMSP, json=the_cdr)
        seen.append(posted)
        assert posted.json()["status_code"] == 1000, posted.text
        hub_location = posted.headers["location"]
        assert hub_location.startswith(hub.endpoint("cdrs", "receiver") + "/")
        fetched = await cpo.call("GET", hub_location, to=EMSP)
        seen.append(fetched)
        assert fetched.json()["data"] == the_cdr

        # A command: the eMSP's response_url becomes a hub URL; the result goes back through it.
        command = {
            "response_url": f"{emsp.url}/commands/sender/results/1?ref=a%2Fb",
            "location_id": "L1",
            "evse_uid": "L1-E1",
            "connector_id": "1",
        }
        seen.append(
            await emsp.call(
                "POST",
                hub.endpoint("commands", "receiver") + "/UNLOCK_CONNECTOR",
                to=CPO,
                json=command,
            )
        )
        (forwarded,) = cpo.requests("POST", "/commands/receiver/UNLOCK_CONNECTOR")
        hub_url = forwarded.json()["response_url"]
        assert hub_url.startswith(hub.endpoint("commands", "sender") + "/")
        seen.append(await cpo.call("POST", hub_url, to=EMSP, json={"result": "ACCEPTED"}))
        assert len(emsp.requests("POST", "/commands/sender/results/1")) == 1

        # A charging profile GET: the response_url in the query becomes a hub URL.
        answer_url = quote(f"{emsp.url}/chargingprofiles/sender/results/9", safe="")
        seen.append(
            await emsp.call(
                "GET",
                f"{hub.endpoint('chargingprofiles', 'receiver')}/S1"
                f"?duration=900&response_url={answer_url}",
                to=CPO,
            )
        )
        (profile,) = cpo.requests("GET", "/chargingprofiles/receiver/S1")
        assert parse_qs(profile.query)["response_url"][0].startswith(
            hub.endpoint("chargingprofiles", "sender") + "/"
        )

    for response in seen:
        assert response.status_code == 200, response.text
        assert response.json()["status_code"] == 1000, response.text
        assert_no_url_into(seen_by_requester(response), cpo.url, emsp.url, "cpo.example.com")
    assert_no_url_into(seen_by_peer(cpo), emsp.url)
    assert_no_url_into(seen_by_peer(emsp), cpo.url, "cpo.example.com")
