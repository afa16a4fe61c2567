"""The hub as an operator runs it: ``incar`` subprocesses on loopback, over a given database.

Used where the test is about the process itself (restarts, the command line), not only about
what the hub answers; everything else uses the in-process ``running_hub``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from incar.db import Database
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.types import Role
from tests.peers.strict.peer import StrictPeer

INCAR = str(Path(sys.executable).with_name("incar"))
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
COMMAND_TIMEOUT = 90.0


def free_port() -> int:
    """A loopback port nobody listens on right now (the hub binds it itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def incar_env(database_url: str, data_dir: Path, port: int, **extra: str) -> dict[str, str]:
    """The environment of every ``incar`` command of one installation (no stray INCAR_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCAR_")}
    env.update(
        INCAR_DATABASE_URL=database_url,
        INCAR_DATA_DIR=str(data_dir),
        INCAR_HOST="127.0.0.1",
        INCAR_PORT=str(port),
        INCAR_FORWARD_TIMEOUT="10",
        INCAR_STILL_ALIVE_CHECK_PERIOD="3600",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


async def run_incar(*args: str, env: dict[str, str]) -> Completed:
    """One ``incar`` command to its end (bounded), with its exit status and output."""
    process = await asyncio.create_subprocess_exec(
        INCAR,
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"incar {' '.join(args)} did not finish in time") from None
    assert process.returncode is not None
    return Completed(process.returncode, out.decode(), err.decode())


@dataclass
class HubProcess:
    """``incar serve --host 127.0.0.1 --port P``, started and stopped by the test."""

    env: dict[str, str]
    port: int
    log: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    pids: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"{self.url}/ocpi/versions"

    def endpoint(self, module: str, interface: str) -> str:
        return f"{self.url}/ocpi/2.2.1/{module}/{interface.lower()}"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def start(self) -> None:
        """Starts the hub and waits (bounded) until it answers on /ocpi/versions."""
        assert self.process is None or self.process.returncode is not None, "already running"
        with self.log.open("a") as log:
            log.write(f"--- start {self.starts + 1}\n")
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                INCAR,
                "serve",
                "--hub-only",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        self.pids.append(self.process.pid)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            while loop.time() < deadline:
                if self.process.returncode is not None:
                    raise AssertionError(f"the hub exited while starting:\n{self.output()}")
                with contextlib.suppress(httpx.TransportError):
                    await client.get(self.versions_url)
                    return
                await asyncio.sleep(0.05)
        raise AssertionError(f"the hub did not answer within {START_TIMEOUT} s:\n{self.output()}")

    def signal(self, signum: int) -> None:
        assert self.process is not None and self.process.returncode is None
        self.process.send_signal(signum)

    async def wait_exit(self) -> int:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            raise AssertionError(
                f"the hub did not exit within {STOP_TIMEOUT} s:\n{self.output()}"
            ) from None

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def hub_process(env: dict[str, str], port: int, log: Path) -> AsyncIterator[HubProcess]:
    """A started hub process, always stopped at the end (SIGTERM, then SIGKILL)."""
    hub = HubProcess(env=env, port=port, log=log)
    try:
        await hub.start()
        yield hub
    finally:
        await hub.stop()


async def register_at(peer: StrictPeer, hub_url: str, token_a: str) -> dict[str, Any]:
    """The credentials handshake with the peer as Sender, given the token A the operator got."""
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        versions = await client.get(f"{hub_url}/ocpi/versions", headers=peer.auth(token_a))
        assert versions.status_code == 200, versions.text
        answer = await client.post(
            f"{hub_url}/ocpi/2.2.1/credentials",
            headers=peer.auth(token_a),
            json={"token": peer.token_b, "url": peer.versions_url, "roles": peer.roles()},
        )
    body = answer.json()
    assert body["status_code"] == 1000, body
    peer.token_c = body["data"]["token"]
    hub_role = body["data"]["roles"][0]
    peer.hub_party = (hub_role["country_code"], hub_role["party_id"])
    return dict(body["data"])


async def onboard(database_url: str, role: str, party: tuple[str, str]) -> str:
    """Token A for a platform, issued as `incar platform add` does (same service, same DB)."""
    db = Database(database_url)
    try:
        async with db.transaction() as tx:
            _, token_a = await platforms.onboard(
                tx,
                name=f"{role} {party[0]}*{party[1]}",
                role=Role(role),
                country_code=party[0],
                party_id=party[1],
            )
    finally:
        await db.dispose()
    return token_a
