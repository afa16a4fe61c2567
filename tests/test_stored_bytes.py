"""What the hub stores, it can serve: exact bytes, no duplicate keys, one depth limit.

Over real HTTP, a strict CPO (NL*CPA) and a strict eMSP (DE*EMA) at a hub in each validation
mode. docs/policies.md ("What the hub stores"):

- a PUT or POST is relayed byte for byte and GET All serves those very bytes inside its list
  (big and long numbers, ``1E400``, ``-0``, ``1.0``, ``\\u`` escapes, odd whitespace);
- a document the hub composes (a PATCH merged in, an EVSE or Connector written into its
  Location) is written anew: keys in their order, every number as its literal, strings as UTF-8
  with only the escapes JSON requires, no whitespace;
- a key twice in one object, NaN or Infinity, a lone UTF-16 surrogate, bytes that are not UTF-8
  are refused in both modes, nothing stored or forwarded;
- a stored document nests at most 32 levels (an EVSE's body counts 2 levels inside its
  Location, a Connector's 4); a document an older version stored deeper still does not break
  GET All, and a PATCH that would leave it deeper is refused.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from starlette.responses import Response

from incar import exactjson
from incar.exactjson import MAX_DEPTH
from incar.timestamps import parse_timestamp
from subgraphs.locations.models import Location
from tests.conformance.support import (
    assert_envelope,
    cdr,
    charging_session,
    location,
    tariff,
    token,
)
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.stored import row_counts

CPO = ("NL", "CPA")
EMSP = ("DE", "EMA")
MODES = ("validating", "transparent")

# A vendor field as an owner might write it: numbers no float or int writes back alike, \u
# escapes (a surrogate pair included), raw UTF-8, odd whitespace.
EXACT_FIELD = (
    '"x_exact" :\t{ "big" : 123456789012345678901234567890 ,\r\n'
    '  "long": 3.141592653589793238462643383279502884197, "huge": 1E400,'
    ' "zero": -0, "one": 1.0, "text": "caf\\u00e9 \\/ d\\u00e9j\\u00e0",'
    ' "emoji": "\\ud83d\\ude00", "raw": "Zürich €" }'
)
# The same field when the hub writes the document anew: whitespace and escapes normalised,
# the order of keys and every number's literal kept.
EXACT_REWRITTEN = (
    '"x_exact":{"big":123456789012345678901234567890,'
    '"long":3.141592653589793238462643383279502884197,"huge":1E400,"zero":-0,"one":1.0,'
    '"text":"café / déjà","emoji":"😀","raw":"Zürich €"}'
).encode()


def odd(body: dict[str, Any], **literals: str) -> bytes:
    """``body`` with EXACT_FIELD first, tabs and CRLFs, non-ASCII as \\u escapes, and the
    numbers named in ``literals`` written as those literals."""
    rest = json.dumps(body, indent="\t", separators=(" ,", " :  "))
    for name, literal in literals.items():
        before = f'"{name}" :  {json.dumps(body[name])}'
        assert rest.count(before) == 1, before
        rest = rest.replace(before, f'"{name}" :  {literal}')
    return ("\r\n {  " + EXACT_FIELD + " ,\n" + rest[1:] + " \n").encode()


def rewritten(body: dict[str, Any], **literals: str) -> bytes:
    """What the hub writes for ``body`` (with EXACT_FIELD first) when it writes it anew."""
    text = orjson.dumps(body)
    for name, literal in literals.items():
        before = b'"' + name.encode() + b'":' + orjson.dumps(body[name])
        assert text.count(before) == 1, before
        text = text.replace(before, b'"' + name.encode() + b'":' + literal.encode())
    return b"{" + EXACT_REWRITTEN + b"," + text[1:]


def nested(levels: int) -> Any:
    """Arrays nested ``levels`` deep: [[...]]."""
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


@dataclass
class Net:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer

    def clear(self) -> None:
        self.cpo.received.clear()
        self.emsp.received.clear()

    def url(self, path: str) -> str:
        return f"{self.hub.url}/ocpi/2.2.1/{path}"

    async def push(
        self, sender: StrictPeer, method: str, path: str, body: bytes, *, to: Any = "hub"
    ) -> httpx.Response:
        target = sender.hub_party if to == "hub" else to
        return await sender.call(method, self.url(path), to=target, content=body)

    async def listed(self, module: str) -> httpx.Response:
        """GET All as the role that reads it: tokens by the CPO, the rest by the eMSP."""
        reader = self.cpo if module == "tokens" else self.emsp
        answer = await reader.call("GET", self.hub.endpoint(module, "sender"), to=reader.hub_party)
        assert answer.status_code == 200, answer.text
        assert assert_envelope(answer)["status_code"] == 1000, answer.text
        assert answer.content.startswith(b'{"data":['), answer.content[:40]
        return answer


@contextlib.asynccontextmanager
async def network(mode: str) -> AsyncIterator[Net]:
    async with (
        running_hub(validation=mode) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        net = Net(hub, cpo, emsp)
        net.clear()
        yield net


@pytest.fixture(scope="module")
async def nets() -> AsyncIterator[dict[str, Net]]:
    """A network per validation mode, shared by the module's tests (each uses its own ids)."""
    async with contextlib.AsyncExitStack() as stack:
        yield {mode: await stack.enter_async_context(network(mode)) for mode in MODES}


