"""The HTTP server's limits (docs/policies.md, "Limits of the HTTP server"), over raw sockets.

Against the in-process hub (the server of ``incar.server``, small limits) and, for what an
operator sees, a real ``incar serve`` process. Timings are asserted loosely: a noisy machine
may be late, so a close is expected within its deadline plus ``MARGIN``; a deadline is never
early, so a close before it (less a little slack) is a failure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from incar.settings import Settings, SettingsError
from tests.support.databases import fresh_database
from tests.support.hub import HubUnderTest, running_hub
from tests.support.hub_process import HubProcess, free_port, hub_process, incar_env, onboard

MAX_HEAD = 8192
TIMEOUT = 1.5  # head, body and idle timeouts of the hub under test
MARGIN = 5.0
EARLY = 0.8  # a close after less than this share of its deadline is too early
CREDENTIALS = "/ocpi/2.2.1/credentials"
SECRET = b"do-not-echo-"  # the oversized header's value, which no answer may contain


# --- raw HTTP ------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def connection(url: str) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A raw TCP connection to the server at ``url``, closed at the end if the server has not."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


def head(method: str, path: str, *lines: str) -> bytes:
    """A request line and headers, without the blank line that ends a head."""
    text = "".join(f"{line}\r\n" for line in (f"{method} {path} HTTP/1.1", "Host: hub", *lines))
    return text.encode()


def authorization(token: str) -> str:
    return "Authorization: Token " + base64.b64encode(token.encode()).decode()


async def until_closed(reader: asyncio.StreamReader, within: float) -> bytes:
    """All the server sends until it closes the connection, which must be ``within`` s."""
    chunks = []
    try:
        async with asyncio.timeout(within):
            while chunk := await reader.read(65536):
                chunks.append(chunk)
    except TimeoutError:
        raise AssertionError(f"the connection is still open after {within} s") from None
    return b"".join(chunks)


async def one_answer(reader: asyncio.StreamReader) -> bytes:
    """One answer with a Content-Length, leaving the connection open."""
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), MARGIN)
    length = next(
        int(line.split(b":", 1)[1])
        for line in answer.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return answer + await asyncio.wait_for(reader.readexactly(length), MARGIN)


def status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:100]
    return int(answer.split(b" ", 2)[1])


async def dribble(writer: asyncio.StreamWriter, data: bytes, every: float) -> None:
    """Sends ``data`` a byte at a time, until it is all sent or the server closes."""
    for byte in data:
        writer.write(bytes([byte]))
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def background(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Runs ``work`` while the block runs; what it still does at the end is cancelled."""
    task = asyncio.create_task(work)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await task


