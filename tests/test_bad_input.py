"""Bad input over real HTTP: the right OCPI status and HTTP status, nothing stored, nothing sent.

A strict CPO and a strict eMSP are registered at one hub (a small INCAR_MAX_BODY_BYTES); every
case is refused, so after each one every GET All list is still empty, the hub holds no command
or hub URL, and neither peer received anything. Not repeated here: check 2 (a Location PUT
that is not JSON) and checks 3-5 on versions and GETs (test_a_envelope_auth.py).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tests.conformance.support import assert_envelope, cdr, charging_session, location, token
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.stored import row_counts

CPO = ("NL", "CPA")
EMSP = ("DE", "EMA")
NEWCOMER = ("NL", "NEW")  # onboarded (has a token A), never registered
UNKNOWN = ("XX", "UNK")
LIMIT = 4096  # INCAR_MAX_BODY_BYTES of the hub under test

Party = tuple[str, str]


def js(value: Any) -> bytes:
    return orjson.dumps(value)


def without(body: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != name}


LOC = location(*CPO, "L1")
TOKEN = token(*EMSP, "T1")
SESSION = charging_session(CPO, "S1", EMSP)
CDR = cdr(CPO, "C1", EMSP)
LOC_URL = f"locations/receiver/{CPO[0]}/{CPO[1]}/L1"
EVSE_URL = f"{LOC_URL}/L1-E1"
TOKEN_URL = f"tokens/receiver/{EMSP[0]}/{EMSP[1]}/T1"
SESSION_URL = f"sessions/receiver/{CPO[0]}/{CPO[1]}/S1"
CDR_URL = "cdrs/receiver"
START = {
    "response_url": "https://emsp.example.com/commands/start/1",
    "token": TOKEN,
    "location_id": "L1",
    "evse_uid": "L1-E1",
    "authorization_reference": "AUTH-1",
}


@dataclass(frozen=True)
class Case:
    """One refused request: who sends what, and the answer policies.md prescribes."""

    path: str  # after /ocpi/2.2.1/
    body: bytes | None
    http: int
    code: int
    message: str  # a fragment the status_message must contain
    method: str = "PUT"
    sender: str = "cpo"  # cpo | emsp: whose token and OCPI-from
    to: Party | str | None = "hub"  # hub | a party | None (open routing)
    auth: str = "c"  # c | a (the newcomer's token A) | b (the sender's own token B) |
    #                  other (the other platform's token C) | raw (token C without Base64)
    from_: Party | None = None  # OCPI-from other than the sender's own party
    routing: dict[str, str] | None = None  # if given, replaces the OCPI-from headers
    chunked: bool = False


CASES: dict[str, Case] = {
    # --- not JSON (HTTP 400, 2001) -----------------------------------------------------------
    "token PUT truncated JSON": Case(
        TOKEN_URL, b'{"uid": "T1",', 400, 2001, "not valid JSON", sender="emsp"
    ),
    "CDR POST plain text": Case(
        CDR_URL, b"CDR C1, 10 kWh", 400, 2001, "not valid JSON", method="POST", to=EMSP
    ),
    "session PUT invalid UTF-8": Case(
        SESSION_URL, b'{"id": "S\xff1"}', 400, 2001, "not valid JSON", to=EMSP
    ),
    "EVSE PATCH empty body": Case(EVSE_URL, b"", 400, 2001, "no body", method="PATCH"),
    # --- JSON, but not an object -------------------------------------------------------------
    "location PUT array": Case(LOC_URL, js([LOC]), 200, 2001, "expected a JSON object, got array"),
    "token PUT null": Case(
        TOKEN_URL, b"null", 200, 2001, "expected a JSON object, got null", sender="emsp"
    ),
    # --- wrong types -------------------------------------------------------------------------
    "location publish as string": Case(
        LOC_URL, js({**LOC, "publish": "yes"}), 200, 2001, "publish"
    ),
    "location latitude as number": Case(
        LOC_URL,
        js({**LOC, "coordinates": {"latitude": 60.169, "longitude": "24.938000"}}),
        200,
        2001,
        "coordinates.latitude",
    ),
    "token valid as 1": Case(
        TOKEN_URL, js({**TOKEN, "valid": 1}), 200, 2001, "valid", sender="emsp"
    ),
    "session kwh as string": Case(
        SESSION_URL, js({**SESSION, "kwh": "1.5"}), 200, 2001, "kwh", to=EMSP
    ),
    "CDR total_cost as number": Case(
        CDR_URL,
        js({**CDR, "total_cost": 2.5}),
        200,
        2001,
        "total_cost",
        method="POST",
        to=EMSP,
    ),
    "EVSE PATCH unknown status": Case(
        EVSE_URL,
        js({"status": "BROKEN", "last_updated": "2026-01-02T00:00:00Z"}),
        200,
        2001,
        "status",
        method="PATCH",
    ),
    "location last_updated with offset": Case(
        LOC_URL, js({**LOC, "last_updated": "2026-01-01T00:00:00+00:00"}), 200, 2001, "last_updated"
    ),
    # --- required fields missing -------------------------------------------------------------
    "location without address": Case(
        LOC_URL, js(without(LOC, "address")), 200, 2001, "address: required field missing"
    ),
    "token PATCH without last_updated": Case(
        TOKEN_URL,
        js({"valid": False}),
        200,
        2001,
        "last_updated: required field missing",
        method="PATCH",
        sender="emsp",
    ),
    "session without status": Case(
        SESSION_URL, js(without(SESSION, "status")), 200, 2001, "status", to=EMSP
    ),
    "CDR without cdr_token": Case(
        CDR_URL, js(without(CDR, "cdr_token")), 200, 2001, "cdr_token", method="POST", to=EMSP
    ),
    "command without response_url": Case(
        "commands/receiver/START_SESSION",
        js(without(START, "response_url")),
        200,
        2001,
        "response_url",
        method="POST",
        sender="emsp",
        to=CPO,
    ),
    # --- unknown receiver (4001) -------------------------------------------------------------
    "location PUT to an unknown party": Case(LOC_URL, js(LOC), 200, 4001, "XX*UNK", to=UNKNOWN),
    "session PUT to an unknown party": Case(
        SESSION_URL, js(SESSION), 200, 4001, "XX*UNK", to=UNKNOWN
    ),
    "CDR POST to an unknown party": Case(
        CDR_URL, js(CDR), 200, 4001, "XX*UNK", method="POST", to=UNKNOWN
    ),
    "token PUT to an unknown party": Case(
        TOKEN_URL, js(TOKEN), 200, 4001, "XX*UNK", sender="emsp", to=UNKNOWN
    ),
    "command to an unknown party": Case(
        "commands/receiver/START_SESSION",
        js(START),
        200,
        4001,
        "XX*UNK",
        method="POST",
        sender="emsp",
        to=UNKNOWN,
    ),
    # --- parties that do not match -----------------------------------------------------------
    "URL owner is another party": Case(
        f"locations/receiver/{EMSP[0]}/{EMSP[1]}/L1",
        js(location(*EMSP, "L1")),
        200,
        2001,
        "the URL names objects of DE*EMA",
    ),
    "body party_id differs from the URL": Case(
        LOC_URL, js({**LOC, "party_id": "XXX"}), 200, 2001, "party_id 'XXX'"
    ),
    "body id differs from the URL": Case(
        SESSION_URL, js({**SESSION, "id": "S2"}), 200, 2001, "id 'S2'", to=EMSP
    ),
    "FROM is the other platform's party": Case(
        LOC_URL, js(LOC), 200, 2001, "not a role of the calling platform", from_=EMSP
    ),
    "FROM is missing": Case(
        TOKEN_URL, js(TOKEN), 200, 2001, "are required", sender="emsp", routing={}
    ),
    "FROM without party id": Case(
        LOC_URL,
        js(LOC),
        200,
        2001,
        "must be given together",
        routing={"OCPI-from-country-code": CPO[0]},
    ),
    "CDR body names another CPO": Case(
        CDR_URL,
        js({**CDR, "party_id": "OTH"}),
        200,
        2001,
        "NL*OTH",
        method="POST",
        to=EMSP,
    ),
    # --- bodies over INCAR_MAX_BODY_BYTES (HTTP 413, 2001) -----------------------------------
    "oversized with Content-Length": Case(
        LOC_URL, js({**LOC, "x_padding": "x" * LIMIT}), 413, 2001, f"exceeds {LIMIT} bytes"
    ),
    "oversized chunked": Case(
        CDR_URL,
        js({**CDR, "x_padding": "x" * LIMIT}),
        413,
        2001,
        f"exceeds {LIMIT} bytes",
        method="POST",
        chunked=True,
        to=EMSP,
    ),
    # --- the wrong token (HTTP 401, 2000) ----------------------------------------------------
    "token A on a push": Case(
        LOC_URL.replace("/CPA/", "/NEW/"),
        js(location(*NEWCOMER, "L1")),
        401,
        2000,
        "registration token (A)",
        auth="a",
        from_=NEWCOMER,
    ),
    "the sender's own token B": Case(LOC_URL, js(LOC), 401, 2000, "unknown", auth="b"),
    "token C without Base64": Case(LOC_URL, js(LOC), 401, 2000, "unknown", auth="raw"),
    "token C without Base64, eMSP": Case(
        TOKEN_URL, js(TOKEN), 401, 2000, "unknown", sender="emsp", auth="raw"
    ),
    # --- another platform's valid token: the FROM is not one of its roles (2001) --------------
    "another platform's token C": Case(
        LOC_URL, js(LOC), 200, 2001, "not a role of the calling platform", auth="other"
    ),
}


@dataclass
class Network:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer
    newcomer_token_a: str

    def peer(self, name: str) -> StrictPeer:
        return self.cpo if name == "cpo" else self.emsp

    def other(self, name: str) -> StrictPeer:
        return self.emsp if name == "cpo" else self.cpo


@pytest.fixture(scope="module")
async def network() -> AsyncIterator[Network]:
    async with (
        running_hub(max_body_bytes=LIMIT) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        newcomer = await hub.onboard("CPO", *NEWCOMER)
        await hub.settle()
        yield Network(hub=hub, cpo=cpo, emsp=emsp, newcomer_token_a=newcomer)


def authorization(network: Network, case: Case) -> str:
    sender = network.peer(case.sender)
    value = {
        "c": sender.token_c,
        "a": network.newcomer_token_a,
        "b": sender.token_b,
        "other": network.other(case.sender).token_c,
        "raw": sender.token_c,
    }[case.auth]
    assert value is not None
    if case.auth == "raw":
        return f"Token {value}"
    return "Token " + base64.b64encode(value.encode()).decode()


def headers_for(network: Network, case: Case) -> dict[str, str]:
    sender = network.peer(case.sender)
    headers = {"Authorization": authorization(network, case), "Content-Type": "application/json"}
    if case.routing is not None:
        headers.update(case.routing)
    else:
        party = case.from_ or (sender.country_code, sender.party_id)
        headers["OCPI-from-country-code"], headers["OCPI-from-party-id"] = party
    hub = network.hub.party.country_code, network.hub.party.party_id
    if case.to is not None:
        to = case.to if isinstance(case.to, tuple) else hub
        headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = to
    return headers


async def send(network: Network, case: Case) -> httpx.Response:
    url = f"{network.hub.url}/ocpi/2.2.1/{case.path}"
    content: Any = case.body
    if case.chunked:
        assert case.body is not None
        body = case.body

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        content = chunks()
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        request = client.build_request(
            case.method, url, headers=headers_for(network, case), content=content
        )
        if case.chunked:
            assert "content-length" not in request.headers
            assert request.headers["transfer-encoding"] == "chunked"
        return await client.send(request)


async def stored(network: Network) -> dict[str, list[Any]]:
    """Every GET All list as the role that may read it sees it, and every row the hub holds."""
    lists: dict[str, list[Any]] = {}
    # Locations and tariffs are read by eMSPs, tokens by CPOs; sessions and CDRs are listed to
    # the eMSP of their customers (the role matrix).
    views = [(network.emsp, m) for m in ("locations", "tariffs", "sessions", "cdrs")]
    views.append((network.cpo, "tokens"))
    for peer, module in views:
        url = network.hub.endpoint(module, "sender")
        answer = await peer.call("GET", url, to=peer.hub_party)
        assert answer.json()["status_code"] == 1000, answer.text
        lists[f"{module} seen by {peer.role}"] = answer.json()["data"]
    lists.update({table: [count] for table, count in (await row_counts(network.hub)).items()})
    return lists


@pytest.mark.parametrize("name", list(CASES))
async def test_bad_input_is_refused_and_nothing_is_stored_or_forwarded(
    network: Network, name: str
) -> None:
    case = CASES[name]
    network.cpo.received.clear()
    network.emsp.received.clear()
    answer = await send(network, case)
    await network.hub.settle()  # a broadcast copy, had one been sent, has arrived by now

    body = assert_envelope(answer)
    assert (answer.status_code, body["status_code"]) == (case.http, case.code), answer.text
    assert "data" not in body
    assert case.message in body.get("status_message", ""), body
    assert network.cpo.received == [], "the CPO received something"
    assert network.emsp.received == [], "the eMSP received something"
    assert {k: v for k, v in (await stored(network)).items() if v} == {}, "the hub stored it"


async def test_unknown_fields_are_relayed_and_stored_untouched(hub: HubUnderTest) -> None:
    """Policy (validation.py, check 56): vendor fields are not an error; the object, with
    them, is forwarded byte for byte and kept as sent. Also the control for the cases above:
    the same peers and lists do show a valid push."""
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        evse = {**LOC["evses"][0], "x_vendor_evse": [1, 2]}
        body = {**LOC, "evses": [evse], "x_vendor": {"colour": "green"}}
        raw = js(body)
        answer = await cpo.call("PUT", f"{hub.url}/ocpi/2.2.1/{LOC_URL}", to=EMSP, content=raw)
        assert answer.json()["status_code"] == 1000, answer.text
        (forwarded,) = emsp.requests("PUT", "/locations/receiver/")
        assert forwarded.body == raw
        listed = await emsp.call("GET", hub.endpoint("locations", "sender"), to=emsp.hub_party)
        assert listed.json()["data"] == [body]
