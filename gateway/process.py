"""Hive Gateway as a child process of the platform: started, watched, stopped.

The gateway is a Node.js program; the platform is Python. ``GatewayProcess`` starts it on a
composed supergraph file, returns once it answers its readiness check, forwards its log to
Python logging (it logs JSON lines, one record each), and stops it when the block ends. If the
child dies on its own, ``crashed()`` completes with its exit status, so the platform can stop
instead of serving a graph without its door.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

GATEWAY_DIR = Path(__file__).resolve().parent
HIVE_GATEWAY = GATEWAY_DIR / "node_modules" / ".bin" / "hive-gateway"
CONFIG_PATH = GATEWAY_DIR / "gateway.config.mjs"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
READY_POLL = 0.1

logger = logging.getLogger("incar.gateway")
LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child before it becomes the gateway: Linux sends it SIGTERM when the
    platform dies, even by SIGKILL, which no handler of the platform's can see. Without it an
    orphaned gateway would hold its port and answer with its subgraphs gone."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class GatewayError(Exception):
    """The gateway did not start, or is not installed."""


def log_line(line: str, *, stream: str) -> None:
    """One line of the child's output as a Python log record."""
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if isinstance(record, dict) and isinstance(record.get("msg"), str):
        level = LEVELS.get(str(record.get("level")), logging.INFO)
        extra = {k: v for k, v in record.items() if k not in {"level", "msg", "timestamp"}}
        logger.log(level, "%s%s", record["msg"], f" {json.dumps(extra)}" if extra else "")
    else:
        logger.log(logging.WARNING if stream == "stderr" else logging.INFO, "%s", line)


class GatewayProcess:
    """``async with GatewayProcess(supergraph, port=P) as gateway:`` serves ``gateway.url``."""

    def __init__(
        self,
        supergraph: Path,
        *,
        port: int,
        host: str = "127.0.0.1",
        config: Path = CONFIG_PATH,
        env: Mapping[str, str] | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ) -> None:
        self.supergraph = Path(supergraph).resolve()
        self.port = port
        self.host = host
        self.config = Path(config).resolve()
        self.env = dict(env) if env is not None else None
        self.ready_timeout = ready_timeout
        self.child: asyncio.subprocess.Process | None = None
        self.stopping = False
        self.readers: list[asyncio.Task[None]] = []
        self.watcher: asyncio.Task[int] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The GraphQL endpoint: POST, GraphiQL on GET, WebSocket subscriptions."""
        return f"{self.base_url}/graphql"

    @property
    def pid(self) -> int | None:
        return self.child.pid if self.child else None

    def command(self) -> list[str]:
        return [
            str(HIVE_GATEWAY),
            "supergraph",
            str(self.supergraph),
            "--config-path",
            str(self.config),
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]

    async def start(self) -> None:
        if not HIVE_GATEWAY.exists():
            raise GatewayError(f"{HIVE_GATEWAY} is missing: run npm ci in {GATEWAY_DIR}")
        env = {**(self.env if self.env is not None else os.environ), "LOG_JSON": "1"}
        self.child = await asyncio.create_subprocess_exec(
            *self.command(),
            cwd=GATEWAY_DIR,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own process group: a terminal's Ctrl-C reaches the platform, which then
            # stops the gateway in order, instead of both dying at once.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        assert self.child.stdout is not None and self.child.stderr is not None
        self.readers = [
            asyncio.create_task(self.forward(self.child.stdout, "stdout")),
            asyncio.create_task(self.forward(self.child.stderr, "stderr")),
        ]
        self.watcher = asyncio.create_task(self.child.wait())
        try:
            await self.wait_ready()
        except BaseException:
            await self.stop()
            raise

    async def forward(self, stream: asyncio.StreamReader, name: str) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            if text:  # Node prints a bare newline to stderr as it stops: nothing to report
                log_line(text, stream=name)

    async def wait_ready(self) -> None:
        assert self.watcher is not None
        deadline = asyncio.get_running_loop().time() + self.ready_timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if self.watcher.done():
                    raise GatewayError(f"the gateway exited with status {self.watcher.result()}")
                with contextlib.suppress(httpx.HTTPError):
                    answer = await client.get(f"{self.base_url}/readiness")
                    if answer.status_code == 200:
                        return
                if asyncio.get_running_loop().time() > deadline:
                    raise GatewayError(f"the gateway was not ready in {self.ready_timeout} s")
                await asyncio.sleep(READY_POLL)

    async def crashed(self) -> int:
        """Completes with the exit status when the child dies without ``stop()``; never, if it
        is stopped (the waiter is cancelled then)."""
        if self.watcher is None:
            raise GatewayError("the gateway was not started")
        status = await asyncio.shield(self.watcher)
        if self.stopping:
            raise asyncio.CancelledError
        logger.error("the gateway exited on its own with status %s", status)
        return status

    async def stop(self) -> None:
        """SIGTERM to its process group, then SIGKILL after ``STOP_TIMEOUT``."""
        self.stopping = True
        child, watcher = self.child, self.watcher
        if child is None or watcher is None:
            return
        if not watcher.done():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(watcher), STOP_TIMEOUT)
            except TimeoutError:
                logger.warning("the gateway did not stop in %s s: killed", STOP_TIMEOUT)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                await watcher
        # Grandchildren (none today) would hold the pipes open: the readers end with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        await asyncio.gather(*self.readers, return_exceptions=True)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.stop()
