"""``incar serve`` as an operator starts it: hub, subgraphs and the Hive Gateway child on free
loopback ports over a fresh database, up once the gateway is ready and ``incar serve`` says so;
stopped at the end."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.databases import fresh_database
from tests.support.hub_process import INCAR, free_port, incar_env

START_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0
READY_LINE = "GraphQL and GraphiQL on"


@dataclass
class Platform:
    process: asyncio.subprocess.Process
    log: Path
    hub: str
    subgraphs: str
    gateway: str

    def output(self) -> str:
        return self.log.read_text()


async def until_up(
    url: str, process: asyncio.subprocess.Process, log: Path, ready_line: str = ""
) -> None:
    """Until ``url`` answers 200 and the log holds ``ready_line``. The gateway answers
    /readiness a moment before ``incar serve`` has seen it ready; a test that acts in that
    moment (kills the gateway) would meet the start-up path, not the running one."""
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(int(START_TIMEOUT * 4)):
            if process.returncode is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200 and ready_line in (
                    await asyncio.to_thread(log.read_text)
                ):
                    return
            await asyncio.sleep(0.25)
    output = await asyncio.to_thread(log.read_text)
    raise AssertionError(f"not up ({process.returncode=}):\n{output}")


@contextlib.asynccontextmanager
async def platform(
    tmp: Path, *args: str, database_url: str | None = None
) -> AsyncIterator[Platform]:
    """``incar serve ARGS`` with its own database (or ``database_url``) and data folder
    ``tmp``; its output goes to ``tmp/serve.log``."""
    async with _database(database_url) as url:
        ports = [free_port(), free_port(), free_port()]
        env = incar_env(
            url,
            tmp,
            ports[0],
            INCAR_SUBGRAPHS_PORT=str(ports[1]),
            INCAR_GATEWAY_PORT=str(ports[2]),
        )
        log = tmp / "serve.log"
        with log.open("w") as out:
            process = await asyncio.create_subprocess_exec(
                INCAR, "serve", *args, env=env, stdout=out, stderr=out, start_new_session=True
            )
        running = Platform(
            process,
            log,
            f"http://127.0.0.1:{ports[0]}",
            f"http://127.0.0.1:{ports[1]}",
            f"http://127.0.0.1:{ports[2]}/graphql",
        )
        try:
            await until_up(
                running.gateway.replace("/graphql", "/readiness"), process, log, READY_LINE
            )
            yield running
        finally:
            await stop(process)


@contextlib.asynccontextmanager
async def _database(given: str | None) -> AsyncIterator[str]:
    if given is not None:
        yield given
        return
    async with fresh_database() as url:
        yield url


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM first: ``incar serve`` then stops its gateway, which runs in a session of its
    own and so outlives a SIGKILL of ``incar serve``'s process group. SIGKILL if it hangs."""
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
    await process.wait()
