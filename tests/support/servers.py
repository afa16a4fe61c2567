"""Real HTTP servers on loopback for tests: uvicorn on a socket bound before the app exists."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


def bind(port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@dataclass
class Running:
    url: str
    server: uvicorn.Server


def plain_config(app: ASGIApp) -> uvicorn.Config:
    """uvicorn as it comes (the peers): no limits of the hub's."""
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", loop="none")


@contextlib.asynccontextmanager
async def serve(
    make_app: Callable[[str], ASGIApp],
    *,
    configure: Callable[[ASGIApp], uvicorn.Config] = plain_config,
    port: int = 0,
) -> AsyncIterator[Running]:
    """Serves ``make_app(base_url)`` until the block ends; the app learns its URL first.

    ``configure`` makes uvicorn's configuration of the app (the hub's: ``incar.server``);
    ``port`` 0 is any free one, another the port of a server restarted at the same URL.
    """
    sock = bind(port)
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(configure(make_app(url)))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped while starting")
            await asyncio.sleep(0.01)
        yield Running(url=url, server=server)
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        sock.close()
