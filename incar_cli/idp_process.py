"""The OpenID Connect provider of the demo and the tests (``idp/server.mjs``, on the certified
oidc-provider), as a child process: one node process serving Keycloak-shaped realms at
``http://127.0.0.1:PORT/realms/<realm>``, stopped with its parent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SERVER = Path(__file__).resolve().parent.parent / "idp" / "server.mjs"
# Node starts it in under a second here; the margin is for a machine starved by other work.
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class IdpError(RuntimeError):
    """The provider did not start."""


@dataclass
class RunningIdp:
    url: str
    process: asyncio.subprocess.Process

    def issuer(self, realm: str) -> str:
        return f"{self.url}/realms/{realm}"

    async def jwks_requests(self) -> dict[str, int]:
        """How many times each realm's JWKS was fetched since the provider started."""
        async with httpx.AsyncClient(trust_env=False) as client:
            answer = await client.get(f"{self.url}/_stats")
        counts: dict[str, int] = answer.json()["jwks_requests"]
        return counts


async def _ready_line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while line := (await process.stdout.readline()).decode():
                if line.startswith("ready "):
                    return line.split()[1]
            code = await process.wait()
    except TimeoutError:
        raise IdpError(
            f"it was not ready within {START_TIMEOUT:.0f} s ({_state(process.pid)})"
        ) from None
    raise IdpError(f"it exited with code {code} before it was ready")


def _state(pid: int) -> str:
    """What the kernel says the process is doing: why a start hangs, when it does."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        wchan = Path(f"/proc/{pid}/wchan").read_text().strip() or "-"
    except OSError:
        return "its state cannot be read"
    state = next(
        (ln.split(":", 1)[1].strip() for ln in status.splitlines() if ln.startswith("State:")), "?"
    )
    return f"state {state}, waiting in {wchan}"


@contextlib.asynccontextmanager
async def running_idp(
    realms: list[dict[str, Any]], workdir: Path, *, port: int = 0
) -> AsyncIterator[RunningIdp]:
    """``idp/server.mjs`` with ``realms`` on a free loopback port, stopped (SIGTERM) at the end.

    The provider picks its own port (``--port 0``) and says which in its ready line: no race
    with another process for a port chosen in advance. ``port`` starts it again where an
    earlier one was (same issuers, new keys: a key rotation).
    """
    config = workdir / "realms.json"
    config.write_text(json.dumps({"realms": realms}))
    log = (workdir / "idp.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        "node",
        str(SERVER),
        str(config),
        "--port",
        str(port),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )
    try:
        try:
            url = await _ready_line(process)
        except IdpError as error:
            raise IdpError(
                f"idp/server.mjs did not start: {error}; its log:\n"
                f"{(workdir / 'idp.log').read_text()}"
            ) from None
        yield RunningIdp(url=url, process=process)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
