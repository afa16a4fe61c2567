"""GraphQL clients for the gateway's tests: HTTP POST, graphql-transport-ws and SSE."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

TIMEOUT = 30.0
type Json = dict[str, Any]


async def post(
    url: str, query: str, *, variables: Json | None = None, token: str | None = None
) -> Json:
    headers = {"Authorization": token} if token else {}
    async with httpx.AsyncClient(timeout=TIMEOUT) as client:
        answer = await client.post(
            url, json={"query": query, "variables": variables or {}}, headers=headers
        )
    result: Json = answer.json()
    return result


@dataclass
class Subscriptions:
    """What each subscription of one connection received, by id."""

    events: dict[str, list[Json]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[Json]] = field(default_factory=dict)
    completed: set[str] = field(default_factory=set)


async def subscribe_ws(
    url: str,
    operations: Mapping[str, tuple[str, Json]],
    *,
    init: Json | None = None,
) -> Subscriptions:
    """Runs every operation (id to query and variables) on one graphql-transport-ws
    connection until each has completed or failed."""
    seen = Subscriptions()
    async with websockets.connect(
        url.replace("http://", "ws://"),
        subprotocols=[websockets.Subprotocol("graphql-transport-ws")],
        open_timeout=TIMEOUT,
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": init or {}}))
        ack = json.loads(await socket.recv())
        assert ack["type"] == "connection_ack", ack
        for id, (query, variables) in operations.items():
            payload = {"query": query, "variables": variables}
            await socket.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))
        while len(seen.completed) + len(seen.errors) < len(operations):
            message = json.loads(await socket.recv())
            if message["type"] == "next":
                seen.events[message["id"]].append(message["payload"])
            elif message["type"] == "complete":
                seen.completed.add(message["id"])
            elif message["type"] == "error":
                seen.errors[message["id"]] = message["payload"]
            elif message["type"] == "ping":
                await socket.send(json.dumps({"type": "pong"}))
    return seen


async def subscribe_sse(
    url: str, query: str, *, variables: Json | None = None, token: str | None = None
) -> list[Json]:
    """The ``next`` events of one subscription over SSE (the single-connection-less mode of
    GraphQL over SSE: one POST, one stream)."""
    headers = {"Accept": "text/event-stream", **({"Authorization": token} if token else {})}
    events: list[Json] = []
    async with (
        httpx.AsyncClient(timeout=TIMEOUT) as client,
        client.stream(
            "POST", url, json={"query": query, "variables": variables or {}}, headers=headers
        ) as answer,
    ):
        assert answer.headers["content-type"].startswith("text/event-stream")
        event = ""
        async for line in answer.aiter_lines():
            if line.startswith("event:"):
                event = line.removeprefix("event:").strip()
            elif line.startswith("data:") and event == "next":
                events.append(json.loads(line.removeprefix("data:")))
            elif event == "complete":
                break
    return events