def accepted(answer: httpx.Response) -> None:
    assert answer.status_code == 200, answer.text
    assert assert_envelope(answer)["status_code"] == 1000, answer.text


def in_list(item: bytes, page: httpx.Response) -> bool:
    """Whether ``item`` is one whole element of the page's ``data`` list, byte for byte."""
    content = page.content
    return any(start + item + end in content for start in (b"[", b",") for end in (b",", b"]"))


def only_copy(peer: StrictPeer, method: str, path: str) -> bytes:
    (received,) = [r for r in peer.received if r.method == method and r.path == path]
    return received.body


# --- bytes kept --------------------------------------------------------------------------------
async def test_pushed_objects_are_relayed_and_listed_byte_for_byte(nets: dict[str, Net]) -> None:
    n = nets["validating"]
    n.clear()
    loc = location(*CPO, "XB1", name="Café Zürich")
    pushes = {
        "locations": (n.cpo, "PUT", "locations/receiver/NL/CPA/XB1", odd(loc), "hub"),
        "tariffs": (
            n.cpo,
            "PUT",
            "tariffs/receiver/NL/CPA/XT1",
            odd(tariff(*CPO, "XT1")),
            "hub",
        ),
        "tokens": (n.emsp, "PUT", "tokens/receiver/DE/EMA/XU1", odd(token(*EMSP, "XU1")), "hub"),
        "sessions": (
            n.cpo,
            "PUT",
            "sessions/receiver/NL/CPA/XS1",
            odd(charging_session(CPO, "XS1", EMSP), kwh="1.500"),
            EMSP,
        ),
        "cdrs": (
            n.cpo,
            "POST",
            "cdrs/receiver",
            odd(cdr(CPO, "XC1", EMSP), total_energy="1.0E1"),
            EMSP,
        ),
    }
    for sender, method, path, raw, to in pushes.values():
        accepted(await n.push(sender, method, path, raw, to=to))
    await n.hub.settle()
    # Every receiver got the bytes the owner sent.
    for module, (sender, method, path, raw, _) in pushes.items():
        receiver = n.emsp if sender is n.cpo else n.cpo
        assert only_copy(receiver, method, "/" + path) == raw, module
    # GET All serves those very bytes, each as one element of the list.
    for module, (*_, raw, _) in pushes.items():
        page = await n.listed(module)
        assert in_list(raw, page), (module, page.content[:300])
        # The page is the JSON it looks like (1E400 is a number, if not one a float can hold).
        (item,) = [i for i in page.json()["data"] if i.get("id", i.get("uid")) in IDS]
        assert item["x_exact"]["big"] == 123456789012345678901234567890


IDS = {"XB1", "XT1", "XU1", "XS1", "XC1"}


