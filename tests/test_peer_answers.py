"""A peer's answer is read only up to ``INCAR_MAX_ANSWER_BYTES`` (docs/policies.md, Peers'
answers, trace ids and loops).

Over real HTTP: a receiver that streams an endless chunked body, one that announces and sends
100 MB, and one whose small gzip body inflates far beyond the limit. The requester gets 4003 at
once (the forward timeout here is 10 s), the party's status is unchanged, and the connection the
answer came on is not used again. Against a real ``incar serve`` process, the hub's peak memory
stays within a few times the limit. An answer of exactly the limit is relayed byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from incar.settings import Settings, SettingsError
from ocpi_adapter.types import ConnectionStatus
from tests.conformance.support import (
    Party,
    addressed,
    assert_envelope,
    hub_party,
    location,
    register_all,
    status_of,
    token_header,
)
from tests.peers.strict.peer import Received, StrictPeer, running_peer
from tests.support.databases import fresh_database
from tests.support.hub import HubUnderTest, running_hub
from tests.support.hub_process import free_port, hub_process, incar_env, onboard, register_at
from tests.support.servers import serve

MiB = 1_048_576
LIMIT = MiB  # INCAR_MAX_ANSWER_BYTES of these tests
FORWARD_TIMEOUT = 10.0
PROMPTLY = 3.0  # seconds; far below FORWARD_TIMEOUT
CHUNK = 64 * 1024
CPO: Party = ("NL", "CPB")
EMSP: Party = ("DE", "EMB")
LOCATION = "/locations/sender/L1"


# --- answers a receiver can give ---------------------------------------------------------------
class Streamed(StreamingResponse):
    """An answer sent chunk by chunk that notes how much got out before the hub hung up."""

    def __init__(self, chunks: Iterator[bytes], headers: dict[str, str] | None = None) -> None:
        super().__init__(chunks, headers=headers, media_type="application/json")
        self.chunks = chunks
        self.sent = 0
        self.hung_up = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def notice_hang_up() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.hung_up.set()

        listener = asyncio.create_task(notice_hang_up())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            for chunk in self.chunks:
                if self.hung_up.is_set():
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                self.sent += len(chunk)
                # uvicorn's send returns at once while the socket takes data; yield, so that a
                # closed connection is noticed (and this loop ends) rather than spun on.
                await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            listener.cancel()


def endless() -> Iterator[bytes]:
    """A JSON list that never ends, sent as a chunked body (no Content-Length)."""
    yield b'{"status_code":1000,"data":['
    item = b'{"id":"L1","evses":[]},' * (CHUNK // 23)
    while True:
        yield item


def hundred_mb() -> Iterator[bytes]:
    """100 MB, announced in Content-Length and made as it is sent (the peer holds 64 KiB)."""
    head = b'{"status_code":1000,"data":"'
    yield head
    left = 100_000_000 - len(head) - 2
    while left > 0:
        yield b"x" * min(CHUNK, left)
        left -= CHUNK
    yield b'"}'


@cache
def gzip_bomb(inflated: int = 64 * MiB) -> bytes:
    """A gzip body of about 64 KiB that inflates to ``inflated`` bytes of JSON."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip container
    head = b'{"status_code":1000,"data":"'
    parts = [packer.compress(head)]
    left = inflated - len(head) - 2
    block = b"x" * MiB
    while left > 0:
        parts.append(packer.compress(block[: min(MiB, left)]))
        left -= MiB
    parts.append(packer.compress(b'"}'))
    parts.append(packer.flush())
    return b"".join(parts)


def exact_answer(size: int) -> bytes:
    """An OCPI envelope of exactly ``size`` bytes."""
    head = b'{"status_code":1000,"timestamp":"2026-01-01T00:00:00Z","data":{"id":"L1","note":"'
    tail = b'"}}'
    return head + b"n" * (size - len(head) - len(tail)) + tail


