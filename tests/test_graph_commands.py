"""The graph's commands (``HubCommands``, the adapter's ``CommandPort``), over real HTTP: a
strict CPO and a strict eMSP registered at a running hub; the command goes to the CPO on
behalf of the eMSP with a hub response_url, and its result is kept by the hub, the eMSP sees
nothing of it (docs/policies.md, "Commands the graph sends")."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from sqlmodel import select
from starlette.responses import Response

from ocpi_adapter.commands.outbound import HubCommands
from ocpi_adapter.routing.models import Callback
from ocpi_adapter.via import element, pseudonym
from subgraphs.common.commands import CommandSent, CommandType, Delivery
from subgraphs.sessions.models import Command
from tests.peers.strict.peer import Received, StrictPeer, ocpi, running_peer
from tests.support.databases import fresh_database
from tests.support.hub import HubUnderTest, running_hub, serving_hub
from tests.support.stored import row_counts

CPO = ("NL", "CPA")
EMSP = ("DE", "EMA")
RECEIVER = "/commands/receiver/"


def token() -> dict[str, Any]:
    return {
        "country_code": EMSP[0],
        "party_id": EMSP[1],
        "uid": "RFID-1",
        "type": "RFID",
        "contract_id": "DE-EMA-C1",
        "issuer": "Graph eMSP",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2026-01-01T00:00:00Z",
    }


BODIES: dict[CommandType, dict[str, Any]] = {
    CommandType.RESERVE_NOW: {
        "token": token(),
        "expiry_date": "2099-01-01T00:00:00Z",
        "reservation_id": "R-1",
        "location_id": "LOC1",
        "evse_uid": "LOC1-E1",
    },
    CommandType.START_SESSION: {
        "token": token(),
        "location_id": "LOC1",
        "evse_uid": "LOC1-E1",
        "connector_id": "1",
    },
}


@contextlib.asynccontextmanager
async def cpo_and_emsp(
    hub: HubUnderTest, **cpo_options: Any
) -> AsyncIterator[tuple[StrictPeer, StrictPeer]]:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1], **cpo_options) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        cpo.received.clear()
        emsp.received.clear()
        yield cpo, emsp


async def send(hub: HubUnderTest, command: CommandType) -> CommandSent:
    return await HubCommands(hub.hub).send(
        command=command, emsp=EMSP, cpo=CPO, body=BODIES[command]
    )


async def rows(hub: HubUnderTest) -> list[Command]:
    async with hub.hub.db.transaction() as tx:
        return list((await tx.execute(select(Command))).scalars().all())


async def callback_of(hub: HubUnderTest, callback_id: str) -> Callback:
    async with hub.hub.db.transaction() as tx:
        found = await tx.get(Callback, callback_id)
    assert found is not None
    return found


def answering(data: Any, status_code: int = 1000, http_status: int = 200) -> Any:
    return lambda _: ocpi(data, status_code, http_status=http_status)


def hub_url(received: Received) -> str:
    url = received.json()["response_url"]
    assert isinstance(url, str)
    return url


async def eventually_result(hub: HubUnderTest) -> Command:
    for _ in range(250):
        (row,) = await rows(hub)
        if row.result is not None:
            return row
        await asyncio.sleep(0.02)
    pytest.fail("the CPO's CommandResult never reached the Command row")


@pytest.mark.parametrize("command", [CommandType.RESERVE_NOW, CommandType.START_SESSION])
async def test_a_graph_command_reaches_the_cpo_for_the_emsp_and_its_result_stays_at_the_hub(
    hub: HubUnderTest, command: CommandType
) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        results: list[Any] = []

        def accept_then_report(received: Received) -> Response:
            # A CPO as OCPI has it: answer at once, POST the charge point's result later.
            async def report() -> None:
                await asyncio.sleep(0.05)
                results.append(
                    await cpo.call("POST", hub_url(received), to=EMSP, json={"result": "ACCEPTED"})
                )

            asyncio.get_running_loop().create_task(report())
            return ocpi({"result": "ACCEPTED", "timeout": 30})

        cpo.on("POST", RECEIVER, accept_then_report)
        sent = await send(hub, command)
        row = await eventually_result(hub)
        await hub.settle()

    assert sent.delivery is Delivery.ANSWERED
    assert (sent.response, sent.timeout, sent.message) == ("ACCEPTED", 30, None)
    (request,) = cpo.received
    assert (request.method, request.path) == ("POST", f"{RECEIVER}{command}")
    url = hub_url(request)
    assert url == f"{hub.endpoint('commands', 'sender')}/{sent.command_id}"
    assert emsp.url not in request.body.decode()
    assert request.json() == {"response_url": url, **BODIES[command]}
    headers = request.headers
    assert (headers["ocpi-from-country-code"], headers["ocpi-from-party-id"]) == EMSP
    assert (headers["ocpi-to-country-code"], headers["ocpi-to-party-id"]) == CPO
    assert headers["authorization"] == cpo.auth(cpo.token_b)["Authorization"]
    assert headers["x-request-id"] and headers["x-correlation-id"]
    assert headers["via"] == element(pseudonym(hub.settings.base_url))

    (answer,) = results
    assert answer.json()["status_code"] == 1000
    assert (answer.headers["ocpi-from-country-code"], answer.headers["ocpi-from-party-id"]) == (
        EMSP
    )
    assert answer.headers["ocpi-to-party-id"] == CPO[1]
    assert emsp.received == [], "the eMSP sees nothing of a graph command"

    assert row.id == sent.command_id
    assert row.command == command.value
    assert (row.emsp_country_code, row.emsp_party_id, row.cpo_country_code) == (*EMSP, CPO[0])
    assert row.request == request.json(), "the body as sent, hub response_url included"
    assert row.response == {"result": "ACCEPTED", "timeout": 30}
    assert row.result == {"result": "ACCEPTED"}
    assert row.delivery == "answered"
    callback = await callback_of(hub, sent.command_id)
    assert callback.kept_by_hub and callback.target_url == ""
    assert callback.correlation_id == headers["x-correlation-id"]
    assert callback.expires_at is not None
    if command is CommandType.RESERVE_NOW:
        assert callback.expires_at.year == 2099, "a reservation's URL lives until it expires"
    else:
        lifetime = (callback.expires_at - callback.created_at).total_seconds()
        assert 30 <= lifetime < 60, "the CPO's timeout plus grace, not the first window"


async def test_a_rejected_command_is_answered_with_the_cpos_reason(hub: HubUnderTest) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        message = [{"language": "nl", "text": "bezet"}, {"language": "en", "text": "busy"}]
        cpo.on(
            "POST", RECEIVER, answering({"result": "REJECTED", "timeout": 5, "message": message})
        )
        sent = await send(hub, CommandType.START_SESSION)
    assert sent.delivery is Delivery.ANSWERED
    assert (sent.response, sent.timeout, sent.message) == ("REJECTED", 5, "busy")
    (row,) = await rows(hub)
    assert row.response == {"result": "REJECTED", "timeout": 5, "message": message}
    assert (row.result, row.delivery) == (None, "answered")
    assert emsp.received == []


async def test_nothing_is_sent_or_recorded_for_a_cpo_the_hub_cannot_reach(
    hub: HubUnderTest,
) -> None:
    no_commands = {"locations": ["SENDER"], "tokens": ["RECEIVER"]}
    async with (
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        running_peer(role="CPO", country_code="BE", party_id="CPB", modules=no_commands) as bare,
    ):
        await emsp.register(hub)
        await bare.register(hub)
        await hub.onboard("CPO", *CPO)  # configured, never registered: PLANNED
        await hub.settle()
        emsp.received.clear()
        bare.received.clear()
        commands = HubCommands(hub.hub)
        body = BODIES[CommandType.START_SESSION]
        planned = await commands.send(
            command=CommandType.START_SESSION, emsp=EMSP, cpo=CPO, body=body
        )
        unknown = await commands.send(
            command=CommandType.START_SESSION, emsp=EMSP, cpo=("FR", "XYZ"), body=body
        )
        no_receiver = await commands.send(
            command=CommandType.START_SESSION, emsp=EMSP, cpo=("BE", "CPB"), body=body
        )
        not_emsp = await commands.send(
            command=CommandType.START_SESSION, emsp=("BE", "CPB"), cpo=("BE", "CPB"), body=body
        )
        counts = await row_counts(hub)
    for sent, reason in (
        (planned, "not connected"),
        (unknown, "not registered"),
        (no_receiver, "no commands receiver"),
        (not_emsp, "not registered at the hub as EMSP"),
    ):
        assert sent.delivery is Delivery.UNREACHABLE, sent
        assert sent.message is not None and reason in sent.message, sent
    assert bare.received == [] and emsp.received == []
    assert "command" not in counts and "hub_callback" not in counts


async def slow(_: Received) -> Response:
    await asyncio.sleep(2)
    return ocpi({"result": "ACCEPTED", "timeout": 30})


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        pytest.param(answering(None, 3000, http_status=500), "HTTP 500", id="http-500"),
        pytest.param(
            lambda _: Response(b"<html>bad gateway</html>", media_type="text/html"),
            "without a JSON body",
            id="not-json",
        ),
        pytest.param(
            lambda _: Response(b'{"result": "ACCEPTED", "timeout": 30}'),
            "not an OCPI response",
            id="no-envelope",
        ),
        pytest.param(answering(None, 2001), "OCPI status 2001", id="ocpi-2001"),
        pytest.param(
            answering({"result": "MAYBE", "timeout": 30}), "not a CommandResponse", id="bad-data"
        ),
        pytest.param(slow, "did not answer within 0.5 s", id="too-slow"),
    ],
)
async def test_a_command_without_a_valid_answer_is_no_answer_and_never_accepted(
    handler: Any, reason: str
) -> None:
    async with running_hub(forward_timeout=0.5) as hub, cpo_and_emsp(hub) as (cpo, emsp):
        cpo.on("POST", RECEIVER, handler)
        sent = await send(hub, CommandType.START_SESSION)
        (row,) = await rows(hub)
        await hub.settle()
    assert sent.delivery is Delivery.NO_ANSWER
    assert (sent.response, sent.timeout) == (None, None)
    assert sent.message is not None and reason in sent.message, sent.message
    assert len(cpo.requests("POST", RECEIVER)) == 1, "sent once, never retried"
    assert (row.id, row.delivery, row.response, row.result) == (
        sent.command_id,
        "no_answer",
        None,
        None,
    )
    assert row.request["response_url"].endswith(f"/{sent.command_id}")
    assert emsp.received == []


async def test_a_repeated_result_is_refused_a_later_cancellation_kept(hub: HubUnderTest) -> None:
    async with cpo_and_emsp(hub) as (cpo, emsp):
        sent = await send(hub, CommandType.RESERVE_NOW)
        url = hub_url(cpo.requests("POST", RECEIVER)[0])
        accepted = orjson.dumps({"result": "ACCEPTED"})
        first = await cpo.call("POST", url, to=EMSP, content=accepted)
        repeat = await cpo.call("POST", url, to=EMSP, content=accepted)
        cancelled = await cpo.call("POST", url, json={"result": "CANCELED_RESERVATION"})
        (row,) = await rows(hub)
    assert first.json()["status_code"] == 1000
    assert (repeat.status_code, repeat.json()["status_code"]) == (200, 2001)
    assert cancelled.json()["status_code"] == 1000, "no routing headers: the URL names the eMSP"
    assert row.id == sent.command_id
    assert row.result == {"result": "CANCELED_RESERVATION"}
    assert emsp.received == []


async def test_a_result_from_another_platform_or_an_invalid_one_is_refused_and_not_stored() -> None:
    # Transparent mode relays invalid bodies; a hub-kept result has nobody to relay to.
    async with (
        running_hub(validation="transparent") as hub,
        cpo_and_emsp(hub) as (cpo, emsp),
        running_peer(role="CPO", country_code="BE", party_id="CPB") as other,
    ):
        await other.register(hub)
        await hub.settle()
        emsp.received.clear()
        await send(hub, CommandType.START_SESSION)
        url = hub_url(cpo.requests("POST", RECEIVER)[0])
        stranger = await other.call("POST", url, to=EMSP, json={"result": "ACCEPTED"})
        by_emsp = await emsp.call("POST", url, to=CPO, json={"result": "ACCEPTED"})
        invalid = await cpo.call("POST", url, to=EMSP, json={"result": "MAYBE"})
        (row,) = await rows(hub)
    for refused in (stranger, by_emsp):
        assert (refused.status_code, refused.json()["status_code"]) == (404, 2001)
    assert (invalid.status_code, invalid.json()["status_code"]) == (200, 2001)
    assert "result" in invalid.json()["status_message"]
    assert row.result is None
    assert emsp.received == []


async def test_a_result_after_the_cpos_timeout_and_grace_is_refused() -> None:
    async with running_hub(command_grace=0) as hub, cpo_and_emsp(hub) as (cpo, _):
        cpo.on("POST", RECEIVER, answering({"result": "ACCEPTED", "timeout": 0}))
        sent = await send(hub, CommandType.START_SESSION)
        late = await cpo.call(
            "POST", hub_url(cpo.requests("POST", RECEIVER)[0]), to=EMSP, json={"result": "ACCEPTED"}
        )
        (row,) = await rows(hub)
    assert (sent.delivery, sent.timeout) == (Delivery.ANSWERED, 0)
    assert (late.status_code, late.json()["status_code"]) == (404, 2001)
    assert late.json()["status_message"] == "this hub URL has expired"
    assert row.result is None


async def test_an_invalid_body_from_the_graph_raises_and_records_nothing(
    hub: HubUnderTest,
) -> None:
    async with cpo_and_emsp(hub) as (cpo, _):
        with pytest.raises(ValueError, match="location_id"):
            await HubCommands(hub.hub).send(
                command=CommandType.START_SESSION, emsp=EMSP, cpo=CPO, body={"token": token()}
            )
        counts = await row_counts(hub)
    assert cpo.received == []
    assert "command" not in counts and "hub_callback" not in counts


async def test_a_graph_commands_url_still_leads_to_the_hub_after_a_restart() -> None:
    async with (
        fresh_database() as database_url,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        async with serving_hub(database_url) as first:
            await cpo.register(first)
            await emsp.register(first)
            await first.settle()
            emsp.received.clear()
            sent = await send(first, CommandType.RESERVE_NOW)
            port = urlsplit(first.url).port
        assert port is not None
        async with serving_hub(database_url, port=port) as second:
            url = hub_url(cpo.requests("POST", RECEIVER)[0])
            answer = await cpo.call("POST", url, to=EMSP, json={"result": "ACCEPTED"})
            (row,) = await rows(second)
    assert sent.delivery is Delivery.ANSWERED
    assert answer.json()["status_code"] == 1000
    assert row.result == {"result": "ACCEPTED"}
    assert emsp.requests("POST") == []


async def test_a_cpo_that_refuses_the_connection_is_no_answer_and_then_offline(
    hub: HubUnderTest,
) -> None:
    async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
        async with running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo:
            await cpo.register(hub)
            await emsp.register(hub)
            await hub.settle()
        emsp.received.clear()
        # The CPO's server is gone: its port refuses the connection.
        sent = await send(hub, CommandType.START_SESSION)
        again = await send(hub, CommandType.START_SESSION)
        await hub.settle()
        (row,) = await rows(hub)
    assert sent.delivery is Delivery.NO_ANSWER
    assert sent.message is not None and "failed" in sent.message, sent.message
    assert (row.id, row.delivery, row.response) == (sent.command_id, "no_answer", None)
    assert again.delivery is Delivery.UNREACHABLE, "OFFLINE, as after any failed forward"
    assert again.message is not None and "OFFLINE" in again.message, again.message
    assert [r.path for r in emsp.received] == [f"/hubclientinfo/receiver/{CPO[0]}/{CPO[1]}"]
    assert emsp.received[0].json()["status"] == "OFFLINE"
