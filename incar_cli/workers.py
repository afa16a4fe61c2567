"""``incar serve --workers N``: N hub processes behind one address, on one PostgreSQL database.

The supervisor (the ``incar serve`` process) binds the listening socket once and hands it to
each worker, which inherits it (``pass_fds``) and accepts on it: the kernel gives each new
connection to one of the workers waiting. An inherited socket rather than SO_REUSEPORT: the
connections queued on it are never lost with a worker (SO_REUSEPORT gives each process a queue
of its own, whose waiting connections are reset when that process dies), no other process can
bind the port beside ours, and it is what uvicorn's own ``--workers`` does.

A worker that stops by itself stops them all (exit status 1), as any part of ``incar serve``
does: the platform never half-runs, and the deployment's supervisor (systemd, Docker's restart
policy) restarts the whole. Workers use the PostgreSQL event bus whatever INCAR_EVENT_BUS says:
the memory bus would not cross processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from dataclasses import dataclass, field

from incar.settings import Settings

STOP_TIMEOUT = 20.0


class WorkersRefused(ValueError):
    """``--workers`` cannot be honoured with these settings (one line for the CLI)."""


def refusal(settings: Settings, workers: int) -> str | None:
    """Why ``workers`` hub processes cannot serve with ``settings``, or None."""
    if workers < 1:
        return f"--workers must be at least 1, got {workers}"
    if workers > 1 and not settings.database_url.startswith("postgresql"):
        return (
            f"--workers {workers} needs PostgreSQL (INCAR_DATABASE_URL=postgresql+asyncpg://...);"
            " the embedded SQLite database serves one process"
        )
    return None


def worker_settings(settings: Settings) -> Settings:
    return settings.with_(event_bus="postgres")


def listening_socket(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class Workers:
    """The running workers of one supervisor."""

    sock: socket.socket
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def exits(self) -> list[asyncio.Future[int]]:
        return [asyncio.ensure_future(p.wait()) for p in self.processes]

    async def stop(self) -> None:
        """SIGTERM to every worker still running (graceful), SIGKILL past the timeout."""
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        self.sock.close()


async def start(settings: Settings, count: int) -> Workers:
    """``count`` hub workers accepting on the settings' host and port."""
    sock = listening_socket(settings)
    workers = Workers(sock)
    env = dict(os.environ) | {
        "INCAR_EVENT_BUS": "postgres",
        "INCAR_HOST": settings.host,
        "INCAR_PORT": str(sock.getsockname()[1]),
    }
    try:
        for _ in range(count):
            workers.processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "incar_cli.worker",
                    str(sock.fileno()),
                    env=env,
                    pass_fds=(sock.fileno(),),
                    stdin=asyncio.subprocess.DEVNULL,
                )
            )
    except BaseException:
        await workers.stop()
        raise
    return workers
