"""Conformance check 60, the attacker's classes: fuzzed paths, parameters, headers, bodies and
clocks against one hub, stateful, with zero server errors.

Where test_k_fuzz.py generates requests from the hub's own schemas, this file generates what a
hostile or broken peer sends (docs/policies.md: "Paths, parameters and clocks", "What the hub
stores", "Peers' answers, trace ids and loops"): path segments a receiver could read as another
path, ids outside CiString, odd and repeated query parameters, trace ids and routing headers of
any bytes, bodies nested deep, with duplicate keys, huge or odd numbers, lone surrogates or bytes
that are not UTF-8, and last_updated values from year 1 to 9999. Every request goes out on a raw
socket, byte for byte as generated (an HTTP client would normalise it first).

After every answer: no 5xx, an OCPI envelope (or the HTTP server's own plain 400/431 for a head
it cannot parse). Between batches, the state the pushes built is checked: every GET All list
still answers 1000 with JSON, nothing the hub serves lies beyond its clock's skew, and no
request it forwarded carried a dot segment or an encoded separator in its path.

Derandomized, a fixed number of examples per class: the same requests every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from starlette.types import ASGIApp, Receive, Scope, Send

from incar.timestamps import format_timestamp, parse_timestamp
from ocpi_adapter.modules import FUNCTIONAL
from tests.conformance.support import Party, hub_party, location, register_all, token
from tests.peers.strict.peer import StrictPeer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.servers import serve

CPO: Party = ("NL", "CPA")
EMSP: Party = ("DE", "EMA")
EXAMPLES = 60  # per class
SKEW = 120.0
EVERYTHING = {routes.module.value: ["SENDER", "RECEIVER"] for routes in FUNCTIONAL} | {
    "hubclientinfo": ["RECEIVER"]
}


# --- the attacker's requests ----------------------------------------------------------------
@dataclass(frozen=True)
class Attack:
    sender: str  # "cpo" | "emsp"
    method: str
    target: str  # after /ocpi/2.2.1/, path and query exactly as sent
    headers: tuple[tuple[str, bytes], ...] = ()
    body: bytes | None = None
    to: Party | None = EMSP


ODD_SEGMENTS = [
    ".",
    "..",
    "%2e",
    "%2E%2e",
    "%2F",
    "a%2fb",
    "%5C",
    "a%5cb",
    "%00",
    "L%0A1",
    "%0d",
    "%FF",
    "%C3%A9",
    "%E2%82%AC",
    "%",
    "%zz",
    "%25",
    "a.b",
    "~",
    "%20",
    "L1",
    "l1",
    "X" * 37,
]
segment = st.one_of(
    st.sampled_from(ODD_SEGMENTS),
    st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), min_size=1, max_size=40).map(
        lambda text: quote(text, safe="")
    ),
)
ODD_VALUES = [
    "",
    "-1",
    "%C2%B2",
    "9223372036854775808",
    "99999999999999999999999",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999Z",
    "0001-01-01T00:00:00%2B01:00",
    "9999-12-31T23:59:59-01:00",
    "0000-01-01T00:00:00Z",
    "RFID",
    "APP_USER",
    "KEYFOB",
    "http%3A%2F%2Fexample.com%2Fr",
    "not-a-url",
    "%00",
    "%FF",
]
query_pair = st.tuples(
    st.sampled_from(["offset", "limit", "date_from", "date_to", "type", "response_url", "x"]),
    st.one_of(
        st.sampled_from(ODD_VALUES),
        st.text(max_size=30).map(lambda text: quote(text, safe="")),
    ),
)
query = st.lists(query_pair, max_size=5).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))
PATHS = [
    ("cpo", "PUT", "locations/receiver/{cc}/{pid}/{id}"),
    ("cpo", "GET", "locations/receiver/{cc}/{pid}/{id}/{id}"),
    ("cpo", "PATCH", "locations/receiver/{cc}/{pid}/{id}/{id}/{id}"),
    ("emsp", "GET", "locations/sender/{id}"),
    ("emsp", "GET", "locations/sender"),
    ("emsp", "PUT", "tokens/receiver/{cc}/{pid}/{id}"),
    ("cpo", "POST", "tokens/sender/{id}/authorize"),
    ("cpo", "PUT", "sessions/receiver/{cc}/{pid}/{id}"),
    ("emsp", "PUT", "sessions/sender/{id}/charging_preferences"),
    ("emsp", "GET", "chargingprofiles/receiver/{id}"),
    ("emsp", "POST", "commands/receiver/{id}"),
    ("cpo", "POST", "commands/sender/{id}"),
    ("cpo", "GET", "cdrs/receiver/{id}"),
]


@st.composite
def path_attacks(draw: st.DrawFn) -> Attack:
    sender, method, template = draw(st.sampled_from(PATHS))
    own = CPO if sender == "cpo" else EMSP
    target = template
    for name in ("cc", "pid"):
        value = own[0] if name == "cc" else own[1]
        target = target.replace("{" + name + "}", draw(st.sampled_from([value, *ODD_SEGMENTS])))
    while "{id}" in target:
        target = target.replace("{id}", draw(segment), 1)
    body = orjson.dumps({"last_updated": "2026-01-01T00:00:00Z"}) if method != "GET" else None
    return Attack(sender, method, target, body=body, to=draw(st.sampled_from([EMSP, CPO, None])))


@st.composite
def query_attacks(draw: st.DrawFn) -> Attack:
    sender, module = draw(
        st.sampled_from([("emsp", "locations"), ("cpo", "tokens"), ("emsp", "sessions")])
    )
    kind = draw(st.sampled_from(["list", "token", "profile"]))
    if kind == "list":
        return Attack(sender, "GET", f"{module}/sender?{draw(query)}", to=None)
    if kind == "token":
        patch = orjson.dumps({"valid": False, "last_updated": "2026-01-01T00:00:00Z"})
        return Attack(
            "emsp", "PATCH", f"tokens/receiver/DE/EMA/T1?{draw(query)}", body=patch, to=CPO
        )
    return Attack("emsp", "GET", f"chargingprofiles/receiver/S1?{draw(query)}", to=CPO)


header_value = st.binary(max_size=80).map(
    lambda raw: raw.replace(b"\r", b"").replace(b"\n", b"").strip(b" \t")
)


@st.composite
def header_attacks(draw: st.DrawFn) -> Attack:
    names = ["X-Request-ID", "X-Correlation-ID", "Via", "OCPI-to-country-code", "OCPI-to-party-id"]
    headers = tuple(
        (
            name,
            draw(
                st.one_of(
                    header_value, st.sampled_from([b"Z\xc3\xbcrich-\xe2\x82\xac", b"a" * 101])
                )
            ),
        )
        for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=4))
    )
    return Attack("emsp", "GET", "locations/sender/L1", headers=headers, to=CPO)


def nested(depth: int, leaf: str) -> str:
    return "[" * depth + leaf + "]" * depth


ODD_JSON = [
    "NaN",
    "Infinity",
    '"\\ud800"',
    '"\\udfff x"',
    "1" * 40,
    "0.1000000000000000055511151231257827",
    "1E400",
    "-0",
    '{"a": 1, "a": 2}',
    '[{"k": 1, "k": 1}]',
    '"\\u0000"',
]


@st.composite
def body_attacks(draw: st.DrawFn) -> Attack:
    depth = draw(st.integers(min_value=0, max_value=400))
    leaf = draw(st.one_of(st.sampled_from(ODD_JSON), st.integers().map(str)))
    vendor = nested(depth, leaf)
    if draw(st.booleans()):
        uid = draw(st.sampled_from(["T1", "t1", "T2"]))
        base = orjson.dumps(token(*EMSP, uid))
        raw = base[:-1] + b', "x_vendor": ' + vendor.encode() + b"}"
        if draw(st.booleans()):
            raw = raw[:-1] + b', "valid": false}'  # a duplicate key at the top
        return Attack("emsp", "PUT", f"tokens/receiver/DE/EMA/{uid}", body=raw, to=hub_pair())
    location_id = draw(st.sampled_from(["L1", "l1", "L2"]))
    base = orjson.dumps(location(*CPO, location_id))
    raw = base[:-1] + b', "x_vendor": ' + vendor.encode() + b"}"
    if draw(st.booleans()):
        raw = raw.replace(b'"Helsinki"', b'"Helsinki\xff"')  # not UTF-8
    return Attack("cpo", "PUT", f"locations/receiver/NL/CPA/{location_id}", body=raw, to=hub_pair())


def hub_pair() -> Party:
    return ("FI", "ICR")  # the hub's party in tests: a broadcast


@st.composite
def clock_attacks(draw: st.DrawFn) -> Attack:
    moment = draw(
        st.datetimes(
            min_value=datetime(1, 1, 1),
            max_value=datetime(9999, 12, 31),
            timezones=st.just(UTC),
        )
    )
    stamp = format_timestamp(moment)
    loc = location(*CPO, "LC", last_updated=stamp)
    if draw(st.booleans()):
        loc["evses"][0]["last_updated"] = format_timestamp(
            moment + timedelta(days=draw(st.integers(-1000, 1000)))
            if 1 < moment.year < 9999
            else moment
        )
    return Attack(
        "cpo", "PUT", "locations/receiver/NL/CPA/LC", body=orjson.dumps(loc), to=hub_pair()
    )


def examples(strategy: st.SearchStrategy[Attack]) -> list[Attack]:
    found: list[Attack] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(attack: Attack) -> None:
        found.append(attack)

    collect()
    return found


CLASSES: dict[str, Callable[[], st.SearchStrategy[Attack]]] = {
    "paths": path_attacks,
    "parameters": query_attacks,
    "headers": header_attacks,
    "bodies": body_attacks,
    "clocks": clock_attacks,
}


# --- the hub, two peers that keep raw paths, and a raw client --------------------------------
@dataclass
class World:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer
    raw_paths: list[str] = field(default_factory=list)

    def peer(self, name: str) -> StrictPeer:
        return self.cpo if name == "cpo" else self.emsp


@contextlib.asynccontextmanager
async def recording(raw_paths: list[str], **options: Any) -> AsyncIterator[StrictPeer]:
    peer = StrictPeer(**options)

    def make(url: str) -> ASGIApp:
        app = peer.app(url)

        async def recorder(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                raw_paths.append(scope["raw_path"].decode("latin-1"))
            await app(scope, receive, send)

        return recorder

    async with serve(make):
        yield peer


@contextlib.asynccontextmanager
async def world() -> AsyncIterator[World]:
    raw_paths: list[str] = []
    async with (
        running_hub(max_clock_skew=SKEW) as hub,
        recording(
            raw_paths, role="CPO", country_code=CPO[0], party_id=CPO[1], modules=EVERYTHING
        ) as cpo,
        recording(
            raw_paths, role="EMSP", country_code=EMSP[0], party_id=EMSP[1], modules=EVERYTHING
        ) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        yield World(hub, cpo, emsp, raw_paths)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


async def send(w: World, attack: Attack) -> Reply:
    parts = urlsplit(w.hub.url)
    assert parts.hostname is not None and parts.port is not None
    peer = w.peer(attack.sender)
    sender = CPO if attack.sender == "cpo" else EMSP
    headers: dict[str, bytes] = {
        "Host": f"{parts.hostname}:{parts.port}".encode(),
        "Authorization": peer.auth()["Authorization"].encode(),
        "OCPI-from-country-code": sender[0].encode(),
        "OCPI-from-party-id": sender[1].encode(),
        "Connection": b"close",
    }
    if attack.to is not None:
        headers["OCPI-to-country-code"] = attack.to[0].encode()
        headers["OCPI-to-party-id"] = attack.to[1].encode()
    headers.update(dict(attack.headers))
    if attack.body is not None:
        headers["Content-Type"] = b"application/json"
        headers["Content-Length"] = str(len(attack.body)).encode()
    head = f"{attack.method} /ocpi/2.2.1/{attack.target} HTTP/1.1\r\n".encode() + b"".join(
        name.encode() + b": " + value + b"\r\n" for name, value in headers.items()
    )
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head + b"\r\n" + (attack.body or b""))
        await writer.drain()
        async with asyncio.timeout(30):
            response = await reader.read()
    finally:
        writer.close()
    status_line, _, rest = response.partition(b"\r\n")
    _, _, payload = rest.partition(b"\r\n\r\n")
    return Reply(int(status_line.split()[1]), payload)


ENVELOPE_KEYS = {"status_code", "timestamp", "status_message", "data"}


def problem_of(attack: Attack, reply: Reply) -> str | None:
    where = f"{attack.method} {attack.target[:120]!r} -> HTTP {reply.status}"
    if reply.status >= 500:
        return f"{where}: server error {reply.body[:200]!r}"
    if reply.status in (400, 431) and not reply.body.startswith(b"{"):
        return None  # the HTTP server refused a head it cannot parse (before the hub)
    try:
        body = orjson.loads(reply.body)
    except orjson.JSONDecodeError:
        return f"{where}: not JSON {reply.body[:200]!r}"
    if not isinstance(body, dict) or not set(body) <= ENVELOPE_KEYS or "status_code" not in body:
        return f"{where}: not an OCPI envelope {reply.body[:200]!r}"
    return None


DOT_OR_SEPARATOR = re.compile(r"(^|/)(\.|\.\.|%2e|%2e%2e)(/|$)|%2f|%5c|\\", re.IGNORECASE)


async def state_problems(w: World) -> list[str]:
    """What the pushes so far may not have done: break a list, store a stamp beyond the
    hub's clock, or make the hub forward a path a receiver could read as another."""
    await w.hub.settle()
    problems = []
    horizon = datetime.now(UTC) + timedelta(seconds=SKEW)
    for peer, module in ((w.emsp, "locations"), (w.cpo, "tokens")):
        answer = await peer.call("GET", w.hub.endpoint(module, "sender"), to=hub_party(w.hub))
        if answer.status_code != 200 or answer.json().get("status_code") != 1000:
            problems.append(f"GET All {module}: HTTP {answer.status_code} {answer.text[:200]}")
            continue
        for item in answer.json()["data"]:
            stamps = re.findall(r'"last_updated":"([^"]*)"', orjson.dumps(item).decode())
            for stamp in stamps:
                with contextlib.suppress(ValueError):
                    if parse_timestamp(stamp) > horizon:
                        problems.append(f"{module}: stored {stamp}, beyond the hub's skew")
    for path in w.raw_paths:
        if DOT_OR_SEPARATOR.search(path.split("?", 1)[0]):
            problems.append(f"forwarded a path a receiver could read as another: {path}")
    return problems


@pytest.mark.conformance(60)
@pytest.mark.timeout(600)
async def test_check60_an_attackers_requests_get_envelopes_and_break_nothing() -> None:
    attacks = {name: examples(strategy()) for name, strategy in CLASSES.items()}
    problems: list[str] = []
    answered: dict[str, set[int]] = {}
    async with world() as w:
        for name, batch in attacks.items():
            codes: set[int] = set()
            for index, attack in enumerate(batch):
                reply = await send(w, attack)
                found = problem_of(attack, reply)
                if found is not None:
                    problems.append(f"[{name}] {found}")
                with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                    codes.add(int(orjson.loads(reply.body)["status_code"]))
                if index % 10 == 9:
                    problems += [
                        f"[{name}] after {index + 1}: {p}" for p in await state_problems(w)
                    ]
            answered[name] = codes
            problems += [f"[{name}] at the end: {p}" for p in await state_problems(w)]
    assert problems == [], "\n".join(problems[:30])
    print("check 60, attacks:", {name: sorted(codes) for name, codes in answered.items()})
    # Each class reached past the door: some were refused (2001), some were routed (1000).
    for name in ("paths", "bodies", "clocks"):
        assert {1000, 2001} <= answered[name], (name, answered[name])