async def test_events_carry_the_numbers_of_a_document_as_plain_values(
    nets: dict[str, Net],
) -> None:
    n = nets["validating"]
    topics = ["sessions.session", "accounting.cdr"]
    async with n.hub.hub.bus.subscribe(topics) as events:
        raw = odd(charging_session(CPO, "XS2", EMSP), kwh="1.500")
        accepted(await n.push(n.cpo, "PUT", "sessions/receiver/NL/CPA/XS2", raw, to=EMSP))
        raw = odd(cdr(CPO, "XC2", EMSP), total_energy="1E400")
        accepted(await n.push(n.cpo, "POST", "cdrs/receiver", raw, to=EMSP))
        first, second = await anext(events), await anext(events)
    assert first.payload["kwh"] == 1.5
    assert type(first.payload["kwh"]) is float
    assert second.payload["total_energy"] is None  # 1E400 has no float: an event says null
    page = await n.listed("cdrs")
    assert b'"total_energy" :  1E400' in page.content  # the CDR itself keeps it


async def test_a_merged_patch_keeps_every_untouched_literal(nets: dict[str, Net]) -> None:
    """A PATCH makes the hub write the document anew: what that normalises is EXACT_FIELD
    against EXACT_REWRITTEN (whitespace, \\u escapes); every number keeps its literal."""
    n = nets["validating"]
    n.clear()
    loc = location(*CPO, "XP1", name="Café")
    accepted(await n.push(n.cpo, "PUT", "locations/receiver/NL/CPA/XP1", odd(loc)))
    sess = charging_session(CPO, "XP2", EMSP)
    raw = odd(sess, kwh="1.500")
    accepted(await n.push(n.cpo, "PUT", "sessions/receiver/NL/CPA/XP2", raw, to=EMSP))
    tok = token(*EMSP, "XP3")
    accepted(await n.push(n.emsp, "PUT", "tokens/receiver/DE/EMA/XP3", odd(tok)))

    # A Location PATCH, then an EVSE PATCH and a Connector PATCH written into the Location.
    stamps = ["2026-03-01T00:00:00Z", "2026-03-02T00:00:00.5Z", "2026-03-03T00:00:00Z"]
    patch = b'{"name": "Bar \\u00e9", "last_updated": "%s"}' % stamps[0].encode()
    accepted(await n.push(n.cpo, "PATCH", "locations/receiver/NL/CPA/XP1", patch))
    patch = b'{"status" : "CHARGING",\n"last_updated": "%s"}' % stamps[1].encode()
    accepted(await n.push(n.cpo, "PATCH", "locations/receiver/NL/CPA/XP1/XP1-E1", patch))
    patch = b'{"max_amperage": 16, "last_updated": "%s"}' % stamps[2].encode()
    accepted(await n.push(n.cpo, "PATCH", "locations/receiver/NL/CPA/XP1/XP1-E1/1", patch))
    evse = {**loc["evses"][0], "status": "CHARGING", "last_updated": stamps[2]}
    evse["connectors"] = [{**evse["connectors"][0], "max_amperage": 16, "last_updated": stamps[2]}]
    merged = {**loc, "name": "Bar é", "evses": [evse], "last_updated": stamps[2]}
    assert in_list(rewritten(merged), await n.listed("locations"))

    # A Session PATCH: the patch's own literal is kept as well.
    patch = b'{"kwh": 2.250, "last_updated": "2026-03-04T00:00:00Z"}'
    accepted(await n.push(n.cpo, "PATCH", "sessions/receiver/NL/CPA/XP2", patch, to=EMSP))
    merged = {**sess, "kwh": 2.25, "last_updated": "2026-03-04T00:00:00Z"}
    assert in_list(rewritten(merged, kwh="2.250"), await n.listed("sessions"))

    patch = b'{"valid": false, "last_updated": "2026-03-05T00:00:00Z"}'
    accepted(await n.push(n.emsp, "PATCH", "tokens/receiver/DE/EMA/XP3?type=RFID", patch))
    merged = {**tok, "valid": False, "last_updated": "2026-03-05T00:00:00Z"}
    assert in_list(rewritten(merged), await n.listed("tokens"))
    # The patches themselves reached the receivers byte for byte, as always.
    await n.hub.settle()
    assert only_copy(n.emsp, "PATCH", "/locations/receiver/NL/CPA/XP1/XP1-E1/1") == (
        b'{"max_amperage": 16, "last_updated": "%s"}' % stamps[2].encode()
    )


