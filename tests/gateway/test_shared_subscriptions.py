"""Through a real Hive Gateway to the platform's locations subgraph: equal subscriptions of the
gateway's WebSocket clients reach the subgraph as one (``gateway/shared.mjs``), every client
still gets every event under its own id, clients that leave end only their own, the last one
ends the upstream subscription, and different tokens, documents or variables never share."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from starlette.routing import WebSocketRoute

from gateway.process import GatewayProcess
from incar.runtime import Runtime
from incar_cli import platform
from incar_cli.platform import authenticator
from ocpi_adapter.commands.outbound import HubCommands
from subgraphs.catalog import subgraphs
from subgraphs.common.shared_subscriptions import SharingGraphQL
from subgraphs.locations import service as locations
from subgraphs.server import create_app
from tests.conformance.support import location
from tests.peers.strict.peer import running_peer
from tests.support.evse_changes import EvseChanges
from tests.support.graphql_ws import Client, connected, ended, primed, received, until
from tests.support.hub import running_hub
from tests.support.hub_process import free_port
from tests.support.servers import serve

CPO = ("FI", "CPA")
# L1 is in Helsinki, inside BOX; L2 is in Tampere, outside it.
BOX = {"south": 60.0, "west": 24.5, "north": 60.5, "east": 25.5}
WATCH = """subscription ($box: BoxInput) { evseStatusChanged(box: $box) {
  status locationId evseUid } }"""
WATCH_L2 = """subscription { evseStatusChanged(
  locations: [{countryCode: "FI", partyId: "CPA", id: "L2"}]) { status locationId evseUid } }"""
change = EvseChanges(CPO, day="2026-12-03").change


@dataclass
class Graph:
    runtime: Runtime
    url: str
    view: SharingGraphQL
    token: str

    def upstream(self) -> list[int]:
        """Members of each broadcast at the subgraph: the gateway's upstream subscriptions."""
        return sorted(len(b.members) for b in self.view.broadcasts.running.values())


@pytest.fixture(scope="module")
async def graph(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Graph]:
    folder: Path = tmp_path_factory.mktemp("shared-gateway")
    async with contextlib.AsyncExitStack() as stack:
        hub = await stack.enter_async_context(running_hub())
        cpo = await stack.enter_async_context(
            running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1])
        )
        await cpo.register(hub)
        chosen = [subgraphs()["locations"]]
        app = create_app(
            hub.hub.runtime,
            chosen,
            authenticator=authenticator(hub.hub, None),
            commands=HubCommands(hub.hub),
        )
        view = next(
            r.endpoint
            for r in app.routes
            if isinstance(r, WebSocketRoute) and isinstance(r.endpoint, SharingGraphQL)
        )
        served = await stack.enter_async_context(serve(lambda _url: app))
        at = [(subgraph, f"{served.url}{subgraph.path}") for subgraph in chosen]
        supergraph = await asyncio.to_thread(platform.supergraph, at, folder)
        gateway = await stack.enter_async_context(GatewayProcess(supergraph, port=free_port()))
        runtime = hub.hub.runtime
        async with runtime.db.transaction(write=True) as tx:
            await locations.put_location(tx, data=location(*CPO, "L1"))
            await locations.put_location(
                tx,
                data=location(
                    *CPO, "L2", coordinates={"latitude": "61.498000", "longitude": "23.761000"}
                ),
            )
        ws_url = gateway.url.replace("http://", "ws://")
        yield Graph(runtime, ws_url, view, cpo.auth()["Authorization"])


def statuses(client: Client, id: str) -> list[tuple[str, str]]:
    found = []
    for payload in client.nexts(id):
        assert "errors" not in payload, payload
        event = payload["data"]["evseStatusChanged"]
        found.append((event["locationId"], event["status"]))
    return found


async def test_equal_subscriptions_reach_the_subgraph_once(graph: Graph) -> None:
    async with (
        connected(graph.url) as one,
        connected(graph.url) as two,
        connected(graph.url, graph.token) as cpo,
    ):
        for client, id in ((one, "a"), (one, "b"), (two, "c"), (cpo, "mine")):
            await client.subscribe(id, WATCH, box=BOX)
        await two.subscribe("far", WATCH_L2)

        async def poke() -> None:
            await change(graph.runtime, "L1")
            await change(graph.runtime, "L2")

        everyone: list[tuple[Client, str]] = [
            (one, "a"),
            (one, "b"),
            (two, "c"),
            (cpo, "mine"),
            (two, "far"),
        ]
        await primed(everyone, poke, "through the gateway")
        # Anonymous a, b, c as one; the CPO's token its own; another document its own.
        assert graph.upstream() == [1, 1, 1]

        first = await change(graph.runtime, "L1")
        second = await change(graph.runtime, "L1")
        for client, id in everyone[:4]:
            await until(partial(received, client, id, 2), f"{id}'s two events")
        await asyncio.sleep(0.3)  # nothing more comes
        for client, id in everyone[:4]:
            assert statuses(client, id) == [("L1", first), ("L1", second)], id
            assert {m["id"] for m in client.messages[id]} == {id}
        assert two.nexts("far") == []


async def test_clients_that_leave_end_only_their_own(graph: Graph) -> None:
    async with connected(graph.url) as stays:
        await stays.subscribe("s", WATCH, box=BOX)
        async with connected(graph.url) as goes:
            await goes.subscribe("g1", WATCH, box=BOX)
            await goes.subscribe("g2", WATCH, box=BOX)

            async def poke() -> None:
                await change(graph.runtime, "L1")

            await primed([(stays, "s"), (goes, "g1"), (goes, "g2")], poke, "three clients")
            assert graph.upstream() == [1]
            await goes.complete("g1")
            await asyncio.sleep(0.3)
            await change(graph.runtime, "L1")
            await until(lambda: stays.nexts("s") and goes.nexts("g2"), "s and g2 still served")
            assert goes.nexts("g1") == []
        # g2's socket closed; s goes on, on the same upstream subscription.
        await asyncio.sleep(0.3)
        stays.forget()
        await change(graph.runtime, "L1")
        await until(lambda: stays.nexts("s"), "s still served")
        assert graph.upstream() == [1]
        await stays.complete("s")
        await until(lambda: graph.upstream() == [], "the last one ends it upstream")


async def test_a_refusal_reaches_every_client(graph: Graph) -> None:
    nothing = "subscription { evseStatusChanged { status } }"
    async with connected(graph.url) as one, connected(graph.url) as two:
        await one.subscribe("x", nothing)
        await two.subscribe("y", nothing)
        await until(partial(ended, one, "x"), "x ended")
        await until(partial(ended, two, "y"), "y ended")
        for client, id in ((one, "x"), (two, "y")):
            (payload,) = client.nexts(id)
            assert [e["extensions"]["code"] for e in payload["errors"]] == ["BAD_USER_INPUT"]
        # The next one is refused anew, not left waiting on an ended one.
        await one.subscribe("z", nothing)
        await until(partial(ended, one, "z"), "z ended")
        assert one.kinds("z") == ["next", "complete"]
    await until(lambda: graph.upstream() == [], "nothing left upstream")
