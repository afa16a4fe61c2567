"""Conformance checks 41-44 (H. Commands, async)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
import pytest
from sqlmodel import select
from starlette.responses import Response

from ocpi_adapter.routing.models import Callback
from subgraphs.sessions.models import Command
from tests.conformance.support import assert_envelope, location
from tests.peers.extrawest.launcher import ExtrawestPeer
from tests.peers.extrawest.registration import register_extrawest
from tests.peers.strict.peer import Received, StrictPeer, envelope, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub

CPO = ("NL", "CPA")
EMSP = ("DE", "EMA")
RESULTS = "/commands/sender/results"


def token(uid: str = "RFID-1", party: tuple[str, str] = EMSP) -> dict[str, Any]:
    """A minimal valid Token of mod_tokens."""
    return {
        "country_code": party[0],
        "party_id": party[1],
        "uid": uid,
        "type": "RFID",
        "contract_id": f"{party[0]}-{party[1]}-C{uid}",
        "issuer": "Conformance eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-01-01T00:00:00Z",
    }


def commands(emsp: StrictPeer, location_id: str = "LOC1") -> dict[str, dict[str, Any]]:
    """One valid body per command, each with its own response_url at the eMSP."""

    def url(name: str) -> str:
        return f"{emsp.url}{RESULTS}/{name.lower()}-1?ref=a%2Fb"

    return {
        "START_SESSION": {
            "response_url": url("START_SESSION"),
            "token": token(),
            "location_id": location_id,
            "evse_uid": f"{location_id}-E1",
            "connector_id": "1",
            "authorization_reference": "AUTH-1",
        },
        "STOP_SESSION": {"response_url": url("STOP_SESSION"), "session_id": "S-1"},
        "RESERVE_NOW": {
            "response_url": url("RESERVE_NOW"),
            "token": token(),
            "expiry_date": "2099-01-01T00:00:00Z",
            "reservation_id": "R-1",
            "location_id": location_id,
            "evse_uid": f"{location_id}-E1",
        },
        "CANCEL_RESERVATION": {"response_url": url("CANCEL_RESERVATION"), "reservation_id": "R-1"},
        "UNLOCK_CONNECTOR": {
            "response_url": url("UNLOCK_CONNECTOR"),
            "location_id": location_id,
            "evse_uid": f"{location_id}-E1",
            "connector_id": "1",
        },
    }


@contextlib.asynccontextmanager
async def cpo_and_emsp(hub: HubUnderTest) -> AsyncIterator[tuple[StrictPeer, StrictPeer]]:
    """A strict CPO and a strict eMSP, both registered and CONNECTED at ``hub``."""
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        cpo.received.clear()
        emsp.received.clear()
        yield cpo, emsp


async def eventually(probe: Callable[[], Any], what: str) -> Any:
    """Waits for work another process does in the background (no timing is asserted)."""
    for _ in range(300):
        found = probe()
        if found:
            return found
        await asyncio.sleep(0.02)
    pytest.fail(f"gave up waiting for {what}")


def answering(
    data: Any, sent: list[bytes], status_code: int = 1000
) -> Callable[[Received], Response]:
    """A scripted answer whose exact bytes are kept, to compare with what the hub relays."""

    def handler(_: Received) -> Response:
        body = envelope(data, status_code)
        sent.append(body)
        return Response(body, media_type="application/json")

    return handler


async def send_command(
    emsp: StrictPeer, hub: HubUnderTest, name: str, body: dict[str, Any], **headers: str
) -> httpx.Response:
    return await emsp.call(
        "POST",
        f"{hub.endpoint('commands', 'receiver')}/{name}",
        to=CPO,
        json=body,
        headers=headers or None,
    )


def hub_url_of(received: Received) -> str:
    url = received.json()["response_url"]
    assert isinstance(url, str)
    return url


async def command_rows(hub: HubUnderTest) -> list[Command]:
    async with hub.hub.db.transaction() as tx:
        return list((await tx.execute(select(Command))).scalars().all())


async def callback_row(hub: HubUnderTest, callback_id: str) -> Callback:
    async with hub.hub.db.transaction() as tx:
        row = await tx.get(Callback, callback_id)
    assert row is not None
    return row


# --- 41 ------------------------------------------------------------------------------------


@pytest.mark.conformance(41)
async def test_check41_every_command_reaches_the_cpo_with_a_unique_hub_response_url(
    hub: HubUnderTest,
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        relayed: dict[str, bytes] = {}
        for index, (name, body) in enumerate(commands(emsp).items()):
            sent: list[bytes] = []
            answer_data = {
                "result": ["ACCEPTED", "REJECTED", "NOT_SUPPORTED", "UNKNOWN_SESSION", "ACCEPTED"][
                    index
                ],
                "timeout": 10 + index,
                "message": [{"language": "en", "text": f"{name} answer"}],
            }
            cpo.on("POST", f"/commands/receiver/{name}", answering(answer_data, sent))
            answer = await send_command(emsp, hub, name, body)
            assert answer.status_code == 200
            assert answer.content == sent[0], name
            assert answer.headers["ocpi-from-country-code"] == CPO[0]
            assert answer.headers["ocpi-to-party-id"] == EMSP[1]
            relayed[name] = answer.content
        # A second START_SESSION gets a hub URL of its own.
        again = await send_command(emsp, hub, "START_SESSION", commands(emsp)["START_SESSION"])
        assert again.json()["data"]["result"] == "ACCEPTED"

    received = cpo.requests("POST", "/commands/receiver/")
    assert [r.path for r in received] == [
        f"/commands/receiver/{name}" for name in [*commands(emsp), "START_SESSION"]
    ]
    hub_urls = [hub_url_of(r) for r in received]
    assert len(set(hub_urls)) == len(hub_urls)
    prefix = hub.endpoint("commands", "sender") + "/"
    originals = commands(emsp)
    for request, url in zip(received, hub_urls, strict=True):
        name = request.path.rsplit("/", 1)[1]
        assert url.startswith(prefix) and len(url) > len(prefix), url
        assert emsp.url not in request.body.decode()
        original = originals[name]
        forwarded = request.json()
        assert list(forwarded) == list(original), "field order kept"
        assert {**forwarded, "response_url": original["response_url"]} == original
    assert set(relayed) == set(originals)


@pytest.mark.conformance(41)
async def test_check41_unknown_command_is_404_with_2001_and_not_forwarded(
    hub: HubUnderTest,
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        body = commands(emsp)["STOP_SESSION"]
        answer = await send_command(emsp, hub, "FLY", body)
        lower = await send_command(emsp, hub, "start_session", commands(emsp)["START_SESSION"])
    assert answer.status_code == 404
    assert assert_envelope(answer)["status_code"] == 2001
    assert lower.status_code == 404
    assert assert_envelope(lower)["status_code"] == 2001
    assert cpo.received == []
    assert await command_rows(hub) == []


# --- 42 ------------------------------------------------------------------------------------


@pytest.mark.conformance(42)
async def test_check42_result_reaches_the_original_response_url_as_from_the_cpo(
    hub: HubUnderTest,
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        body = commands(emsp)["START_SESSION"]
        command = await send_command(
            emsp, hub, "START_SESSION", body, **{"X-Correlation-ID": "corr-start-1"}
        )
        assert command.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
        (forwarded,) = cpo.requests("POST", "/commands/receiver/START_SESSION")
        hub_url = hub_url_of(forwarded)

        emsp_answer: list[bytes] = []
        emsp.on("POST", RESULTS, answering(None, emsp_answer, status_code=1000))
        result = {"result": "ACCEPTED", "message": [{"language": "en", "text": "charging"}]}
        callback = await cpo.call(
            "POST", hub_url, to=EMSP, json=result, headers={"X-Request-ID": "cpo-result-1"}
        )

    assert callback.status_code == 200
    assert callback.content == emsp_answer[0], "the eMSP's answer is relayed to the CPO"
    assert callback.headers["ocpi-from-country-code"] == EMSP[0]
    assert callback.headers["ocpi-from-party-id"] == EMSP[1]
    assert callback.headers["ocpi-to-party-id"] == CPO[1]
    assert callback.headers["x-request-id"] == "cpo-result-1"

    (delivered,) = emsp.requests("POST", RESULTS)
    assert delivered.path == f"{RESULTS}/start_session-1"
    assert delivered.query == "ref=a%2Fb"
    assert delivered.json() == result
    assert delivered.body == orjson.dumps(result), "the result is relayed byte for byte"
    headers = delivered.headers
    assert headers["authorization"] == emsp.auth(emsp.token_b)["Authorization"]
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == CPO
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == EMSP
    assert headers["x-correlation-id"] == "corr-start-1"
    assert headers["x-request-id"] not in {
        "cpo-result-1",
        forwarded.headers["x-request-id"],
        command.headers["x-request-id"],
    }

    (row,) = await command_rows(hub)
    assert row.command == "START_SESSION"
    assert (row.emsp_country_code, row.emsp_party_id) == EMSP
    assert (row.cpo_country_code, row.cpo_party_id) == CPO
    assert row.request == body, "the eMSP's request, with its own response_url"
    assert row.response == {"result": "ACCEPTED", "timeout": 30}
    assert row.result == result
    assert hub_url.endswith(f"/{row.id}")


# --- 43 ------------------------------------------------------------------------------------


@pytest.mark.conformance(43)
async def test_check43_extrawest_callback_without_headers_is_routed(
    hub: HubUnderTest, extrawest_cpo: ExtrawestPeer
) -> None:
    ext = extrawest_cpo
    await asyncio.to_thread(ext.seed, "locations", location(ext.country_code, ext.party_id, "LOC1"))
    await register_extrawest(hub, ext)
    async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
        await emsp.register(hub)
        await hub.settle()
        body = commands(emsp)["START_SESSION"]
        answer = await emsp.call(
            "POST",
            f"{hub.endpoint('commands', 'receiver')}/START_SESSION",
            to=(ext.country_code, ext.party_id),
            json=body,
            headers={"X-Correlation-ID": "corr-ext-1"},
        )
        assert answer.json()["status_code"] == 1000, answer.text
        delivered = await eventually(
            lambda: emsp.requests("POST", RESULTS), "the extrawest CPO's CommandResult"
        )
        outbound = await asyncio.to_thread(ext.outbound)

    (callback,) = [r for r in outbound if r["method"] == "POST"]
    assert callback["url"].startswith(hub.endpoint("commands", "sender") + "/")
    assert not any(h.startswith("ocpi-") or h.startswith("x-") for h in callback["headers"])
    assert callback["response_status"] == 200
    assert callback["response"]["json"]["status_code"] == 1000

    (result,) = delivered
    assert result.path == f"{RESULTS}/start_session-1"
    assert result.json()["result"] == "ACCEPTED"
    headers = result.headers
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == (
        ext.country_code,
        ext.party_id,
    )
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == EMSP
    assert headers["x-correlation-id"] == "corr-ext-1"
    assert headers["authorization"] == emsp.auth(emsp.token_b)["Authorization"]


@pytest.mark.conformance(43)
async def test_check43_callback_from_another_platform_or_unknown_id_is_refused(
    hub: HubUnderTest,
) -> None:
    async with (
        cpo_and_emsp(hub) as (cpo, emsp),
        running_peer(role="CPO", country_code="BE", party_id="CPB") as other,
    ):
        await other.register(hub)
        await send_command(emsp, hub, "STOP_SESSION", commands(emsp)["STOP_SESSION"])
        (forwarded,) = cpo.requests("POST", "/commands/receiver/STOP_SESSION")
        hub_url = hub_url_of(forwarded)
        result = {"result": "ACCEPTED"}
        stranger = await other.call("POST", hub_url, to=EMSP, json=result)
        stranger_bare = await other.call("POST", hub_url, json=result, routing=False)
        unknown = await cpo.call(
            "POST", hub.endpoint("commands", "sender") + "/no-such-id", to=EMSP, json=result
        )
        # The eMSP itself is not the platform the command went to either.
        own = await emsp.call("POST", hub_url, to=CPO, json=result)
        # A CPO callback with no routing or trace headers at all still goes through.
        bare = await cpo.call("POST", hub_url, json=result, routing=False)

    for refused in (stranger, stranger_bare, unknown, own):
        assert refused.status_code == 404, refused.text
        assert assert_envelope(refused)["status_code"] == 2001
    assert bare.json()["status_code"] == 1000, bare.text
    (delivered,) = emsp.requests("POST", RESULTS)
    assert (
        delivered.headers["ocpi-from-country-code"],
        delivered.headers["ocpi-from-party-id"],
    ) == CPO


@pytest.mark.conformance(43)
async def test_check43_callback_after_expiry_is_refused() -> None:
    async with running_hub(command_grace=0) as hub, cpo_and_emsp(hub) as (cpo, emsp):
        cpo.on("POST", "/commands/receiver/", lambda _: ocpi({"result": "ACCEPTED", "timeout": 0}))
        answer = await send_command(
            emsp, hub, "UNLOCK_CONNECTOR", commands(emsp)["UNLOCK_CONNECTOR"]
        )
        assert answer.json()["data"] == {"result": "ACCEPTED", "timeout": 0}
        (forwarded,) = cpo.requests("POST", "/commands/receiver/UNLOCK_CONNECTOR")
        late = await cpo.call("POST", hub_url_of(forwarded), to=EMSP, json={"result": "ACCEPTED"})
    assert late.status_code == 404
    assert assert_envelope(late)["status_code"] == 2001
    assert emsp.requests("POST", RESULTS) == []


# --- 44 ------------------------------------------------------------------------------------


@pytest.mark.conformance(44)
async def test_check44_byte_identical_repeat_is_refused_a_different_result_forwarded(
    hub: HubUnderTest,
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        await send_command(emsp, hub, "START_SESSION", commands(emsp)["START_SESSION"])
        hub_url = hub_url_of(cpo.requests("POST", "/commands/receiver/")[0])
        first = orjson.dumps({"result": "ACCEPTED"})
        delivered = await cpo.call("POST", hub_url, to=EMSP, content=first)
        repeat = await cpo.call("POST", hub_url, to=EMSP, content=first)
        changed = await cpo.call("POST", hub_url, to=EMSP, content=b'{"result": "FAILED"}')
    assert delivered.json()["status_code"] == 1000
    assert repeat.status_code == 200
    assert assert_envelope(repeat)["status_code"] == 2001
    assert changed.json()["status_code"] == 1000
    assert [r.body for r in emsp.requests("POST", RESULTS)] == [first, b'{"result": "FAILED"}']


@pytest.mark.conformance(44)
@pytest.mark.parametrize(
    "refusal",
    [
        pytest.param({"http_status": 500, "status_code": 3000}, id="http-500"),
        pytest.param({"http_status": 200, "status_code": 2001}, id="ocpi-2001"),
    ],
)
async def test_check44_a_result_the_emsp_did_not_accept_may_be_sent_again(
    hub: HubUnderTest, refusal: dict[str, int]
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        await send_command(emsp, hub, "STOP_SESSION", commands(emsp)["STOP_SESSION"])
        hub_url = hub_url_of(cpo.requests("POST", "/commands/receiver/")[0])
        emsp.on(
            "POST",
            RESULTS,
            lambda _: ocpi(status_code=refusal["status_code"], http_status=refusal["http_status"]),
        )
        result = orjson.dumps({"result": "ACCEPTED"})
        failed = await cpo.call("POST", hub_url, to=EMSP, content=result)
        emsp.handlers.clear()
        retried = await cpo.call("POST", hub_url, to=EMSP, content=result)
        repeat = await cpo.call("POST", hub_url, to=EMSP, content=result)
    assert failed.status_code == refusal["http_status"]
    assert failed.json()["status_code"] == refusal["status_code"]
    assert retried.json()["status_code"] == 1000
    assert repeat.json()["status_code"] == 2001
    assert len(emsp.requests("POST", RESULTS)) == 2


@pytest.mark.conformance(44)
async def test_check44_mapping_lives_for_timeout_plus_grace() -> None:
    async with running_hub(command_grace=0) as hub, cpo_and_emsp(hub) as (cpo, emsp):
        timeouts = {"START_SESSION": 0, "STOP_SESSION": 120}
        for name, seconds in timeouts.items():

            def answer(_: Received, seconds: int = seconds) -> Response:
                return ocpi({"result": "ACCEPTED", "timeout": seconds})

            cpo.on("POST", f"/commands/receiver/{name}", answer)
            await send_command(emsp, hub, name, commands(emsp)[name])
        start, stop = (hub_url_of(r) for r in cpo.requests("POST", "/commands/receiver/"))
        expired = await cpo.call("POST", start, to=EMSP, json={"result": "ACCEPTED"})
        alive = await cpo.call("POST", stop, to=EMSP, json={"result": "ACCEPTED"})
        row = await callback_row(hub, stop.rsplit("/", 1)[1])
    assert expired.status_code == 404
    assert expired.json()["status_code"] == 2001
    assert alive.json()["status_code"] == 1000
    assert row.expires_at is not None
    lifetime = (row.expires_at - row.created_at).total_seconds()
    assert 120 <= lifetime < 180


@pytest.mark.conformance(44)
async def test_check44_reservation_url_outlives_the_timeout_for_a_later_cancellation() -> None:
    async with running_hub(command_grace=0) as hub, cpo_and_emsp(hub) as (cpo, emsp):
        cpo.on("POST", "/commands/receiver/", lambda _: ocpi({"result": "ACCEPTED", "timeout": 0}))
        await send_command(emsp, hub, "RESERVE_NOW", commands(emsp)["RESERVE_NOW"])
        hub_url = hub_url_of(cpo.requests("POST", "/commands/receiver/RESERVE_NOW")[0])
        accepted = await cpo.call("POST", hub_url, to=EMSP, json={"result": "ACCEPTED"})
        cancelled = await cpo.call(
            "POST", hub_url, to=EMSP, json={"result": "CANCELED_RESERVATION"}
        )
    assert accepted.json()["status_code"] == 1000
    assert cancelled.json()["status_code"] == 1000
    assert [r.json()["result"] for r in emsp.requests("POST", RESULTS)] == [
        "ACCEPTED",
        "CANCELED_RESERVATION",
    ]
