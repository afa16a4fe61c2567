"""What the benchmark's processes share: loopback servers, OCPI envelopes, clocks, statistics."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import math
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import uvicorn

LOOPBACK = "127.0.0.1"
# The workplace's OpenStreetMap extracts: beside the checkout where there is one, else the
# machines' own /work/shared (a clone elsewhere, as CI makes, has none beside it).
_BESIDE = Path(__file__).resolve().parents[2] / "shared" / "osm"
SHARED_OSM = _BESIDE if _BESIDE.is_dir() else Path("/work/shared/osm")
# The CPO puts its send time into X-Correlation-ID, which the hub copies onto every broadcast
# copy; the eMSP reads it back. CLOCK_MONOTONIC is one clock for all processes of a Linux host.
CORRELATION_PREFIX = "bench"


def now_ns() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC)


def correlation_id(sent_ns: int, worker: int, seq: int) -> str:
    return f"{CORRELATION_PREFIX}-{sent_ns}-{worker}-{seq}"


def sent_ns_of(correlation: str | None) -> int | None:
    if not correlation or not correlation.startswith(CORRELATION_PREFIX + "-"):
        return None
    part = correlation.split("-", 2)[1]
    return int(part) if part.isdigit() else None


def tag_of(correlation: str) -> int:
    """The worker and sequence number of a correlation id as one integer (0 if it has none):
    with the send time, what tells one PATCH's copies from another's at every eMSP."""
    parts = correlation.split("-")
    if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
        return 0
    return int(parts[2]) * 1_000_000_000 + int(parts[3])


def require_loopback(url: str) -> str:
    """Refuses any URL whose host is not a loopback address: the benchmark stays on this host."""
    host = urlsplit(url).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"{url} is not a loopback URL")
    return url


def timestamp(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def envelope(data: Any = None, status_code: int = 1000) -> bytes:
    body: dict[str, Any] = {"status_code": status_code, "timestamp": timestamp()}
    if data is not None:
        body["data"] = data
    return orjson.dumps(body)


def token_header(token: str) -> str:
    """OCPI 2.2.1 Authorization: the token Base64-encoded."""
    return "Token " + base64.b64encode(token.encode()).decode()


def bind() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    return sock


def free_port() -> int:
    with contextlib.closing(bind()) as sock:
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(app: Any, sock: socket.socket) -> AsyncIterator[uvicorn.Server]:
    """Serves an ASGI app on an already bound loopback socket until the block ends."""
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", loop="none", http="httptools"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        if not server.started:
            raise RuntimeError("server did not start within 10 s")
        yield server
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(task, timeout=10)
        sock.close()


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending sequence (0.0 for an empty one)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(fraction * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def latency_summary(values_ns: Sequence[int]) -> dict[str, float]:
    """p50/p90/p99/max in milliseconds."""
    ordered = sorted(values_ns)
    return {
        "p50_ms": round(percentile(ordered, 0.50) / 1e6, 2),
        "p90_ms": round(percentile(ordered, 0.90) / 1e6, 2),
        "p99_ms": round(percentile(ordered, 0.99) / 1e6, 2),
        "max_ms": round((ordered[-1] if ordered else 0) / 1e6, 2),
    }


def emit(event: str, **fields: Any) -> None:
    """One JSON line on stdout: how a child process reports to the orchestrator."""
    print(orjson.dumps({"event": event, **fields}).decode(), flush=True)


async def register(
    client: Any,
    *,
    hub_versions_url: str,
    token_a: str,
    token_b: str,
    versions_url: str,
    roles: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """The credentials handshake as Sender: returns the hub's Credentials object and its
    endpoints keyed ``identifier:ROLE``."""
    auth = {"Authorization": token_header(token_a)}
    versions = (await client.get(require_loopback(hub_versions_url), headers=auth)).json()
    details_url = next(v["url"] for v in versions["data"] if v["version"] == "2.2.1")
    details = (await client.get(require_loopback(details_url), headers=auth)).json()
    endpoints = {
        f"{e['identifier']}:{e.get('role') or ''}": str(e["url"])
        for e in details["data"]["endpoints"]
    }
    credentials_url = next(url for key, url in endpoints.items() if key.startswith("credentials:"))
    answer = await client.post(
        require_loopback(credentials_url),
        headers={**auth, "Content-Type": "application/json"},
        content=orjson.dumps({"token": token_b, "url": versions_url, "roles": roles}),
    )
    body = answer.json()
    if body.get("status_code") != 1000:
        raise RuntimeError(f"registration refused: {answer.status_code} {answer.text[:300]}")
    return dict(body["data"]), endpoints


# Raw ASGI, for the bench's own servers (the eMSPs, the floor): no framework between them and
# uvicorn, so that what they cost is the I/O alone.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_HEADERS = [(b"content-type", b"application/json")]


async def read_body(receive: Receive) -> bytes:
    chunks = []
    for _ in range(10_000):
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def answer(send: Send, body: bytes, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status, "headers": JSON_HEADERS})
    await send({"type": "http.response.body", "body": body})
