"""Conformance checks 18-25 (C. Routing), with the fault cases of check 20.

docs/policies.md (Routing) fixes what the spec leaves open: a functional request without
OCPI-from, or with an OCPI-from that is not one of the calling platform's roles, is refused with
HTTP 200 and 2001; TO naming an unknown party, or a party without the module's interface, is
4001; a known party that is not CONNECTED, or that cannot be reached, is 4003; a receiver that
does not answer within ``INCAR_FORWARD_TIMEOUT`` is 4002. Nothing is forwarded in these cases.
A receiver's answer that is JSON is relayed as it is (any HTTP status, any OCPI status); one
that is not JSON at all cannot be relayed as an OCPI answer and becomes 4003.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import orjson
import pytest
from starlette.responses import Response

from ocpi_adapter.types import ConnectionStatus
from tests.conformance.support import (
    Party,
    addressed,
    assert_envelope,
    cdr,
    charging_session,
    exactly,
    from_of,
    get_all,
    hub_party,
    location,
    register_all,
    set_status,
    status_of,
    tariff,
    to_of,
    token,
    trace,
)
from tests.peers.extrawest.launcher import ExtrawestPeer, encode_token
from tests.peers.extrawest.registration import register_extrawest
from tests.peers.strict.peer import DEFAULT_MODULES, Received, StrictPeer, envelope, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.shared import SPEC_EXAMPLES

EXAMPLES = SPEC_EXAMPLES
# The parties of the party-to-party cases: the CPO of cdr_example.json and the eMSP of
# token_put_example.json, so that the spec's own files can be sent byte for byte.
CPO: Party = ("BE", "BEC")
EMSP: Party = ("NL", "TNM")
# Paths of the configuration modules: what a peer gets that is not a functional request.
CONFIGURATION = ("/versions", "/2.2.1", "/credentials", "/hubclientinfo")
# Generous bounds on waits (the hub under test runs with forward_timeout=0.5 s).
FORWARD_TIMEOUT = 0.5
BOUND = 5.0


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def pretty(value: Any) -> bytes:
    """JSON as a person would format it: any re-serialisation by the hub changes the bytes."""
    return json.dumps(value, indent=4).encode() + b"\n"


def functional(peer: StrictPeer) -> list[Received]:
    """What the peer got apart from registration and ClientInfo traffic."""
    return [r for r in peer.received if not r.path.startswith(CONFIGURATION)]


def party(peer: StrictPeer) -> Party:
    return peer.country_code, peer.party_id


def url_of(hub: HubUnderTest, module: str, interface: str, suffix: str, query: str = "") -> str:
    url = hub.endpoint(module, interface) + (f"/{suffix}" if suffix else "")
    return f"{url}?{query}" if query else url


def scripted(
    body: bytes, *, status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[Received], Response]:
    def handler(_: Received) -> Response:
        return Response(body, status_code=status, headers=headers, media_type="application/json")

    return handler


def assert_refused(
    answer: httpx.Response,
    hub: HubUnderTest,
    requester: Party,
    status_code: int,
    ids: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A hub error: HTTP 200, the OCPI status, FROM the hub TO the requester, ids echoed."""
    assert answer.status_code == 200, answer.text
    body = assert_envelope(answer)
    assert body["status_code"] == status_code, answer.text
    assert "data" not in body, answer.text
    assert addressed(answer) == (hub_party(hub), requester)
    if ids is not None:
        assert answer.headers["x-request-id"] == ids["X-Request-ID"]
        assert answer.headers["x-correlation-id"] == ids["X-Correlation-ID"]
    return body


async def nothing_stored(hub: HubUnderTest, peer: StrictPeer, module: str) -> None:
    """GET All via the hub (TO = hub) shows no object of ``module``."""
    items, _ = await get_all(peer, hub.endpoint(module, "sender"), to=hub_party(hub))
    assert items == [], items


@contextlib.asynccontextmanager
async def cpo_and_emsp(
    hub: HubUnderTest,
    *,
    cpo_modules: dict[str, list[str]] | None = None,
    emsp_modules: dict[str, list[str]] | None = None,
) -> AsyncIterator[tuple[StrictPeer, StrictPeer]]:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1], modules=cpo_modules) as cpo,
        running_peer(
            role="EMSP", country_code=EMSP[0], party_id=EMSP[1], modules=emsp_modules
        ) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        cpo.received.clear()
        emsp.received.clear()
        yield cpo, emsp


