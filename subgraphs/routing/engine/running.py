"""The process's routing engine: one route pool per data directory, started beside the server.

``incar serve`` (and ``incar subgraph routing``) open the active map as the routing
subgraph's background work, when there is one. Without one, the first routing request
builds the default map (its phases on stderr) in a thread, so the other subgraphs are served
meanwhile, and a server that is never asked for a route builds nothing (the test suite's
many servers among them). Until the pool runs, a request is refused at once with
``NotReady`` (the graph's ROUTING_NOT_READY) rather than held for the seconds or minutes a
build takes; a map that cannot be opened or built is ``Unavailable`` with the builder's
one-line reason, until a request ``RETRY`` seconds later tries again (an operator may
have imported a map meanwhile: ``incar map import`` needs no restart of the server).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import TextIO

from incar import maps
from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.routing.engine.build import BuildError
from subgraphs.routing.engine.pbf import MapInputError
from subgraphs.routing.engine.pool import RoutePool

log = logging.getLogger("incar.routing")
RETRY = 30.0


class NotReady(RuntimeError):
    """The map is still being opened or built."""


class Unavailable(RuntimeError):
    """The map could not be opened or built; the message says why in one line."""


class RoutingEngine:
    def __init__(
        self,
        data_dir: Path,
        *,
        workers: int = 2,
        queue_size: int = 64,
        progress: TextIO | None = sys.stderr,
    ) -> None:
        self.pool = RoutePool(data_dir, workers=workers, queue_size=queue_size)
        self.progress = progress
        self._task: asyncio.Task[None] | None = None
        self._ready = False
        self._failure: str | None = None
        self._failed_at = 0.0

    def start_soon(self) -> asyncio.Task[None]:
        """Starts opening (or building) the map unless it is under way or done."""
        if self._task is None:
            self._task = asyncio.create_task(self._start(), name="routing: open the map")
        return self._task

    async def start(self) -> None:
        """Until the pool runs (or the map failed: then ``ready`` raises Unavailable)."""
        await asyncio.shield(self.start_soon())

    async def _start(self) -> None:
        try:
            await self.pool.start(progress=self.progress)
        except (MapInputError, BuildError, maps.ManifestError, OSError, RuntimeError) as failure:
            self._failure, self._failed_at = str(failure), time.monotonic()
            log.error("routing is unavailable: %s", failure)
        else:
            self._ready = True

    def ready(self) -> RoutePool:
        """The running pool; NotReady while the map opens, Unavailable if it could not."""
        if self._ready:
            return self.pool
        if self._failure is not None:
            if time.monotonic() - self._failed_at < RETRY:
                raise Unavailable(self._failure)
            self._failure, self._task = None, None  # try again
        self.start_soon()
        raise NotReady("the map is being prepared (on first use its tiles are built)")

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            # A build runs in a thread that cannot be interrupted: it finishes (or fails) on
            # its own, and a complete tile set is kept for the next start; no worker starts.
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._ready:
            self._ready = False
            await self.pool.close()


_engines: dict[Path, RoutingEngine] = {}


def engine_for(settings: Settings) -> RoutingEngine:
    """This process's engine for the settings' data directory (made, not started, on first
    use: every resolver of one process shares its workers and their tile caches)."""
    key = settings.data_dir.resolve()
    found = _engines.get(key)
    if found is None:
        found = _engines[key] = RoutingEngine(
            settings.data_dir,
            workers=settings.routing_workers,
            queue_size=settings.routing_queue,
        )
    return found


def forget(settings: Settings) -> None:
    """Drops the process's engine of this data directory (after ``close``)."""
    _engines.pop(settings.data_dir.resolve(), None)


async def run(runtime: Runtime) -> None:
    """The routing subgraph's background work: the engine opens an active map with the
    server (a missing one is built on the first request) and stops with it."""
    engine = engine_for(runtime.settings)
    try:
        active = maps.read_active(runtime.settings.data_dir)
    except maps.ManifestError:
        active = None  # the first request rebuilds it, or says why it cannot
    if active is not None:
        engine.start_soon()
    try:
        await asyncio.Event().wait()
    finally:
        await engine.close()
        forget(runtime.settings)
