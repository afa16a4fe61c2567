"""The subscribers of ``bench.graph``: many graphql-transport-ws subscriptions, in a process of
their own so that 500 sockets do not share an event loop with the process that measures.

``python -m bench.graph_clients CONFIG.json`` opens ``connections`` WebSockets to ``url``,
starts ``subscribers`` subscriptions spread over them (same query each), and records for every
event its arrival time (CLOCK_MONOTONIC, the clock the orchestrator stamps the PATCHes with).
It reports on stdout as JSON lines: ``ready`` once every subscription is started, ``primed``
once every subscription has seen at least one event (so the orchestrator knows they are all in
place before it measures), and ``result`` after a ``stop`` line on stdin or ``max_seconds``,
with the arrivals per event key written to ``out``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

from bench.common import emit, now_ns, require_loopback

MAX_MESSAGES_PER_CONNECTION = 10_000_000  # bounds each reader's loop in count as well


@dataclass
class Tally:
    """What all connections saw: arrivals per event key, events per subscription, problems."""

    subscriptions: int
    arrivals: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    per_subscription: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    errors: list[str] = field(default_factory=list)
    closed: int = 0

    def primed(self) -> bool:
        return len(self.per_subscription) >= self.subscriptions

    def error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text[:300])


def event_key(event: dict[str, Any]) -> str:
    """The key the orchestrator files its PATCHes under: Location, EVSE, status, changedAt."""
    return "|".join(
        str(event.get(name)) for name in ("locationId", "evseUid", "status", "changedAt")
    )


async def open_connection(url: str) -> ClientConnection:
    socket = await connect(
        url,
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        open_timeout=30,
        max_size=2**22,
        ping_interval=None,  # the server's pings are enough; ours would only add noise
    )
    await socket.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
    ack = orjson.loads(await asyncio.wait_for(socket.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack from {url}: {ack}")
    return socket


async def read(socket: ClientConnection, number: int, tally: Tally) -> None:
    """Files every event by key as it arrives; answers the server's pings."""
    try:
        for _ in range(MAX_MESSAGES_PER_CONNECTION):
            raw = await socket.recv()
            arrived = now_ns()
            message = orjson.loads(raw)
            kind = message.get("type")
            if kind == "next":
                payload = message.get("payload") or {}
                event = (payload.get("data") or {}).get("evseStatusChanged")
                if payload.get("errors") or not isinstance(event, dict):
                    tally.error(f"connection {number}: {payload}")
                    continue
                tally.arrivals[event_key(event)].append(arrived)
                tally.per_subscription[f"{number}:{message.get('id')}"] += 1
            elif kind == "ping":
                await socket.send('{"type":"pong"}')
            elif kind in ("error", "complete"):
                tally.error(f"connection {number}: {message}")
    except websockets.ConnectionClosed as closed:
        tally.closed += 1
        tally.error(f"connection {number} closed: {closed}")


async def wait_stop(max_seconds: float) -> None:
    """Until the orchestrator writes a line (``stop``) or closes stdin, at most max_seconds."""
    # A pipe reader, not a thread: a thread blocked in readline would keep the process alive.
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader.readline(), max_seconds)


def write_out(path: Path, tally: Tally) -> None:
    path.write_bytes(
        orjson.dumps({"arrivals": tally.arrivals, "errors": tally.errors, "closed": tally.closed})
    )


async def main(config: dict[str, Any]) -> None:
    url = require_loopback(str(config["url"]).replace("ws://", "http://")).replace(
        "http://", "ws://"
    )
    subscribers = int(config["subscribers"])
    connections = max(1, min(int(config["connections"]), subscribers))
    document = orjson.dumps({"query": config["query"], "variables": config.get("variables", {})})
    tally = Tally(subscriptions=subscribers)
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    gate = asyncio.Semaphore(10)  # a handshake storm would only measure the accept queue

    async def opened() -> ClientConnection:
        async with gate:
            return await open_connection(url)

    try:
        sockets = list(await asyncio.gather(*(opened() for _ in range(connections))))
        readers = [asyncio.create_task(read(s, n, tally)) for n, s in enumerate(sockets)]
        for n in range(subscribers):
            socket = sockets[n % connections]
            message = b'{"type":"subscribe","id":"s%d","payload":%b}' % (n, document)
            await socket.send(message.decode())
        emit("ready", subscribers=subscribers, connections=connections)
        stop = asyncio.create_task(wait_stop(float(config["max_seconds"])))
        # Tell the orchestrator once every subscription has seen an event (its priming PATCHes).
        for _ in range(int(float(config["max_seconds"]) / 0.05)):
            if tally.primed() or stop.done():
                break
            await asyncio.sleep(0.05)
        emit("primed", primed=tally.primed(), subscriptions_seen=len(tally.per_subscription))
        await stop
    finally:
        for task in readers:
            task.cancel()
        for socket in sockets:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(socket.close(), 2)
    write_out(Path(config["out"]), tally)
    emit("result", keys=len(tally.arrivals), errors=len(tally.errors), closed=tally.closed)


if __name__ == "__main__":
    import uvloop

    configuration = orjson.loads(Path(sys.argv[1]).read_bytes())
    uvloop.run(
        asyncio.wait_for(main(configuration), timeout=float(configuration["max_seconds"]) + 60)
    )