# --- 18 --------------------------------------------------------------------------------------
@pytest.mark.conformance(18)
async def test_check18_missing_or_spoofed_from_is_refused_and_not_forwarded(
    hub: HubUnderTest,
) -> None:
    async with (
        cpo_and_emsp(hub) as (cpo, emsp),
        running_peer(
            role="CPO",
            country_code="BE",
            party_id="CP2",
            extra_roles=[("EMSP", "BE", "EM2")],
            modules={**DEFAULT_MODULES["CPO"], "tokens": ["SENDER", "RECEIVER"]},
        ) as multi,
    ):
        await register_all(hub, multi)
        multi.received.clear()
        url = url_of(hub, "locations", "receiver", "BE/BEC/L1")
        body = location(*CPO, "L1")
        to = {"OCPI-to-country-code": EMSP[0], "OCPI-to-party-id": EMSP[1]}
        without: list[tuple[str, dict[str, str]]] = [
            ("no FROM", {}),
            ("only the country code", {"OCPI-from-country-code": CPO[0]}),
            ("only the party id", {"OCPI-from-party-id": CPO[1]}),
        ]
        for what, partial in without:
            ids = trace()
            answer = await cpo.call(
                "PUT", url, json=body, routing=False, headers={**ids, **to, **partial}
            )
            assert answer.status_code == 200, what
            refused = assert_envelope(answer)
            assert refused["status_code"] == 2001, (what, answer.text)
            assert "ocpi-to-party-id" not in answer.headers, what
            assert answer.headers["x-request-id"] == ids["X-Request-ID"]
        # FROM naming a party that is not one of the calling platform's roles.
        spoofed: list[Party] = [
            ("BE", "CP2"),  # another platform's CPO
            ("BE", "EM2"),  # another platform's eMSP
            EMSP,  # the receiver itself
            hub_party(hub),  # the hub
            ("BE", "ZZZ"),  # nobody
        ]
        for claimed in spoofed:
            ids = trace()
            headers = {
                **ids,
                **to,
                "OCPI-from-country-code": claimed[0],
                "OCPI-from-party-id": claimed[1],
            }
            answer = await cpo.call(
                "PUT",
                url_of(hub, "locations", "receiver", f"{claimed[0]}/{claimed[1]}/L1"),
                json=location(*claimed, "L1"),
                routing=False,
                headers=headers,
            )
            assert answer.status_code == 200, claimed
            assert assert_envelope(answer)["status_code"] == 2001, (claimed, answer.text)
            # The refusal is not addressed to the party the caller pretended to be (policy).
            assert "ocpi-to-country-code" not in answer.headers, claimed
            assert "ocpi-to-party-id" not in answer.headers, claimed
            assert answer.headers["x-request-id"] == ids["X-Request-ID"]
        assert functional(emsp) == []
        assert functional(multi) == []
        await nothing_stored(hub, emsp, "locations")

        # The platform's own second role is a valid FROM (positive control), each role on an
        # interface OCPI gives it: the CPO pulls tokens, the eMSP GETs its token at a CPO.
        allowed = await multi.call("GET", url_of(hub, "tokens", "sender", ""), to=EMSP)
        own_role = await multi.call(
            "GET",
            url_of(hub, "tokens", "receiver", "BE/EM2/T1"),
            headers={
                **multi.routing(CPO),
                "OCPI-from-country-code": "BE",
                "OCPI-from-party-id": "EM2",
            },
        )
        assert allowed.json()["status_code"] == 1000, allowed.text
        assert own_role.json()["status_code"] == 1000, own_role.text
        assert [from_of(r) for r in exactly(emsp, "GET", "/tokens/sender")] == [("BE", "CP2")]
        assert [from_of(r) for r in exactly(cpo, "GET", "/tokens/receiver/BE/EM2/T1")] == [
            ("BE", "EM2")
        ]