def oversized_head() -> bytes:
    """A head that never ends: one header far over MAX_HEAD (the probe sent 60 MB)."""
    return head("GET", "/ocpi/versions") + b"X-Request-ID: " + SECRET * (1_048_576 // len(SECRET))


# --- the in-process hub --------------------------------------------------------------------
@pytest.fixture
async def hub() -> AsyncIterator[HubUnderTest]:
    """The hub under test with small limits (instead of conftest's)."""
    async with running_hub(
        max_head_bytes=MAX_HEAD,
        head_timeout=TIMEOUT,
        body_timeout=TIMEOUT,
        idle_timeout=TIMEOUT,
    ) as running:
        yield running


HubLog = Callable[[], list[str]]


@pytest.fixture
def hub_log(hub: HubUnderTest, caplog: pytest.LogCaptureFixture) -> Iterator[HubLog]:
    """What the hub and its uvicorn logged since, one string per record (traceback included).

    Hooked onto uvicorn's logger after the hub started: uvicorn's own logging set-up replaces
    its loggers' handlers, and they do not propagate to the root logger.
    """
    caplog.set_level(logging.INFO, logger="incar")
    uvicorn_logger = logging.getLogger("uvicorn")
    uvicorn_logger.addHandler(caplog.handler)
    caplog.clear()
    try:
        yield lambda: [caplog.handler.format(record) for record in caplog.records]
    finally:
        uvicorn_logger.removeHandler(caplog.handler)


async def test_an_oversized_head_is_refused_without_echo_and_the_hub_keeps_answering(
    hub: HubUnderTest,
) -> None:
    started = time.monotonic()
    async with connection(hub.url) as (reader, writer):

        async def send() -> None:
            writer.write(oversized_head())
            await writer.drain()

        async with background(send()):
            # Meanwhile, on another connection, the hub answers (401: no token) at once.
            async with httpx.AsyncClient(timeout=MARGIN, trust_env=False) as client:
                assert (await client.get(hub.versions_url)).status_code == 401
            refusal = await until_closed(reader, MARGIN)
    assert status(refusal) == 431
    assert SECRET not in refusal
    assert b"connection: close" in refusal.lower()
    assert time.monotonic() - started < MARGIN


async def test_a_head_of_exactly_the_limit_is_served_one_byte_more_is_refused(
    hub: HubUnderTest,
) -> None:
    start = head("GET", "/ocpi/versions", "Connection: close") + b"X-Pad: "
    padding = MAX_HEAD - len(start) - len(b"\r\n\r\n")
    for extra, expected in ((0, 401), (1, 431)):
        async with connection(hub.url) as (reader, writer):
            writer.write(start + b"p" * (padding + extra) + b"\r\n\r\n")
            assert status(await until_closed(reader, MARGIN)) == expected


async def test_a_body_sent_with_its_head_does_not_count_as_head(hub: HubUnderTest) -> None:
    # Far more than MAX_HEAD in one write: the head is small, the rest is body.
    body = b'{"token": "' + b"x" * (8 * MAX_HEAD) + b'"}'
    request = head("POST", CREDENTIALS, f"Content-Length: {len(body)}", "Connection: close")
    async with connection(hub.url) as (reader, writer):
        writer.write(request + b"\r\n" + body)
        assert status(await until_closed(reader, MARGIN)) == 401


async def test_a_head_sent_slower_than_its_deadline_is_closed_with_408(
    hub: HubUnderTest,
) -> None:
    slow = head("GET", "/ocpi/versions", "X-Padding: " + "p" * 200) + b"\r\n"  # 60 s to send
    async with connection(hub.url) as (reader, writer):
        started = time.monotonic()
        async with background(dribble(writer, slow, every=0.25)):
            answer = await until_closed(reader, TIMEOUT + MARGIN)
        elapsed = time.monotonic() - started
    assert status(answer) == 408
    assert elapsed >= EARLY * TIMEOUT, elapsed


async def test_a_body_sent_slower_than_its_deadline_is_closed_with_408_and_one_line(
    hub: HubUnderTest, hub_log: HubLog
) -> None:
    token = await hub.onboard("CPO", "NL", "SLW")
    body = b'{"token": "' + b"x" * 200 + b'"}'  # 60 s to send
    request = head("POST", CREDENTIALS, authorization(token), f"Content-Length: {len(body)}")
    async with connection(hub.url) as (reader, writer):
        writer.write(request + b"\r\n")
        started = time.monotonic()
        async with background(dribble(writer, body, every=0.25)):
            answer = await until_closed(reader, TIMEOUT + MARGIN)
        elapsed = time.monotonic() - started
    assert status(answer) == 408
    assert elapsed >= EARLY * TIMEOUT, elapsed
    await asyncio.sleep(0.3)  # the handler sees the disconnect after the close
    assert_one_line(hub_log(), f"body of POST {CREDENTIALS} not complete within")


async def test_a_connection_that_never_sends_is_closed_after_the_idle_timeout(
    hub: HubUnderTest,
) -> None:
    started = time.monotonic()
    async with connection(hub.url) as (reader, _):
        assert await until_closed(reader, TIMEOUT + MARGIN) == b""
    assert time.monotonic() - started >= EARLY * TIMEOUT


async def test_a_keep_alive_connection_idle_after_a_request_is_closed(hub: HubUnderTest) -> None:
    async with connection(hub.url) as (reader, writer):
        writer.write(head("GET", "/ocpi/versions") + b"\r\n")
        assert status(await one_answer(reader)) == 401
        answered = time.monotonic()
        # Blank lines between requests are allowed but are no request: the idle clock runs on.
        async with background(dribble(writer, b"\r\n" * 100, every=0.2)):
            assert await until_closed(reader, TIMEOUT + MARGIN) == b""
    assert time.monotonic() - answered >= EARLY * TIMEOUT


async def test_pipelined_requests_on_one_connection_are_all_answered(hub: HubUnderTest) -> None:
    # Together far over MAX_HEAD in one write: each head counts on its own.
    request = head("GET", "/ocpi/versions") + b"\r\n"
    count = 4 * MAX_HEAD // len(request)
    async with connection(hub.url) as (reader, writer):
        writer.write(request * count)
        for _ in range(count):
            assert status(await one_answer(reader)) == 401
        assert await until_closed(reader, TIMEOUT + MARGIN) == b""


async def test_an_upgrade_stays_plain_http_under_the_limits(
    hub: HubUnderTest, hub_log: HubLog
) -> None:
    # A WebSocket protocol would take the connection over, beyond these limits; the hub has none.
    upgrade = head(
        "GET",
        "/ocpi/versions",
        "Connection: Upgrade",
        "Upgrade: websocket",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    )
    async with connection(hub.url) as (reader, writer):
        writer.write(upgrade + b"\r\n")
        assert status(await one_answer(reader)) == 401
        assert await until_closed(reader, TIMEOUT + MARGIN) == b""
    assert_one_line(hub_log(), "Upgrade not supported; answered as plain HTTP")


async def leave_mid_body(url: str, token: str) -> None:
    """Sends a credentials POST's head and the start of its body, then disconnects."""
    request = head("POST", CREDENTIALS, authorization(token), "Content-Length: 1000")
    async with connection(url) as (_, writer):
        writer.write(request + b'\r\n{"token": ')
        await writer.drain()
        await asyncio.sleep(0.3)  # the hub has the head; its handler waits for the body


LEFT = f"POST {CREDENTIALS}: the client disconnected before its body was complete"


async def test_a_client_leaving_mid_body_is_one_line_in_the_log(
    hub: HubUnderTest, hub_log: HubLog
) -> None:
    await leave_mid_body(hub.url, await hub.onboard("CPO", "NL", "GON"))
    await eventually(lambda: any(LEFT in line for line in hub_log()), hub_log)
    await asyncio.sleep(0.3)  # a second record (uvicorn's) would come right after
    assert_one_line(hub_log(), LEFT)


def assert_one_line(log: list[str], expected: str) -> None:
    """The event is one record of the log, without traceback, and nothing went wrong."""
    assert len([line for line in log if expected in line]) == 1, log
    assert all("\n" not in line for line in log), log
    assert not any("Traceback" in line or "unexpected error" in line for line in log), log


async def eventually(condition: Callable[[], bool], log: Callable[[], object]) -> None:
    """Waits (bounded) until ``condition`` holds; on failure, shows the log."""
    deadline = time.monotonic() + MARGIN
    while not condition():
        assert time.monotonic() < deadline, f"not within {MARGIN} s; the log: {log()}"
        await asyncio.sleep(0.05)


# --- incar serve ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
async def served() -> AsyncIterator[tuple[HubProcess, str]]:
    """``incar serve`` with small limits, and the token A of an onboarded CPO."""
    async with fresh_database() as database_url:
        with tempfile.TemporaryDirectory(prefix="incar-limits-") as folder:
            port = free_port()
            env = incar_env(
                database_url,
                Path(folder) / "data",
                port,
                INCAR_MAX_HEAD_BYTES=str(MAX_HEAD),
                INCAR_HEAD_TIMEOUT=str(TIMEOUT),
                INCAR_BODY_TIMEOUT=str(TIMEOUT),
                INCAR_IDLE_TIMEOUT=str(TIMEOUT),
            )
            async with hub_process(env, port, Path(folder) / "hub.log") as process:
                yield process, await onboard(database_url, "CPO", ("NL", "SRV"))


async def test_incar_serve_refuses_an_oversized_head_and_keeps_answering(
    served: tuple[HubProcess, str],
) -> None:
    process, _ = served
    async with connection(process.url) as (reader, writer):

        async def send() -> None:
            writer.write(oversized_head())
            await writer.drain()

        async with background(send()):
            async with httpx.AsyncClient(timeout=MARGIN, trust_env=False) as client:
                assert (await client.get(process.versions_url)).status_code == 401
            refusal = await until_closed(reader, MARGIN)
    assert status(refusal) == 431
    assert SECRET not in refusal
    refused = f"request head over {MAX_HEAD} bytes refused"
    await eventually(lambda: refused in process.output(), process.output)
    assert SECRET.decode() not in process.output()


async def test_incar_serve_closes_slow_heads_and_idle_connections(
    served: tuple[HubProcess, str],
) -> None:
    process, _ = served
    slow = head("GET", "/ocpi/versions", "X-Padding: " + "p" * 200) + b"\r\n"
    async with (
        connection(process.url) as (idle, _),
        connection(process.url) as (reader, writer),
    ):
        async with background(dribble(writer, slow, every=0.25)):
            assert status(await until_closed(reader, TIMEOUT + MARGIN)) == 408
        assert await until_closed(idle, TIMEOUT + MARGIN) == b""


async def test_incar_serve_logs_a_client_leaving_mid_body_as_one_line(
    served: tuple[HubProcess, str],
) -> None:
    process, token = served
    before = len(process.output())
    await leave_mid_body(process.url, token)
    await eventually(lambda: LEFT in process.output()[before:], process.output)
    await asyncio.sleep(0.5)  # a second record (uvicorn's) would come right after
    log = process.output()[before:]
    assert log.strip().splitlines() == [next(line for line in log.splitlines() if LEFT in line)]
    assert "Traceback" not in log and "unexpected error" not in log, log


# --- the settings --------------------------------------------------------------------------
def test_the_limits_default_to_the_documented_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_HEAD_BYTES", "HEAD_TIMEOUT", "BODY_TIMEOUT", "IDLE_TIMEOUT"):
        monkeypatch.delenv(f"INCAR_{name}", raising=False)
    settings = Settings.from_env()
    assert (
        settings.max_head_bytes,
        settings.head_timeout,
        settings.body_timeout,
        settings.idle_timeout,
    ) == (32_768, 10.0, 30.0, 20.0)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INCAR_MAX_HEAD_BYTES", "1023"),
        ("INCAR_MAX_HEAD_BYTES", "32k"),
        ("INCAR_HEAD_TIMEOUT", "0"),
        ("INCAR_BODY_TIMEOUT", "-1"),
        ("INCAR_IDLE_TIMEOUT", "nan"),
        ("INCAR_IDLE_TIMEOUT", "inf"),
        ("INCAR_HEAD_TIMEOUT", "soon"),
    ],
)
def test_a_limit_the_server_cannot_use_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        Settings.from_env()