# --- refused ---------------------------------------------------------------------------------
def _loc(location_id: str) -> bytes:
    return orjson.dumps(location(*CPO, location_id))


DUPLICATES: dict[str, tuple[str, str, str, bytes, Any, str]] = {
    "location PUT, top level": (
        "cpo",
        "PUT",
        "locations/receiver/NL/CPA/XD1",
        _loc("XD1").replace(b'{"country_code"', b'{"publish":false,"country_code"', 1),
        "hub",
        "publish",
    ),
    "location PUT, in a connector": (
        "cpo",
        "PUT",
        "locations/receiver/NL/CPA/XD2",
        _loc("XD2").replace(b'"max_voltage":230', b'"max_voltage":230,"max_voltage":400'),
        "hub",
        "max_voltage",
    ),
    "EVSE PATCH, the same value twice": (
        "cpo",
        "PATCH",
        "locations/receiver/NL/CPA/XB1/XB1-E1",
        b'{"status":"CHARGING","status":"CHARGING","last_updated":"2026-06-01T00:00:00Z"}',
        "hub",
        "status",
    ),
    "token PUT, in a vendor field": (
        "emsp",
        "PUT",
        "tokens/receiver/DE/EMA/XD3",
        orjson.dumps(token(*EMSP, "XD3")).replace(b"{", b'{"x_v":[{"a":1,"a":2}],', 1),
        "hub",
        "a",
    ),
    "session PUT to the eMSP": (
        "cpo",
        "PUT",
        "sessions/receiver/NL/CPA/XD4",
        orjson.dumps(charging_session(CPO, "XD4", EMSP)).replace(
            b'"kwh":1.5', b'"kwh":1.5,"kwh":9.0'
        ),
        EMSP,
        "kwh",
    ),
    "CDR POST, in its cdr_token": (
        "cpo",
        "POST",
        "cdrs/receiver",
        orjson.dumps(cdr(CPO, "XD5", EMSP)).replace(b'"uid":"T1"', b'"uid":"T1","uid":"T2"'),
        EMSP,
        "uid",
    ),
}


async def refused(
    n: Net, sender: str, method: str, path: str, body: bytes, *, to: Any
) -> tuple[int, dict[str, Any]]:
    """Sends, and checks that nothing was stored or forwarded; the HTTP status and body."""
    await n.hub.settle()
    n.clear()
    before = await row_counts(n.hub)
    answer = await n.push(n.cpo if sender == "cpo" else n.emsp, method, path, body, to=to)
    await n.hub.settle()  # a broadcast copy, had one been sent, has arrived by now
    assert n.cpo.received == [], "the CPO received something"
    assert n.emsp.received == [], "the eMSP received something"
    assert await row_counts(n.hub) == before, "the hub stored something"
    return answer.status_code, assert_envelope(answer)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(DUPLICATES))
async def test_a_key_twice_in_one_object_is_refused_in_both_modes(
    nets: dict[str, Net], mode: str, name: str
) -> None:
    sender, method, path, body, to, key = DUPLICATES[name]
    http, answer = await refused(nets[mode], sender, method, path, body, to=to)
    assert (http, answer["status_code"]) == (200, 2001), answer
    assert f"the key {key!r} appears twice" in answer["status_message"], answer