# --- 19 --------------------------------------------------------------------------------------
@pytest.mark.conformance(19)
async def test_check19_unknown_receiver_is_4001_and_nothing_is_forwarded(
    hub: HubUnderTest,
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        unknown: Party = ("DE", "ZZZ")
        requests: list[tuple[StrictPeer, str, str, Any]] = [
            (cpo, "PUT", url_of(hub, "locations", "receiver", "BE/BEC/L1"), location(*CPO, "L1")),
            (cpo, "GET", url_of(hub, "tariffs", "receiver", "BE/BEC/T1"), None),
            (cpo, "POST", url_of(hub, "cdrs", "receiver", ""), cdr(CPO, "CDR1", EMSP)),
            (emsp, "GET", url_of(hub, "locations", "sender", "L1"), None),
            (emsp, "GET", url_of(hub, "locations", "sender", "", "offset=0&limit=5"), None),
            (
                emsp,
                "POST",
                url_of(hub, "commands", "receiver", "STOP_SESSION"),
                {"response_url": f"{emsp.url}/commands/sender/results/1", "session_id": "S1"},
            ),
        ]
        for requester, method, url, body in requests:
            ids = trace()
            answer = await requester.call(method, url, to=unknown, json=body, headers=ids)
            assert_refused(answer, hub, party(requester), 4001, ids)
        await hub.settle()
        assert functional(cpo) == []
        assert functional(emsp) == []
        await nothing_stored(hub, emsp, "locations")
        await nothing_stored(hub, emsp, "cdrs")


# --- 20 --------------------------------------------------------------------------------------
@pytest.mark.conformance(20)
@pytest.mark.parametrize(
    "status", [ConnectionStatus.OFFLINE, ConnectionStatus.SUSPENDED, ConnectionStatus.PLANNED]
)
async def test_check20_receiver_not_connected_is_4003_and_nothing_is_forwarded(
    hub: HubUnderTest, status: ConnectionStatus
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        if status is ConnectionStatus.PLANNED:
            # Configured by `incar platform add`, not registered yet.
            await hub.onboard("EMSP", "DE", "PLN")
            target: Party = ("DE", "PLN")
        else:
            await set_status(hub, EMSP, status)
            target = EMSP
        await hub.settle()
        cpo.received.clear()
        emsp.received.clear()
        for method, url, body in [
            ("PUT", url_of(hub, "locations", "receiver", "BE/BEC/L1"), location(*CPO, "L1")),
            ("GET", url_of(hub, "tokens", "sender", "", "offset=0"), None),
            ("DELETE", url_of(hub, "tariffs", "receiver", "BE/BEC/T1"), None),
        ]:
            ids = trace()
            answer = await cpo.call(method, url, to=target, json=body, headers=ids)
            assert_refused(answer, hub, CPO, 4003, ids)
        await hub.settle()
        assert functional(emsp) == []


@pytest.mark.conformance(20)
async def test_check20_unreachable_receiver_is_4003_made_offline_others_keep_working(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        async with running_peer(role="EMSP", country_code="DE", party_id="EMG") as gone:
            await register_all(hub, cpo, emsp, gone)
        # The peer's server is down now: connections to it are refused.
        gone.received.clear()
        url = url_of(hub, "locations", "receiver", "BE/BEC/L1")
        ids = trace()
        started = time.monotonic()
        answer = await cpo.call(
            "PUT", url, to=("DE", "EMG"), json=location(*CPO, "L1"), headers=ids
        )
        assert time.monotonic() - started < BOUND
        assert_refused(answer, hub, CPO, 4003, ids)
        await hub.settle()
        assert await status_of(hub, ("DE", "EMG")) is ConnectionStatus.OFFLINE
        # The other parties learnt it through ClientInfo, and keep being served.
        pushed = [
            r.json()["status"] for r in emsp.requests("PUT", "/hubclientinfo/receiver/DE/EMG")
        ]
        assert pushed[-1] == "OFFLINE", pushed
        other = await cpo.call("PUT", url, to=EMSP, json=location(*CPO, "L1"))
        assert other.json()["status_code"] == 1000, other.text
        assert len(exactly(emsp, "PUT", "/locations/receiver/BE/BEC/L1")) == 1
        # Once OFFLINE, the hub answers 4003 at once, without trying the peer again.
        again = await cpo.call("GET", url_of(hub, "tokens", "sender", ""), to=("DE", "EMG"))
        assert_refused(again, hub, CPO, 4003)
        assert gone.received == []


@pytest.mark.conformance(20)
async def test_check20_slow_receiver_is_4002_within_the_deadline_others_keep_working() -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def stall(_: Received) -> Response:
        arrived.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(release.wait(), timeout=30)
        return Response(envelope(), media_type="application/json")

    async with (
        running_hub(forward_timeout=FORWARD_TIMEOUT) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        running_peer(role="EMSP", country_code="DE", party_id="ESL") as slow,
    ):
        await register_all(hub, cpo, emsp, slow)
        slow.on("PUT", "/locations/receiver/", stall)
        url = url_of(hub, "locations", "receiver", "BE/BEC/L1")
        ids = trace()
        try:
            started = time.monotonic()
            pending = asyncio.create_task(
                cpo.call("PUT", url, to=("DE", "ESL"), json=location(*CPO, "L1"), headers=ids)
            )
            await asyncio.wait_for(arrived.wait(), timeout=BOUND)
            # While the slow peer holds its request, another party is served as usual.
            during = await cpo.call("PUT", url, to=EMSP, json=location(*CPO, "L1"))
            answer = await asyncio.wait_for(pending, timeout=BOUND)
            elapsed = time.monotonic() - started
        finally:
            release.set()
        assert during.json()["status_code"] == 1000, during.text
        assert FORWARD_TIMEOUT * 0.8 <= elapsed < FORWARD_TIMEOUT + BOUND
        assert_refused(answer, hub, CPO, 4002, ids)
        assert len(exactly(slow, "PUT", "/locations/receiver/BE/BEC/L1")) == 1, "no retry"
        # Policy: a timeout does not change the party's status; it is served once it is fast.
        assert await status_of(hub, ("DE", "ESL")) is ConnectionStatus.CONNECTED
        slow.handlers.clear()
        after = await cpo.call("PUT", url, to=("DE", "ESL"), json=location(*CPO, "L1"))
        assert after.json()["status_code"] == 1000, after.text
        assert len(exactly(emsp, "PUT", "/locations/receiver/BE/BEC/L1")) == 1


GARBAGE: dict[str, tuple[int, str, bytes]] = {
    "text": (200, "text/plain", b"this is not JSON"),
    "html": (200, "text/html", b"<html><body><h1>Welcome to nginx!</h1></body></html>"),
    "html-500": (500, "text/html", b"<html><body>500 Internal Server Error</body></html>"),
    "empty-502": (502, "text/plain", b""),
    "truncated-json": (200, "application/json", b'{"status_code": 1000, "data": {"id"'),
}


@pytest.mark.conformance(20)
@pytest.mark.parametrize("kind", list(GARBAGE))
async def test_check20_receiver_answering_garbage_is_4003_others_keep_working(
    hub: HubUnderTest, kind: str
) -> None:
    status, media_type, content = GARBAGE[kind]
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        running_peer(role="EMSP", country_code="DE", party_id="EGB") as broken,
    ):
        await register_all(hub, cpo, emsp, broken)
        broken.on(
            "PUT",
            "/locations/receiver/",
            lambda _: Response(content, status_code=status, media_type=media_type),
        )
        url = url_of(hub, "locations", "receiver", "BE/BEC/L1")
        ids = trace()
        started = time.monotonic()
        answer = await cpo.call(
            "PUT", url, to=("DE", "EGB"), json=location(*CPO, "L1"), headers=ids
        )
        assert time.monotonic() - started < BOUND
        assert_refused(answer, hub, CPO, 4003, ids)
        assert answer.headers["content-type"] == "application/json"
        assert len(exactly(broken, "PUT", "/locations/receiver/BE/BEC/L1")) == 1, "no retry"
        # Not a connection failure: the party stays CONNECTED (policy) and others are served.
        await hub.settle()
        assert await status_of(hub, ("DE", "EGB")) is ConnectionStatus.CONNECTED
        other = await cpo.call("PUT", url, to=EMSP, json=location(*CPO, "L1"))
        assert other.json()["status_code"] == 1000, other.text
        broken.handlers.clear()
        healed = await cpo.call("PUT", url, to=("DE", "EGB"), json=location(*CPO, "L1"))
        assert healed.json()["status_code"] == 1000, healed.text


@pytest.mark.conformance(20)
async def test_check20_http_500_with_an_ocpi_body_is_relayed_not_mapped(hub: HubUnderTest) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        failure = envelope(status_code=3000, message="database unavailable")
        emsp.on("PUT", "/locations/receiver/", scripted(failure, status=500))
        answer = await cpo.call(
            "PUT",
            url_of(hub, "locations", "receiver", "BE/BEC/L1"),
            to=EMSP,
            json=location(*CPO, "L1"),
        )
    assert answer.status_code == 500
    assert answer.content == failure
    assert addressed(answer) == (EMSP, CPO)


# --- 21 --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Forward:
    """One party-to-party request through the hub, and what the receiver answers."""

    requester: Literal["cpo", "emsp"]
    method: str
    module: str
    interface: Literal["sender", "receiver"]  # the hub's, hence the receiver's, interface
    suffix: str = ""
    query: str = ""
    body: bytes | None = None
    answer: Any = None
    response_url: Literal["body", "query"] | None = None
    list_headers: dict[str, str] = field(default_factory=dict)
    # The CPO's Session S1 of the eMSP's customer passed the hub first (charging preferences
    # come only from the session's own eMSP).
    known_session: bool = False


CHARGING_PROFILE = {
    "charging_rate_unit": "W",
    "charging_profile_period": [{"start_period": 0, "limit": 11000.0}],
}
RESULTS = "http://emsp.invalid/results/1?ref=a%2Fb"


def forwards() -> dict[str, Forward]:
    """Every method of every module the hub routes party to party (mod_* interfaces)."""
    page = {"X-Total-Count": "7", "X-Limit": "5"}
    return {
        # locations
        "locations-GET-sender-object": Forward(
            "emsp", "GET", "locations", "sender", "L1/L1-E1/1", answer={"id": "1"}
        ),
        "locations-GET-sender-list": Forward(
            "emsp",
            "GET",
            "locations",
            "sender",
            query="date_from=2026-01-01T00%3A00%3A00Z&offset=0&limit=5",
            answer=[],
            list_headers=page,
        ),
        "locations-GET-receiver": Forward(
            "cpo", "GET", "locations", "receiver", "BE/BEC/L1/L1-E1", answer={"uid": "L1-E1"}
        ),
        "locations-PUT-receiver": Forward(
            "cpo",
            "PUT",
            "locations",
            "receiver",
            "BE/BEC/L1",
            body=pretty(location(*CPO, "L1", address="Gro\u00dfe Stra\u00dfe 1")),
        ),
        "locations-PATCH-receiver": Forward(
            "cpo",
            "PATCH",
            "locations",
            "receiver",
            "BE/BEC/L1/L1-E1",
            body=example("location_patch_example_status.json"),
        ),
        # sessions
        "sessions-GET-sender-list": Forward(
            "emsp", "GET", "sessions", "sender", query="date_from=2026-01-01T00:00:00Z", answer=[]
        ),
        "sessions-PUT-sender-charging-preferences": Forward(
            "emsp",
            "PUT",
            "sessions",
            "sender",
            "S1/charging_preferences",
            body=pretty({"profile_type": "FAST", "energy_need": 12.50}),
            answer="ACCEPTED",
            known_session=True,
        ),
        "sessions-GET-receiver": Forward(
            "cpo", "GET", "sessions", "receiver", "BE/BEC/S1", answer={"id": "S1"}
        ),
        "sessions-PUT-receiver": Forward(
            "cpo",
            "PUT",
            "sessions",
            "receiver",
            "BE/BEC/S1",
            body=pretty(charging_session(CPO, "S1", EMSP)),
        ),
        "sessions-PATCH-receiver": Forward(
            "cpo",
            "PATCH",
            "sessions",
            "receiver",
            "BE/BEC/S1",
            body=example("session_patch_example_charging_period.json"),
        ),
        # cdrs
        "cdrs-GET-sender-list": Forward(
            "emsp", "GET", "cdrs", "sender", query="offset=5&limit=5", answer=[], list_headers=page
        ),
        "cdrs-POST-receiver": Forward(
            "cpo", "POST", "cdrs", "receiver", body=example("cdr_example.json")
        ),
        # tariffs
        "tariffs-GET-sender-list": Forward("emsp", "GET", "tariffs", "sender", answer=[]),
        "tariffs-GET-receiver": Forward(
            "cpo", "GET", "tariffs", "receiver", "BE/BEC/T1", answer={"id": "T1"}
        ),
        "tariffs-PUT-receiver": Forward(
            "cpo", "PUT", "tariffs", "receiver", "BE/BEC/T1", body=pretty(tariff(*CPO, "T1"))
        ),
        "tariffs-DELETE-receiver": Forward("cpo", "DELETE", "tariffs", "receiver", "BE/BEC/T1"),
        # tokens
        "tokens-GET-sender-list": Forward(
            "cpo", "GET", "tokens", "sender", query="limit=1", answer=[], list_headers=page
        ),
        "tokens-POST-sender-authorize": Forward(
            "cpo",
            "POST",
            "tokens",
            "sender",
            "012345678/authorize",
            query="type=RFID",
            body=pretty({"location_id": "L1", "evse_uids": ["L1-E1"]}),
            answer={"allowed": "ALLOWED", "token": token(*EMSP, "012345678")},
        ),
        "tokens-GET-receiver": Forward(
            "emsp",
            "GET",
            "tokens",
            "receiver",
            "NL/TNM/012345678",
            query="type=RFID",
            answer=token(*EMSP, "012345678"),
        ),
        "tokens-PUT-receiver": Forward(
            "emsp",
            "PUT",
            "tokens",
            "receiver",
            "NL/TNM/012345678",
            query="type=RFID",
            body=example("token_put_example.json"),
        ),
        "tokens-PATCH-receiver": Forward(
            "emsp",
            "PATCH",
            "tokens",
            "receiver",
            "NL/TNM/012345678",
            query="type=RFID",
            body=example("token_patch_example.json"),
        ),
        # commands
        "commands-POST-receiver": Forward(
            "emsp",
            "POST",
            "commands",
            "receiver",
            "START_SESSION",
            body=orjson.dumps(
                {
                    "response_url": RESULTS,
                    "token": token(*EMSP, "012345678"),
                    "location_id": "L1",
                    "evse_uid": "L1-E1",
                    "connector_id": "1",
                }
            ),
            answer={"result": "ACCEPTED", "timeout": 30},
            response_url="body",
        ),
        # chargingprofiles
        "chargingprofiles-GET-receiver": Forward(
            "emsp",
            "GET",
            "chargingprofiles",
            "receiver",
            "S1",
            query="duration=900&response_url=" + quote(RESULTS, safe=""),
            answer={"result": "ACCEPTED", "timeout": 30},
            response_url="query",
        ),
        "chargingprofiles-PUT-receiver": Forward(
            "emsp",
            "PUT",
            "chargingprofiles",
            "receiver",
            "S1",
            body=orjson.dumps({"charging_profile": CHARGING_PROFILE, "response_url": RESULTS}),
            answer={"result": "ACCEPTED", "timeout": 30},
            response_url="body",
        ),
        "chargingprofiles-DELETE-receiver": Forward(
            "emsp",
            "DELETE",
            "chargingprofiles",
            "receiver",
            "S1",
            query="response_url=" + quote(RESULTS, safe=""),
            answer={"result": "ACCEPTED", "timeout": 30},
            response_url="query",
        ),
        "chargingprofiles-PUT-sender": Forward(
            "cpo",
            "PUT",
            "chargingprofiles",
            "sender",
            "S1",
            body=pretty(
                {"start_date_time": "2026-01-01T00:00:00Z", "charging_profile": CHARGING_PROFILE}
            ),
        ),
    }


@pytest.mark.conformance(21)
def test_check21_cases_cover_every_method_of_every_module() -> None:
    """The table of check 21 itself: each module, and each of the five methods, is in it."""
    cases = forwards().values()
    assert {c.module for c in cases} == {
        "locations",
        "sessions",
        "cdrs",
        "tariffs",
        "tokens",
        "commands",
        "chargingprofiles",
    }
    assert {c.method for c in cases} == {"GET", "PUT", "PATCH", "POST", "DELETE"}


def _hub_url_in(received: Received, case: Forward) -> str:
    if case.response_url == "body":
        value = received.json()["response_url"]
    else:
        value = dict(parse_qsl(received.query))["response_url"]
    assert isinstance(value, str)
    return value


async def push_session(hub: HubUnderTest, cpo: StrictPeer, emsp: StrictPeer) -> None:
    """The CPO's Session S1 of the eMSP's customer passes the hub; the peers forget it."""
    pushed = await cpo.call(
        "PUT",
        url_of(hub, "sessions", "receiver", "BE/BEC/S1"),
        to=party(emsp),
        json=charging_session(CPO, "S1", EMSP),
    )
    assert pushed.json()["status_code"] == 1000, pushed.text
    cpo.received.clear()
    emsp.received.clear()


@pytest.mark.conformance(21)
@pytest.mark.parametrize("name", list(forwards()))
async def test_check21_party_to_party_request_reaches_the_receiver_unchanged(
    hub: HubUnderTest, name: str
) -> None:
    case = forwards()[name]
    async with cpo_and_emsp(hub) as (cpo, emsp):
        requester, receiver = (cpo, emsp) if case.requester == "cpo" else (emsp, cpo)
        if case.known_session:
            await push_session(hub, cpo, emsp)
        answer_bytes = envelope(case.answer)
        receiver.on(
            case.method,
            f"/{case.module}/{case.interface}" + (f"/{case.suffix}" if case.suffix else ""),
            scripted(
                answer_bytes,
                headers={**case.list_headers, "X-Request-ID": "receiver-own-id"},
            ),
        )
        ids = trace()
        answer = await requester.call(
            case.method,
            url_of(hub, case.module, case.interface, case.suffix, case.query),
            to=party(receiver),
            content=case.body,
            headers=ids,
        )
        await hub.settle()

    # Exactly one request, at the receiver's endpoint for the module and interface.
    assert functional(requester) == []
    (got,) = functional(receiver)
    assert got.method == case.method
    advertised = receiver.endpoint(case.module, case.interface)
    assert receiver.url + got.path == advertised + (f"/{case.suffix}" if case.suffix else "")
    headers = got.headers
    assert headers["authorization"] == receiver.auth(receiver.token_b)["Authorization"]
    assert from_of(got) == party(requester)
    assert to_of(got) == party(receiver)
    assert headers["x-correlation-id"] == ids["X-Correlation-ID"]
    assert headers["x-request-id"] != ids["X-Request-ID"]
    routing = {k for k in headers if k.startswith(("ocpi-", "x-"))}
    assert routing == {
        "ocpi-from-country-code",
        "ocpi-from-party-id",
        "ocpi-to-country-code",
        "ocpi-to-party-id",
        "x-request-id",
        "x-correlation-id",
    }
    if case.body is None:
        assert got.body == b""
        assert "content-type" not in headers
    else:
        assert headers["content-type"] == "application/json"
    if case.response_url is None:
        assert got.query == case.query
        assert got.body == (case.body or b""), "the body is relayed byte for byte"
    else:
        # Checks 41/45: only response_url changes, to a hub URL of its own.
        hub_url = _hub_url_in(got, case)
        assert hub_url.startswith(hub.endpoint(case.module, "sender") + "/"), hub_url
        assert receiver.url not in hub_url and "emsp.invalid" not in hub_url
        if case.response_url == "body":
            assert got.query == case.query
            assert case.body is not None
            original = orjson.loads(case.body)
            assert got.body == orjson.dumps({**original, "response_url": hub_url})
        else:
            assert got.body == b""
            pairs = parse_qsl(case.query, keep_blank_values=True)
            assert got.query == urlencode(
                [(k, hub_url if k == "response_url" else v) for k, v in pairs]
            )

    # The answer comes back as the receiver gave it (check 22).
    assert answer.status_code == 200
    assert answer.content == answer_bytes
    assert addressed(answer) == (party(receiver), party(requester))
    assert answer.headers["x-request-id"] == ids["X-Request-ID"]
    assert answer.headers["x-correlation-id"] == ids["X-Correlation-ID"]
    for header, value in case.list_headers.items():
        assert answer.headers[header] == value


@pytest.mark.conformance(21)
@pytest.mark.parametrize(
    ("method", "module", "interface", "suffix"),
    [
        ("DELETE", "locations", "receiver", "BE/BEC/L1"),
        ("POST", "locations", "receiver", "BE/BEC/L1"),
        ("PATCH", "tariffs", "receiver", "BE/BEC/T1"),
        ("DELETE", "sessions", "receiver", "BE/BEC/S1"),
        ("PUT", "cdrs", "receiver", ""),
        ("GET", "commands", "receiver", "START_SESSION"),
    ],
)
async def test_check21_methods_a_module_does_not_define_are_405_and_not_forwarded(
    hub: HubUnderTest, method: str, module: str, interface: str, suffix: str
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        requester = cpo if module != "commands" else emsp
        receiver = emsp if requester is cpo else cpo
        answer = await requester.call(
            method,
            url_of(hub, module, interface, suffix),
            to=party(receiver),
            content=b"{}" if method in ("POST", "PUT", "PATCH") else None,
        )
        await hub.settle()
    assert answer.status_code == 405, answer.text
    assert assert_envelope(answer)["status_code"] == 2000
    assert functional(receiver) == []


@pytest.mark.conformance(21)
async def test_check21_extrawest_receiver_gets_the_request_at_its_advertised_endpoint(
    hub: HubUnderTest, extrawest_cpo: ExtrawestPeer
) -> None:
    ext = extrawest_cpo
    ext_party: Party = (ext.country_code, ext.party_id)
    await register_extrawest(hub, ext)
    async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
        await register_all(hub, emsp)
        sent = example("token_put_example.json")
        ids = trace()
        put = await emsp.call(
            "PUT",
            url_of(hub, "tokens", "receiver", "NL/TNM/012345678", "type=RFID"),
            to=ext_party,
            content=sent,
            headers=ids,
        )
        await hub.settle()
    got = [
        r
        for r in await asyncio.to_thread(ext.requests)
        if r["method"] == "PUT" and "/tokens/" in r["path"]
    ]
    assert len(got) == 1
    (request,) = got
    # extrawest advertises ".../tokens/" (trailing slash): joined without a double slash.
    assert ext.endpoint_url("tokens") + "NL/TNM/012345678" == ext.base_url + request["path"]
    assert request["query"] == "type=RFID"
    assert request["body"] == sent.decode()
    headers = request["headers"]
    assert headers["authorization"] == f"Token {encode_token(ext.token_c)}"
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == EMSP
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == ext_party
    assert headers["x-correlation-id"] == ids["X-Correlation-ID"]
    # Its answer is relayed as it came (check 22), addressed from the extrawest CPO.
    assert put.status_code == request["response_status"]
    assert put.text == request["response"]["body"]
    assert addressed(put) == (ext_party, EMSP)


# --- 22 --------------------------------------------------------------------------------------
ANSWERS: dict[str, tuple[int, int, str | None, Any]] = {
    "1000-created": (201, 1000, None, location(*CPO, "L1")),
    "1000-list-for-one-object": (200, 1000, "extra message", [location(*CPO, "L1")]),
    "2001-client-error": (200, 2001, "Missing required field: type", None),
    "2003-unknown-location": (404, 2003, "Unknown Location", None),
    "2000-http-401": (401, 2000, "token rejected", None),
    "3000-server-error": (200, 3000, "try later", {"debug": [1, 2]}),
    "3001-http-500": (500, 3001, "backend failed", None),
    "4001-from-a-further-hub": (200, 4001, "unknown receiver at the next hub", None),
}


@pytest.mark.conformance(22)
@pytest.mark.parametrize("kind", list(ANSWERS))
async def test_check22_receiver_answer_is_relayed_unchanged(hub: HubUnderTest, kind: str) -> None:
    http_status, status_code, message, data = ANSWERS[kind]
    # Formatted the receiver's way (field order, spacing), with an unknown extra field.
    answer_body: dict[str, Any] = {
        "timestamp": "2026-01-01T00:00:00.123Z",
        "status_code": status_code,
    }
    if message is not None:
        answer_body["status_message"] = message
    if data is not None:
        answer_body["data"] = data
    answer_body["vendor_extra"] = {"kept": True}
    raw = pretty(answer_body)
    async with cpo_and_emsp(hub) as (cpo, emsp):
        cpo.on(
            "GET",
            "/locations/sender/L1",
            scripted(
                raw,
                status=http_status,
                headers={
                    "OCPI-from-country-code": "XX",
                    "OCPI-from-party-id": "XXX",
                    "X-Correlation-ID": "receiver-correlation",
                },
            ),
        )
        ids = trace()
        answer = await emsp.call(
            "GET", url_of(hub, "locations", "sender", "L1"), to=CPO, headers=ids
        )
    assert answer.status_code == http_status
    assert answer.content == raw
    assert answer.headers["content-type"] == "application/json"
    # TO = the requester, FROM = the receiver (not what the receiver put in its headers).
    assert addressed(answer) == (CPO, EMSP)
    assert answer.headers["x-request-id"] == ids["X-Request-ID"]
    assert answer.headers["x-correlation-id"] == ids["X-Correlation-ID"]


@pytest.mark.conformance(22)
async def test_check22_extrawest_answers_are_relayed_unchanged(
    hub: HubUnderTest, extrawest_cpo: ExtrawestPeer
) -> None:
    ext = extrawest_cpo
    ext_party: Party = (ext.country_code, ext.party_id)
    await asyncio.to_thread(ext.seed, "locations", location(*ext_party, "EXL1"))
    await register_extrawest(hub, ext)
    async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
        await register_all(hub, emsp)
        found = await emsp.call("GET", url_of(hub, "locations", "sender", "EXL1"), to=ext_party)
        missing = await emsp.call("GET", url_of(hub, "locations", "sender", "NOPE"), to=ext_party)
    got = [r for r in await asyncio.to_thread(ext.requests) if r["method"] == "GET"]
    assert [r["path"] for r in got] == [
        "/ocpi/cpo/2.2.1/locations/EXL1",
        "/ocpi/cpo/2.2.1/locations/NOPE",
    ]
    for relayed, original in zip((found, missing), got, strict=True):
        assert relayed.status_code == original["response_status"]
        assert relayed.text == original["response"]["body"]
        assert addressed(relayed) == (ext_party, EMSP)
    assert found.json()["status_code"] == 1000
    # extrawest's own 404 (JSON, though not an OCPI envelope) is not mapped to a hub error.
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Object not found."}


# --- 23 --------------------------------------------------------------------------------------
@pytest.mark.conformance(23)
async def test_check23_receiver_without_the_module_or_interface_is_4001_without_forwarding(
    hub: HubUnderTest,
) -> None:
    no_tariffs = {k: v for k, v in DEFAULT_MODULES["EMSP"].items() if k != "tariffs"}
    async with (
        cpo_and_emsp(hub, emsp_modules=no_tariffs) as (cpo, emsp),
        running_peer(
            role="EMSP",
            country_code="BE",
            party_id="EM2",
            modules={"tokens": ["SENDER"], "hubclientinfo": ["RECEIVER"]},
        ) as sender_only,
    ):
        await register_all(hub, sender_only)
        sender_only.received.clear()
        refused: list[tuple[StrictPeer, str, str, bytes | None, Party]] = [
            # The eMSP offers no tariffs module at all.
            (
                cpo,
                "PUT",
                url_of(hub, "tariffs", "receiver", "BE/BEC/T1"),
                pretty(tariff(*CPO, "T1")),
                EMSP,
            ),
            (cpo, "GET", url_of(hub, "tariffs", "receiver", "BE/BEC/T1"), None, EMSP),
            # EM2 offers tokens, but only the Sender interface, and no locations or sessions.
            (
                cpo,
                "PUT",
                url_of(hub, "locations", "receiver", "BE/BEC/L1"),
                pretty(location(*CPO, "L1")),
                ("BE", "EM2"),
            ),
            (
                cpo,
                "PUT",
                url_of(hub, "sessions", "receiver", "BE/BEC/S1"),
                pretty(charging_session(CPO, "S1", ("BE", "EM2"))),
                ("BE", "EM2"),
            ),
        ]
        for requester, method, url, body, target in refused:
            ids = trace()
            answer = await requester.call(method, url, to=target, content=body, headers=ids)
            assert_refused(answer, hub, party(requester), 4001, ids)
        await hub.settle()
        assert functional(emsp) == []
        assert functional(sender_only) == []
        await nothing_stored(hub, emsp, "locations")
        await nothing_stored(hub, emsp, "tariffs")
        await nothing_stored(hub, sender_only, "sessions")
        # The interface EM2 does offer is routed (positive control).
        ok = await cpo.call("GET", url_of(hub, "tokens", "sender", "", "limit=5"), to=("BE", "EM2"))
        assert ok.json()["status_code"] == 1000
        assert [r.path for r in functional(sender_only)] == ["/tokens/sender"]


# --- 24 --------------------------------------------------------------------------------------
def no_routing_headers(headers: httpx.Headers | dict[str, str]) -> bool:
    return not any(k.lower().startswith("ocpi-") for k in headers)


@pytest.mark.conformance(24)
async def test_check24_configuration_modules_carry_no_routing_headers() -> None:
    async with (
        running_hub(still_alive_interval=0.0, still_alive_check_period=0.2) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        # Incoming: accepted without routing headers, answered without them.
        async with httpx.AsyncClient(timeout=30) as client:
            answers = [
                await client.get(hub.versions_url, headers=cpo.auth()),
                await client.get(hub.details_url, headers=cpo.auth()),
                await client.get(f"{hub.url}/ocpi/2.2.1/credentials", headers=cpo.auth()),
                await client.get(f"{hub.url}/ocpi/2.2.1/hubclientinfo", headers=cpo.auth()),
                # Routing headers sent anyway are ignored here, and not echoed.
                await client.get(
                    f"{hub.url}/ocpi/2.2.1/hubclientinfo",
                    headers={**cpo.auth(), **cpo.routing(hub_party(hub))},
                ),
            ]
        for answer in answers:
            assert answer.status_code == 200, (answer.url, answer.text)
            assert assert_envelope(answer)["status_code"] == 1000
            assert no_routing_headers(answer.headers), answer.headers
        # Outgoing: still-alive GETs arrive on their own (the interval is zero here).
        for _ in range(250):
            if len(exactly(cpo, "GET", "/versions")) >= 2:
                break
            await asyncio.sleep(0.02)
        await hub.settle()
    configuration = [r for r in cpo.received + emsp.received if r.path.startswith(CONFIGURATION)]
    paths = {r.path for r in configuration}
    assert {"/versions", "/2.2.1", "/hubclientinfo/receiver/NL/TNM"} <= paths, paths
    assert len(exactly(cpo, "GET", "/versions")) >= 2, "a still-alive GET after registration"
    for request in configuration:
        assert no_routing_headers(request.headers), (request.method, request.path)


# --- 25 --------------------------------------------------------------------------------------
@pytest.mark.conformance(25)
async def test_check25_spec_tariff_put_example_on_nl_tnm_12_is_2001(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="TNM") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, emsp)
        emsp.received.clear()
        url = url_of(hub, "tariffs", "receiver", "NL/TNM/12")
        raw = example("tariff_put_example.json")
        with_date = {**orjson.loads(raw), "last_updated": "2026-01-01T00:00:00Z"}
        vectors: list[tuple[bytes, str]] = [
            (raw, ""),
            (orjson.dumps(with_date), "country_code"),  # the URL/body mismatch alone
            (orjson.dumps({**with_date, "country_code": "NL"}), "party_id"),
        ]
        for body, field_name in vectors:
            ids = trace()
            answer = await cpo.call("PUT", url, to=("DE", "EMA"), content=body, headers=ids)
            refused = assert_refused(answer, hub, ("NL", "TNM"), 2001, ids)
            assert field_name in refused.get("status_message", ""), refused
        # Broadcast (TO = hub) is checked the same way.
        broadcast = await cpo.call("PUT", url, to=hub_party(hub), content=orjson.dumps(with_date))
        assert_refused(broadcast, hub, ("NL", "TNM"), 2001)
        await hub.settle()
        assert functional(emsp) == []
        await nothing_stored(hub, emsp, "tariffs")


@pytest.mark.conformance(25)
async def test_check25_url_owner_or_id_differing_from_from_or_body_is_2001(
    hub: HubUnderTest,
) -> None:
    async with (
        cpo_and_emsp(hub) as (cpo, emsp),
        running_peer(role="CPO", country_code="BE", party_id="CP2") as other,
    ):
        await register_all(hub, other)
        emsp.received.clear()
        vectors: list[tuple[StrictPeer, str, str, Any, Party, str]] = [
            # URL owner = another (registered) party than FROM.
            (cpo, "PUT", "tariffs/receiver/BE/CP2/T1", tariff("BE", "CP2", "T1"), EMSP, "URL"),
            (cpo, "DELETE", "tariffs/receiver/BE/CP2/T1", None, EMSP, "URL"),
            (cpo, "GET", "locations/receiver/BE/CP2/L1", None, EMSP, "URL"),
            (
                emsp,
                "PATCH",
                "tokens/receiver/NL/XXX/U1",
                {"valid": False, "last_updated": "2026-01-02T00:00:00Z"},
                CPO,
                "URL",
            ),
            # URL id differs from the body's id, at every depth.
            (cpo, "PUT", "tariffs/receiver/BE/BEC/T2", tariff(*CPO, "T1"), EMSP, "id"),
            (cpo, "PUT", "locations/receiver/BE/BEC/L2", location(*CPO, "L1"), EMSP, "id"),
            (
                cpo,
                "PUT",
                "locations/receiver/BE/BEC/L1/E9",
                location(*CPO, "L1")["evses"][0],
                EMSP,
                "uid",
            ),
            (
                cpo,
                "PUT",
                "sessions/receiver/BE/BEC/S2",
                charging_session(CPO, "S1", EMSP),
                EMSP,
                "id",
            ),
            (emsp, "PUT", "tokens/receiver/NL/TNM/U2", token(*EMSP, "U1"), CPO, "uid"),
            # Body owner differs from the URL (which names the sender).
            (
                cpo,
                "PUT",
                "locations/receiver/BE/BEC/L1",
                location("BE", "CP2", "L1"),
                EMSP,
                "party_id",
            ),
        ]
        for requester, method, path, body, target, needle in vectors:
            ids = trace()
            answer = await requester.call(
                method,
                f"{hub.url}/ocpi/2.2.1/{path}",
                to=target,
                json=body,
                headers=ids,
            )
            refused = assert_refused(answer, hub, party(requester), 2001, ids)
            assert needle in refused.get("status_message", ""), (path, refused)
        await hub.settle()
        assert functional(emsp) == []
        assert functional(cpo) == []
        assert functional(other) == []
        for module in ("tariffs", "locations", "sessions"):
            await nothing_stored(hub, emsp, module)
        await nothing_stored(hub, cpo, "tokens")
        # The consistent request is forwarded (positive control).
        ok = await cpo.call(
            "PUT", url_of(hub, "tariffs", "receiver", "BE/BEC/T1"), to=EMSP, json=tariff(*CPO, "T1")
        )
        assert ok.json()["status_code"] == 1000, ok.text
        assert [r.path for r in functional(emsp)] == ["/tariffs/receiver/BE/BEC/T1"]


@pytest.mark.conformance(25)
async def test_check25_url_owner_is_checked_in_transparent_mode_too() -> None:
    async with (
        running_hub(validation="transparent") as hub,
        cpo_and_emsp(hub) as (cpo, emsp),
    ):
        spoof = await cpo.call(
            "PUT",
            url_of(hub, "tariffs", "receiver", "DE/ALL/12"),
            to=EMSP,
            content=example("tariff_put_example.json"),
        )
        assert_refused(spoof, hub, CPO, 2001)
        assert functional(emsp) == []
