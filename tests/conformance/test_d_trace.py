"""Conformance checks 26-28 (D. Trace ids: X-Request-ID and X-Correlation-ID).

transport_and_format: every response carries the request's X-Request-ID and X-Correlation-ID;
a forwarded request gets a new X-Request-ID and keeps the X-Correlation-ID. docs/policies.md
(Errors and HTTP status): a request without either id gets a generated one, and the forwarded
hop carries the generated correlation id. Requests the hub starts itself (registration GETs,
ClientInfo pushes, still-alive GETs) carry fresh UUIDs.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import orjson
import pytest
from starlette.responses import Response

from tests.conformance.support import (
    Party,
    addressed,
    exactly,
    hub_party,
    location,
    register_all,
    tariff,
    to_of,
    trace,
)
from tests.peers.strict.peer import Received, StrictPeer, envelope, running_peer
from tests.support.hub import HubUnderTest, running_hub

CPO: Party = ("NL", "CPA")
EMSP: Party = ("DE", "EMA")
CONFIGURATION = ("/versions", "/2.2.1", "/credentials", "/hubclientinfo")


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def echoed(answer: httpx.Response, ids: dict[str, str]) -> bool:
    request_id: str | None = answer.headers.get("x-request-id")
    correlation_id: str | None = answer.headers.get("x-correlation-id")
    return request_id == ids["X-Request-ID"] and correlation_id == ids["X-Correlation-ID"]


def answering_with_own_ids(_: Received) -> Response:
    """A receiver that puts trace ids of its own on its answer (the hub must not relay them)."""
    return Response(
        envelope({"id": "L1"}),
        media_type="application/json",
        headers={"X-Request-ID": "receiver-request-id", "X-Correlation-ID": "receiver-corr-id"},
    )


async def two_peers(hub: HubUnderTest, cpo: StrictPeer, emsp: StrictPeer) -> None:
    await register_all(hub, cpo, emsp)
    cpo.received.clear()
    emsp.received.clear()


# --- 26 --------------------------------------------------------------------------------------
@pytest.mark.conformance(26)
async def test_check26_every_response_echoes_both_trace_ids(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await two_peers(hub, cpo, emsp)
        cpo.on("GET", "/locations/sender/L1", answering_with_own_ids)
        functional = hub.endpoint("locations", "sender")
        receiver = hub.endpoint("locations", "receiver")
        to = {"OCPI-to-country-code": CPO[0], "OCPI-to-party-id": CPO[1]}
        # (what, method, url, headers without ids, body, expected HTTP status)
        cases: list[tuple[str, str, str, dict[str, str], bytes | None, int]] = [
            ("versions", "GET", hub.versions_url, emsp.auth(), None, 200),
            ("version details", "GET", hub.details_url, emsp.auth(), None, 200),
            ("credentials", "GET", f"{hub.url}/ocpi/2.2.1/credentials", emsp.auth(), None, 200),
            ("hubclientinfo", "GET", f"{hub.url}/ocpi/2.2.1/hubclientinfo", emsp.auth(), None, 200),
            ("no token", "GET", functional, {}, None, 401),
            ("unknown token", "GET", hub.versions_url, {"Authorization": "Token eHl6"}, None, 401),
            ("unknown path", "GET", f"{hub.url}/ocpi/2.2.1/nothing", emsp.auth(), None, 404),
            (
                "method not allowed",
                "DELETE",
                f"{receiver}/NL/CPA/L1",
                {**emsp.auth(), **emsp.routing(CPO)},
                None,
                405,
            ),
            (
                "not JSON",
                "PUT",
                f"{receiver}/NL/CPA/L1",
                {**cpo.auth(), **cpo.routing(EMSP), "Content-Type": "application/json"},
                b"{not json",
                400,
            ),
            ("no OCPI-from", "GET", f"{functional}/L1", {**emsp.auth(), **to}, None, 200),
            (
                "unknown receiver",
                "GET",
                f"{functional}/L1",
                {**emsp.auth(), **emsp.routing(("DE", "ZZZ"))},
                None,
                200,
            ),
            (
                "forwarded",
                "GET",
                f"{functional}/L1",
                {**emsp.auth(), **emsp.routing(CPO)},
                None,
                200,
            ),
            (
                "GET All",
                "GET",
                functional,
                {**emsp.auth(), **emsp.routing(hub_party(hub))},
                None,
                200,
            ),
            (
                "broadcast",
                "PUT",
                f"{receiver}/NL/CPA/L1",
                {**cpo.auth(), **cpo.routing(hub_party(hub)), "Content-Type": "application/json"},
                orjson.dumps(location(*CPO, "L1")),
                200,
            ),
        ]
        answers: list[tuple[str, dict[str, str], httpx.Response, int]] = []
        async with httpx.AsyncClient(timeout=30) as client:
            for what, method, url, headers, body, status in cases:
                # Ids in any format are echoed as they are (not only UUIDs).
                ids = {
                    "X-Request-ID": f"req-{what.replace(' ', '-')}-{uuid.uuid4().hex[:6]}",
                    "X-Correlation-ID": f"corr/{what}/{uuid.uuid4()}",
                }
                # The routing headers above came with ids of their own: these replace them.
                sent = {**headers, **ids}
                answer = await client.request(method, url, headers=sent, content=body)
                answers.append((what, ids, answer, status))
        await hub.settle()
    for what, ids, answer, status in answers:
        assert answer.status_code == status, (what, answer.text)
        assert echoed(answer, ids), (what, dict(answer.headers))


@pytest.mark.conformance(26)
async def test_check26_a_body_over_the_limit_is_refused_with_the_ids_echoed() -> None:
    async with (
        running_hub(max_body_bytes=2048) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
    ):
        await register_all(hub, cpo)
        ids = trace()
        big = location(*CPO, "L1", name="x" * 4096)
        answer = await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
            to=hub_party(hub),
            json=big,
            headers=ids,
        )
    assert answer.status_code == 413
    assert echoed(answer, ids)


# --- 27 --------------------------------------------------------------------------------------
@pytest.mark.conformance(27)
async def test_check27_forwarded_request_has_a_new_request_id_and_the_same_correlation_id(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await two_peers(hub, cpo, emsp)
        cpo.on("GET", "/locations/sender/L1", answering_with_own_ids)
        url = hub.endpoint("locations", "sender") + "/L1"
        ids = trace()
        first = await emsp.call("GET", url, to=CPO, headers=ids)
        # A client that reuses an X-Request-ID still gets a distinct one on each hop.
        again = await emsp.call("GET", url, to=CPO, headers=ids)
        other = trace()
        third = await emsp.call("GET", url, to=CPO, headers=other)
    hops = exactly(cpo, "GET", "/locations/sender/L1")
    assert len(hops) == 3
    forwarded_ids = [h.headers["x-request-id"] for h in hops]
    assert len(set(forwarded_ids)) == 3
    assert not set(forwarded_ids) & {ids["X-Request-ID"], other["X-Request-ID"]}
    assert all(is_uuid(value) for value in forwarded_ids), forwarded_ids
    assert [h.headers["x-correlation-id"] for h in hops] == [
        ids["X-Correlation-ID"],
        ids["X-Correlation-ID"],
        other["X-Correlation-ID"],
    ]
    # The relayed answer carries the requester's ids, not the receiver's.
    for answer, sent in ((first, ids), (again, ids), (third, other)):
        assert answer.json()["status_code"] == 1000
        assert addressed(answer) == (CPO, EMSP)
        assert echoed(answer, sent), dict(answer.headers)


@pytest.mark.conformance(27)
async def test_check27_fan_out_copies_each_have_their_own_request_id(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EM1") as first,
        running_peer(role="EMSP", country_code="DE", party_id="EM2") as second,
        running_peer(
            role="EMSP", country_code="DE", party_id="EM3", extra_roles=[("NSP", "DE", "NS3")]
        ) as third,
    ):
        await register_all(hub, cpo, first, second, third)
        ids = trace()
        answer = await cpo.call(
            "PUT",
            hub.endpoint("tariffs", "receiver") + "/NL/CPA/T1",
            to=hub_party(hub),
            json=tariff(*CPO, "T1"),
            headers=ids,
        )
        await hub.settle()
    assert answer.json()["status_code"] == 1000
    assert echoed(answer, ids)
    copies = [
        c
        for peer in (first, second, third)
        for c in exactly(peer, "PUT", "/tariffs/receiver/NL/CPA/T1")
    ]
    # One copy per receiving party (the EMSP/NSP platform gets one per role).
    assert sorted(to_of(c) for c in copies) == [
        ("DE", "EM1"),
        ("DE", "EM2"),
        ("DE", "EM3"),
        ("DE", "NS3"),
    ]
    request_ids = [c.headers["x-request-id"] for c in copies]
    assert len(set(request_ids)) == len(copies)
    assert ids["X-Request-ID"] not in request_ids
    assert all(is_uuid(value) for value in request_ids)
    assert {c.headers["x-correlation-id"] for c in copies} == {ids["X-Correlation-ID"]}


@pytest.mark.conformance(27)
async def test_check27_ids_across_a_command_and_its_result(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await two_peers(hub, cpo, emsp)
        command_ids = trace()
        body: dict[str, Any] = {
            "response_url": f"{emsp.url}/commands/sender/results/1",
            "session_id": "S1",
        }
        command = await emsp.call(
            "POST",
            hub.endpoint("commands", "receiver") + "/STOP_SESSION",
            to=CPO,
            json=body,
            headers=command_ids,
        )
        (to_cpo,) = exactly(cpo, "POST", "/commands/receiver/STOP_SESSION")
        result_ids = trace()  # the CPO's own ids for its (later, separate) result request
        result = await cpo.call(
            "POST",
            to_cpo.json()["response_url"],
            to=EMSP,
            json={"result": "ACCEPTED"},
            headers=result_ids,
        )
        (to_emsp,) = exactly(emsp, "POST", "/commands/sender/results/1")
    assert command.json()["status_code"] == 1000
    assert result.json()["status_code"] == 1000
    assert echoed(command, command_ids)
    assert echoed(result, result_ids)
    request_ids = [
        command_ids["X-Request-ID"],
        to_cpo.headers["x-request-id"],
        result_ids["X-Request-ID"],
        to_emsp.headers["x-request-id"],
    ]
    assert len(set(request_ids)) == 4, request_ids
    # Both hops the hub makes belong to the eMSP's command (check 42).
    assert to_cpo.headers["x-correlation-id"] == command_ids["X-Correlation-ID"]
    assert to_emsp.headers["x-correlation-id"] == command_ids["X-Correlation-ID"]


# --- 28 --------------------------------------------------------------------------------------
@pytest.mark.conformance(28)
async def test_check28_missing_ids_are_generated_and_the_correlation_id_forwarded(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        running_peer(role="EMSP", country_code="DE", party_id="EM2") as other,
    ):
        await register_all(hub, cpo, emsp, other)
        for peer in (cpo, emsp, other):
            peer.received.clear()
        url = hub.endpoint("locations", "sender") + "/L1"
        routing = {
            "OCPI-from-country-code": EMSP[0],
            "OCPI-from-party-id": EMSP[1],
            "OCPI-to-country-code": CPO[0],
            "OCPI-to-party-id": CPO[1],
        }
        only_request_id = await emsp.call(
            "GET", url, routing=False, headers={**routing, "X-Request-ID": "emsp-req-1"}
        )
        neither = await emsp.call("GET", url, routing=False, headers=routing)
        neither_again = await emsp.call("GET", url, routing=False, headers=routing)
        # A broadcast without ids: every copy carries the one generated correlation id.
        pushed = await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPA/L1",
            routing=False,
            json=location(*CPO, "L1"),
            headers={
                "OCPI-from-country-code": CPO[0],
                "OCPI-from-party-id": CPO[1],
                "OCPI-to-country-code": hub_party(hub)[0],
                "OCPI-to-party-id": hub_party(hub)[1],
            },
        )
        await hub.settle()
    hops = exactly(cpo, "GET", "/locations/sender/L1")
    assert len(hops) == 3
    answers = (only_request_id, neither, neither_again)
    for answer, hop in zip(answers, hops, strict=True):
        assert answer.json()["status_code"] == 1000
        correlation = answer.headers["x-correlation-id"]
        assert is_uuid(correlation), correlation
        assert hop.headers["x-correlation-id"] == correlation
        assert is_uuid(hop.headers["x-request-id"])
        assert hop.headers["x-request-id"] != answer.headers["x-request-id"]
    assert only_request_id.headers["x-request-id"] == "emsp-req-1"
    for answer in (neither, neither_again):
        assert is_uuid(answer.headers["x-request-id"])
        assert answer.headers["x-request-id"] != answer.headers["x-correlation-id"]
    generated = [a.headers[h] for a in answers for h in ("x-correlation-id", "x-request-id")][1:]
    assert len(set(generated)) == len(generated), "each request gets ids of its own"

    assert pushed.json()["status_code"] == 1000
    correlation = pushed.headers["x-correlation-id"]
    assert is_uuid(correlation) and is_uuid(pushed.headers["x-request-id"])
    copies = [
        c for peer in (emsp, other) for c in exactly(peer, "PUT", "/locations/receiver/NL/CPA/L1")
    ]
    assert len(copies) == 2
    assert {c.headers["x-correlation-id"] for c in copies} == {correlation}
    copy_ids = {c.headers["x-request-id"] for c in copies}
    assert len(copy_ids) == 2 and pushed.headers["x-request-id"] not in copy_ids


@pytest.mark.conformance(28)
async def test_check28_hub_originated_requests_carry_fresh_uuids() -> None:
    async with (
        running_hub(still_alive_interval=0.0, still_alive_check_period=0.2) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        # Registration: the hub GETs each peer's versions and details and pushes ClientInfo.
        await register_all(hub, cpo, emsp)
        # A command result the CPO posts without any trace ids (extrawest style).
        command_ids = trace()
        await emsp.call(
            "POST",
            hub.endpoint("commands", "receiver") + "/STOP_SESSION",
            to=CPO,
            json={"response_url": f"{emsp.url}/commands/sender/results/1", "session_id": "S1"},
            headers=command_ids,
        )
        (to_cpo,) = exactly(cpo, "POST", "/commands/receiver/STOP_SESSION")
        callback = await cpo.call(
            "POST", to_cpo.json()["response_url"], routing=False, json={"result": "ACCEPTED"}
        )
        # Still-alive GETs arrive on their own (the interval is zero here).
        for _ in range(250):
            if all(len(exactly(p, "GET", "/versions")) >= 2 for p in (cpo, emsp)):
                break
            await asyncio.sleep(0.02)
        await hub.settle()
    assert callback.json()["status_code"] == 1000
    assert is_uuid(callback.headers["x-request-id"])
    assert is_uuid(callback.headers["x-correlation-id"])
    originated = [r for r in cpo.received + emsp.received if r.path.startswith(CONFIGURATION)]
    kinds = {(r.method, r.path) for r in originated}
    assert {
        ("GET", "/versions"),
        ("GET", "/2.2.1"),
        ("PUT", "/hubclientinfo/receiver/DE/EMA"),
    } <= kinds
    assert all(len(exactly(p, "GET", "/versions")) >= 2 for p in (cpo, emsp)), "still-alive"
    request_ids = [r.headers["x-request-id"] for r in originated]
    correlation_ids = [r.headers["x-correlation-id"] for r in originated]
    assert all(is_uuid(v) for v in request_ids + correlation_ids)
    assert len(set(request_ids)) == len(originated), "a fresh X-Request-ID per request"
    assert len(set(correlation_ids)) == len(originated), "each starts a conversation of its own"
    # The result the hub delivers has a fresh request id, in the command's conversation.
    (delivered,) = exactly(emsp, "POST", "/commands/sender/results/1")
    assert is_uuid(delivered.headers["x-request-id"])
    assert delivered.headers["x-request-id"] not in {
        callback.headers["x-request-id"],
        to_cpo.headers["x-request-id"],
        command_ids["X-Request-ID"],
        *request_ids,
    }
    assert delivered.headers["x-correlation-id"] == command_ids["X-Correlation-ID"]