NOT_JSON: dict[str, tuple[bytes, str]] = {
    "NaN": (_loc("XN1").replace(b'"publish":true', b'"publish":true,"x":NaN'), "NaN"),
    "-Infinity": (_loc("XN1").replace(b'"publish":true', b'"x":-Infinity,"publish":true'), "Inf"),
    "a lone high surrogate": (
        _loc("XN1").replace(b'"Helsinki"', b'"Hel\\ud800sinki"'),
        "surrogate",
    ),
    "a lone low surrogate": (_loc("XN1").replace(b'"Helsinki"', b'"\\udc00"'), "surrogate"),
    "a surrogate as UTF-8 bytes": (_loc("XN1").replace(b"Helsinki", b"\xed\xa0\x80"), "UTF-8"),
    "Latin-1": (_loc("XN1").replace(b"Helsinki", "Hämeenlinna".encode("latin-1")), "UTF-8"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", list(NOT_JSON))
async def test_what_is_not_json_or_not_unicode_is_refused_with_400(
    nets: dict[str, Net], mode: str, name: str
) -> None:
    body, hint = NOT_JSON[name]
    path = "locations/receiver/NL/CPA/XN1"
    http, answer = await refused(nets[mode], "cpo", "PUT", path, body, to="hub")
    assert (http, answer["status_code"]) == (400, 2001), answer
    assert "not valid JSON" in answer["status_message"], answer
    assert hint in answer["status_message"], answer


async def test_the_credentials_endpoint_reads_bodies_with_the_same_parser(
    nets: dict[str, Net],
) -> None:
    n = nets["validating"]
    url = f"{n.hub.url}/ocpi/2.2.1/credentials"
    good = orjson.dumps({"token": n.cpo.token_b, "url": n.cpo.versions_url, "roles": n.cpo.roles()})
    twice = good.replace(b'{"token"', b'{"url":"https://x.example.com","token"', 1)
    answer = await n.cpo.call("PUT", url, content=twice, routing=False)
    body = assert_envelope(answer)
    assert (answer.status_code, body["status_code"]) == (200, 2001), answer.text
    assert "the key 'url' appears twice" in body["status_message"]
    answer = await n.cpo.call("PUT", url, content=good[:-1] + b',"x":NaN}', routing=False)
    assert (answer.status_code, assert_envelope(answer)["status_code"]) == (400, 2001)
    # Still registered as before: its token works.
    accepted(await n.listed("tokens"))


# --- depth -----------------------------------------------------------------------------------
async def test_a_location_at_the_limit_is_accepted_and_served(nets: dict[str, Net]) -> None:
    n = nets["validating"]
    n.clear()
    raw = orjson.dumps(location(*CPO, "XL1", x_deep=nested(MAX_DEPTH - 1)))  # 1 + 31 levels
    accepted(await n.push(n.cpo, "PUT", "locations/receiver/NL/CPA/XL1", raw))
    await n.hub.settle()
    assert only_copy(n.emsp, "PUT", "/locations/receiver/NL/CPA/XL1") == raw
    assert in_list(raw, await n.listed("locations"))


@pytest.mark.parametrize("mode", MODES)
async def test_one_level_beyond_is_refused_in_both_modes(nets: dict[str, Net], mode: str) -> None:
    for levels in (MAX_DEPTH, 300):  # 33 levels, and the attacker's 301
        # Python's json, since orjson writes no more than 254 levels.
        raw = json.dumps(location(*CPO, "XL2", x_deep=nested(levels))).encode()
        path = "locations/receiver/NL/CPA/XL2"
        http, answer = await refused(nets[mode], "cpo", "PUT", path, raw, to="hub")
        assert (http, answer["status_code"]) == (200, 2001), answer
        message = answer["status_message"]
        assert f"nested {levels + 1} levels deep, more than the 32 allowed" in message, message
    await nets[mode].listed("locations")  # the list is fine


async def test_a_child_counts_at_the_depth_it_is_stored_in_its_location(
    nets: dict[str, Net],
) -> None:
    n = nets["validating"]
    accepted(await n.push(n.cpo, "PUT", "locations/receiver/NL/CPA/XL3", _loc("XL3")))
    evse = location(*CPO, "XL3")["evses"][0]
    connector = evse["connectors"][0]
    base = "locations/receiver/NL/CPA/XL3/XL3-E1"
    # An EVSE sits 2 levels inside its Location, so its body may nest 30; a Connector's 28.
    too_deep = {
        base: orjson.dumps({**evse, "x_deep": nested(MAX_DEPTH - 2)}),
        f"{base}/1": orjson.dumps({**connector, "x_deep": nested(MAX_DEPTH - 4)}),
    }
    for path, raw in too_deep.items():
        http, answer = await refused(n, "cpo", "PUT", path, raw, to="hub")
        assert (http, answer["status_code"]) == (200, 2001), answer
        assert "more than the" in answer["status_message"]
        assert (
            "kept" in answer["status_message"] and "levels inside one" in answer["status_message"]
        )
    # One level less fits: the Location is then exactly at the limit, and served.
    accepted(
        await n.push(n.cpo, "PUT", base, orjson.dumps({**evse, "x_deep": nested(MAX_DEPTH - 3)}))
    )
    raw = orjson.dumps({**connector, "x_deep": nested(MAX_DEPTH - 5)})
    accepted(await n.push(n.cpo, "PUT", f"{base}/1", raw))
    page = await n.listed("locations")
    (stored,) = [item for item in page.json()["data"] if item["id"] == "XL3"]
    assert exactjson.depth(stored) == MAX_DEPTH


async def test_a_too_deep_document_of_an_older_version_does_not_break_get_all(
    nets: dict[str, Net],
) -> None:
    """An older version stored a Location nested 301 levels (it checked no depth; orjson wrote
    no list with it again). Served as its stored text, the list is fine; a PATCH that would
    store a document that deep again is refused, nothing stored or forwarded."""
    n = nets["validating"]
    legacy = location(*CPO, "XOLD", x_deep=nested(300))
    text = json.dumps(legacy)  # as the older version's serialiser wrote it
    async with n.hub.hub.db.transaction() as db:
        db.add(
            Location(
                country_code="NL",
                party_id="CPA",
                object_id="XOLD",
                last_updated=parse_timestamp(legacy["last_updated"]),
                data=exactjson.parse_stored(text),
            )
        )
    page = await n.listed("locations")
    assert in_list(text.encode(), page)
    assert {"XOLD", "XB1"} <= {item["id"] for item in page.json()["data"]}

    for path, patch in {
        "locations/receiver/NL/CPA/XOLD": b'{"name":"x","last_updated":"2026-06-01T00:00:00Z"}',
        "locations/receiver/NL/CPA/XOLD/XOLD-E1": (
            b'{"status":"CHARGING","last_updated":"2026-06-01T00:00:00Z"}'
        ),
    }.items():
        http, answer = await refused(n, "cpo", "PATCH", path, patch, to="hub")
        assert (http, answer["status_code"]) == (200, 2001), answer
        assert "would nest 301 levels deep" in answer["status_message"], answer
    assert in_list(text.encode(), await n.listed("locations"))  # unchanged


async def test_a_command_answer_deeper_than_the_limit_is_relayed(nets: dict[str, Net]) -> None:
    """The CPO's answer is relayed byte for byte; the command log, written like every JSON
    column, does not keep an answer nested deeper than a stored document may."""
    n = nets["validating"]
    answer = json.dumps(
        {
            "status_code": 1000,
            "timestamp": "2026-01-01T00:00:00Z",
            "data": {"result": "ACCEPTED", "timeout": 30, "x_deep": nested(300)},
        }
    ).encode()
    n.cpo.on(
        "POST",
        "/commands/receiver/START_SESSION",
        lambda _: Response(answer, media_type="application/json"),
    )
    start = {
        "response_url": f"{n.emsp.url}/commands/sender/results/deep",
        "token": token(*EMSP, "XU1"),
        "location_id": "XB1",
        "evse_uid": "XB1-E1",
    }
    relayed = await n.push(
        n.emsp, "POST", "commands/receiver/START_SESSION", orjson.dumps(start), to=CPO
    )
    assert relayed.status_code == 200
    assert relayed.content == answer
