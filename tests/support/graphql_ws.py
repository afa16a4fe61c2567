"""A graphql-transport-ws client for tests: one connection collecting every message by
operation id, and waiting for what a test expects (every wait bounded)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection


@dataclass
class Client:
    """A graphql-transport-ws connection collecting every message by operation id."""

    socket: ClientConnection
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reader: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.socket:
                message = json.loads(raw)
                if message["type"] == "ping":
                    await self.socket.send('{"type":"pong"}')
                elif "id" in message:
                    self.messages.setdefault(message["id"], []).append(message)

    async def subscribe(self, id: str, query: str, **variables: Any) -> None:
        payload = {"query": query, "variables": variables}
        await self.socket.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))

    async def complete(self, id: str) -> None:
        await self.socket.send(json.dumps({"id": id, "type": "complete"}))

    def nexts(self, id: str) -> list[Any]:
        return [m["payload"] for m in self.messages.get(id, []) if m["type"] == "next"]

    def kinds(self, id: str) -> list[str]:
        return [m["type"] for m in self.messages.get(id, [])]

    def forget(self) -> None:
        self.messages.clear()


@contextlib.asynccontextmanager
async def connected(url: str, token: str | None = None) -> AsyncIterator[Client]:
    async with websockets.connect(
        url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
    ) as socket:
        init = {"Authorization": token} if token else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        client = Client(socket)
        client.reader = asyncio.create_task(client._read())
        try:
            yield client
        finally:
            client.reader.cancel()


async def until(done: Callable[[], object], what: str, seconds: float = 20) -> None:
    for _ in range(int(seconds / 0.02)):
        if done():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


async def primed(clients: list[tuple[Client, str]], poke: Callable[[], Any], what: str) -> None:
    """Pokes until each subscription has seen an event (so each is listening), then forgets
    what came: the test then counts only the events it causes itself."""
    for _ in range(100):
        await poke()
        with contextlib.suppress(AssertionError):
            await until(lambda: all(c.nexts(i) for c, i in clients), what, 0.25)
            break
    else:
        raise AssertionError(f"{what}: never primed: {[(i, c.kinds(i)[:3]) for c, i in clients]}")
    await asyncio.sleep(0.2)  # the priming events still on their way arrive
    for client, _ in clients:
        client.forget()


def received(client: Client, id: str, count: int) -> bool:
    return len(client.nexts(id)) >= count


def ended(client: Client, id: str) -> bool:
    return client.kinds(id)[-1:] in (["complete"], ["error"])