def gzipped(body: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    return packer.compress(body) + packer.flush()


def as_chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


# --- a receiver that notes its connections -----------------------------------------------------
@dataclass
class NotingPeer(StrictPeer):
    """A strict peer that notes the client port (the connection) each request came on."""

    ports: list[int] = field(default_factory=list)

    async def _dispatch(self, request: Request) -> Response:
        client = request.scope.get("client")
        self.ports.append(client[1] if client else 0)
        return await super()._dispatch(request)


@contextlib.asynccontextmanager
async def noting_peer(**options: Any) -> AsyncIterator[NotingPeer]:
    peer = NotingPeer(**options)
    async with serve(peer.app):
        yield peer


def answering(make: Callable[[], Response]) -> Callable[[Received], Response]:
    return lambda _: make()


@dataclass
class Pair:
    hub: HubUnderTest
    cpo: NotingPeer
    emsp: StrictPeer

    async def get_location(self) -> tuple[httpx.Response, float]:
        started = time.monotonic()
        answer = await self.emsp.call(
            "GET", self.hub.endpoint("locations", "sender") + "/L1", to=CPO
        )
        return answer, time.monotonic() - started


@contextlib.asynccontextmanager
async def pair() -> AsyncIterator[Pair]:
    async with (
        running_hub(max_answer_bytes=LIMIT, forward_timeout=FORWARD_TIMEOUT) as hub,
        noting_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        yield Pair(hub=hub, cpo=cpo, emsp=emsp)


def assert_4003(answer: httpx.Response, hub: HubUnderTest, elapsed: float) -> None:
    assert elapsed < PROMPTLY, f"{elapsed:.2f} s: the hub waited for the rest of the answer"
    assert answer.status_code == 200, answer.text
    body = assert_envelope(answer)
    assert body["status_code"] == 4003, body
    assert "data" not in body
    assert str(LIMIT) in body["status_message"], body
    assert addressed(answer) == (hub_party(hub), EMSP)


async def assert_connection_not_reused(pair: Pair) -> None:
    """The connection the oversized answer came on is closed: the next hop opens a new one."""
    used = pair.cpo.ports[-1]
    pair.cpo.handlers.clear()
    healed, _ = await pair.get_location()
    assert healed.json()["status_code"] == 1000, healed.text
    assert pair.cpo.ports[-1] != used, "the cut-off connection went back to the pool"


# --- the setting ------------------------------------------------------------------------------
def test_the_limit_is_16_mib_unless_set_to_a_positive_integer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("INCAR_MAX_ANSWER_BYTES", raising=False)
    assert Settings.from_env().max_answer_bytes == 16 * MiB
    monkeypatch.setenv("INCAR_MAX_ANSWER_BYTES", "1048576")
    assert Settings.from_env().max_answer_bytes == MiB
    for bad in ("0", "-1", "16MiB"):
        monkeypatch.setenv("INCAR_MAX_ANSWER_BYTES", bad)
        with pytest.raises(SettingsError, match="INCAR_MAX_ANSWER_BYTES"):
            Settings.from_env()


# --- the three attacks -------------------------------------------------------------------------
async def test_an_endless_answer_is_cut_at_the_limit_and_answered_4003_at_once() -> None:
    async with pair() as world:
        # Two ordinary hops reuse one pooled connection (so reuse would show below).
        for _ in range(2):
            ordinary, _ = await world.get_location()
            assert ordinary.json()["status_code"] == 1000
        assert world.cpo.ports[-1] == world.cpo.ports[-2]
        stream = Streamed(endless())
        world.cpo.on("GET", LOCATION, answering(lambda: stream))
        answer, elapsed = await world.get_location()
        assert_4003(answer, world.hub, elapsed)
        await asyncio.wait_for(stream.hung_up.wait(), PROMPTLY)
        # What the peer got out before the hub hung up: the limit plus what the sockets buffer.
        assert stream.sent < 64 * LIMIT, stream.sent
        await world.hub.settle()
        assert await status_of(world.hub, CPO) is ConnectionStatus.CONNECTED
        await assert_connection_not_reused(world)


async def test_an_announced_100_mb_answer_is_refused_without_reading_it() -> None:
    async with pair() as world:
        stream = Streamed(hundred_mb(), headers={"Content-Length": "100000000"})
        world.cpo.on("GET", LOCATION, answering(lambda: stream))
        answer, elapsed = await world.get_location()
        assert_4003(answer, world.hub, elapsed)
        assert "announced 100000000 bytes" in answer.json()["status_message"]
        await asyncio.wait_for(stream.hung_up.wait(), PROMPTLY)
        assert stream.sent < 10_000_000, stream.sent
        await world.hub.settle()
        assert await status_of(world.hub, CPO) is ConnectionStatus.CONNECTED
        await assert_connection_not_reused(world)


async def test_a_gzip_answer_inflating_beyond_the_limit_is_4003() -> None:
    bomb = gzip_bomb()
    assert len(bomb) < LIMIT / 8, "small on the wire: Content-Length says nothing of the size"
    async with pair() as world:
        world.cpo.on(
            "GET",
            LOCATION,
            answering(
                lambda: Response(
                    bomb, media_type="application/json", headers={"Content-Encoding": "gzip"}
                )
            ),
        )
        answer, elapsed = await world.get_location()
        assert_4003(answer, world.hub, elapsed)
        await world.hub.settle()
        assert await status_of(world.hub, CPO) is ConnectionStatus.CONNECTED
        await assert_connection_not_reused(world)


# --- the limit itself --------------------------------------------------------------------------
async def test_an_answer_of_exactly_the_limit_is_relayed_byte_for_byte_one_more_is_4003() -> None:
    at_limit, over = exact_answer(LIMIT), exact_answer(LIMIT + 1)
    cases: list[tuple[str, bytes, Callable[[], Response]]] = [
        ("content-length", at_limit, lambda: Response(at_limit, media_type="application/json")),
        ("chunked", at_limit, lambda: Streamed(as_chunks(at_limit))),
        (
            "gzip",
            at_limit,
            lambda: Response(
                gzipped(at_limit),
                media_type="application/json",
                headers={"Content-Encoding": "gzip"},
            ),
        ),
        ("content-length", over, lambda: Response(over, media_type="application/json")),
        ("chunked", over, lambda: Streamed(as_chunks(over))),
        (
            "gzip",
            over,
            lambda: Response(
                gzipped(over), media_type="application/json", headers={"Content-Encoding": "gzip"}
            ),
        ),
    ]
    async with pair() as world:
        for framing, body, make in cases:
            world.cpo.on("GET", LOCATION, answering(make))
            answer, elapsed = await world.get_location()
            if len(body) <= LIMIT:
                assert answer.status_code == 200, (framing, answer.text[:200])
                assert answer.content == body, framing
                assert addressed(answer) == (CPO, EMSP)
            else:
                assert_4003(answer, world.hub, elapsed)
        assert await status_of(world.hub, CPO) is ConnectionStatus.CONNECTED


# --- requests the hub starts itself ------------------------------------------------------------
async def test_registration_with_an_endless_versions_answer_is_3001_and_token_a_still_works() -> (
    None
):
    async with (
        running_hub(max_answer_bytes=LIMIT, forward_timeout=FORWARD_TIMEOUT) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
    ):
        token_a = await hub.onboard("CPO", *CPO)
        stream = Streamed(endless())
        cpo.on("GET", "/versions", answering(lambda: stream))
        credentials = {"token": cpo.token_b, "url": cpo.versions_url, "roles": cpo.roles()}
        async with httpx.AsyncClient(timeout=30) as client:
            started = time.monotonic()
            refused = await client.post(
                f"{hub.url}/ocpi/2.2.1/credentials", headers=token_header(token_a), json=credentials
            )
            elapsed = time.monotonic() - started
            assert elapsed < PROMPTLY, elapsed
            assert refused.json()["status_code"] == 3001, refused.text
            cpo.handlers.clear()
            accepted = await client.post(
                f"{hub.url}/ocpi/2.2.1/credentials", headers=token_header(token_a), json=credentials
            )
        assert accepted.json()["status_code"] == 1000, accepted.text
        assert stream.hung_up.is_set()
        await hub.settle()


async def test_a_broadcast_copy_with_an_endless_answer_ends_at_the_limit() -> None:
    async with (
        running_hub(max_answer_bytes=LIMIT, forward_timeout=FORWARD_TIMEOUT) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        stream = Streamed(endless())
        emsp.on("PUT", "/locations/receiver/", answering(lambda: stream))
        started = time.monotonic()
        pushed = await cpo.call(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPB/L1",
            to=hub_party(hub),
            json=location(*CPO, "L1"),
        )
        assert pushed.json()["status_code"] == 1000, pushed.text
        await asyncio.wait_for(hub.settle(), PROMPTLY)
        assert time.monotonic() - started < PROMPTLY
        assert stream.hung_up.is_set()
        assert await status_of(hub, EMSP) is ConnectionStatus.CONNECTED


# --- the hub process's memory ------------------------------------------------------------------
def peak_rss(pid: int) -> int:
    """VmHWM of a process: the most resident memory it ever had, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


async def test_the_hub_process_never_holds_much_more_than_the_limit() -> None:
    async with fresh_database() as database_url:
        with tempfile.TemporaryDirectory(prefix="incar-answers-") as folder:
            port = free_port()
            env = incar_env(
                database_url,
                Path(folder) / "data",
                port,
                INCAR_MAX_ANSWER_BYTES=str(LIMIT),
                INCAR_FORWARD_TIMEOUT=str(FORWARD_TIMEOUT),
            )
            async with (
                hub_process(env, port, Path(folder) / "hub.log") as hub,
                running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
                running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
            ):
                for peer, role, party in ((cpo, "CPO", CPO), (emsp, "EMSP", EMSP)):
                    await register_at(peer, hub.url, await onboard(database_url, role, party))
                assert hub.process is not None
                url = hub.endpoint("locations", "sender") + "/L1"
                # Warm up: ordinary hops (every code path of a forward has run once).
                for _ in range(3):
                    relayed = await emsp.call("GET", url, to=CPO)
                    assert relayed.json()["status_code"] == 1000
                before = peak_rss(hub.process.pid)
                attacks: list[Callable[[], Response]] = [
                    lambda: Streamed(endless()),
                    lambda: Streamed(hundred_mb(), headers={"Content-Length": "100000000"}),
                    lambda: Response(
                        gzip_bomb(),
                        media_type="application/json",
                        headers={"Content-Encoding": "gzip"},
                    ),
                ]
                for make in attacks:
                    cpo.on("GET", LOCATION, answering(make))
                    started = time.monotonic()
                    answer = await emsp.call("GET", url, to=CPO)
                    assert time.monotonic() - started < PROMPTLY
                    assert answer.json()["status_code"] == 4003, answer.text
                growth = peak_rss(hub.process.pid) - before
                print(f"hub peak RSS: {before / MiB:.1f} MiB, then +{growth / MiB:.2f} MiB")
                assert growth < 4 * LIMIT, f"peak RSS grew by {growth / MiB:.1f} MiB"
