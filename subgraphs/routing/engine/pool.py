"""Routes and matrices on worker threads, each with its own Valhalla Actor; the event loop
never waits.

An Actor is not thread-safe (its graph reader caches tiles without locks), so each worker
thread makes its own and is the only one to touch it. Valhalla releases the GIL while it
computes, so the event loop that serves the other subgraphs keeps running beside the workers
(``tests/routing/test_pool.py`` measures it). Requests wait in a bounded queue: past its size
a route is refused at once (``RoutingBusy``) rather than queued without end.

The pool follows the active map: at most once a ``recheck`` seconds it looks at the manifest
(one ``stat``), and each worker opens the new tile set on its next request after a switch.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from incar import maps
from incar.maps import MapManifest
from subgraphs.routing.engine import build, tileset
from subgraphs.routing.traffic import extract
from subgraphs.routing.traffic.store import LiveSpeeds


class RoutingBusy(RuntimeError):
    """Every worker is busy and the queue is full."""


class RouteError(Exception):
    """Valhalla could not answer (no road near a location, no path, a bad request)."""

    def __init__(self, message: str, *, code: int, http_status: int) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status


@dataclass(slots=True)
class _Job:
    action: str  # Valhalla's service: route, sources_to_targets or trace_attributes
    request: str
    config: Path
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[dict[str, Any]]


class RoutePool:
    def __init__(
        self, data_dir: Path, *, workers: int = 2, queue_size: int = 64, recheck: float = 1.0
    ) -> None:
        if workers < 1 or queue_size < 1:
            raise ValueError("a route pool needs at least one worker and one queue place")
        self.data_dir = data_dir
        self.workers = workers
        self.recheck = recheck
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._threads: list[threading.Thread] = []
        self._manifest: MapManifest | None = None
        self._config: Path | None = None
        self._seen: tuple[int, int] | None = None
        self._checked = 0.0
        #: Live speeds from probe traces, written into the active map's traffic extract.
        self.traffic = LiveSpeeds()

    @property
    def manifest(self) -> MapManifest:
        if self._manifest is None:
            raise RuntimeError("the route pool is not started")
        return self._manifest

    async def active_map(self) -> MapManifest:
        """The map the next request is answered on (the active one, rechecked as ``route``
        does): what a point is checked against before it is routed."""
        await self._refresh()
        return self.manifest

    async def start(self, *, progress: TextIO | None = sys.stderr) -> None:
        """Opens the active map (building the default one on first use, its progress on
        ``progress``) and starts the workers; a build runs in a thread, so the loop goes on
        serving meanwhile."""
        await asyncio.to_thread(build.ensure_map, self.data_dir, stream=progress)
        await self._refresh(force=True)
        for number in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"route-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    async def route(self, request: dict[str, Any]) -> dict[str, Any]:
        """Valhalla's route action (its request and answer JSON, as dicts)."""
        return await self._run("route", request)

    async def matrix(self, request: dict[str, Any]) -> dict[str, Any]:
        """Valhalla's sources_to_targets action: times and distances from every source to
        every target (its request and answer JSON, as dicts)."""
        return await self._run("sources_to_targets", request)

    async def trace_attributes(self, request: dict[str, Any]) -> dict[str, Any]:
        """Valhalla's trace_attributes action: a trace (GPS fixes, or a route's own shape)
        matched to the road graph, with the attributes of the edges it used."""
        return await self._run("trace_attributes", request)

    async def _run(self, action: str, request: dict[str, Any]) -> dict[str, Any]:
        if not self._threads:
            raise RuntimeError("the route pool is not started")
        await self._refresh()
        assert self._config is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        try:
            self._queue.put_nowait(_Job(action, json.dumps(request), self._config, loop, future))
        except queue.Full:
            raise RoutingBusy(f"routing is busy ({self._queue.maxsize} routes waiting)") from None
        return await future

    async def close(self) -> None:
        for _ in self._threads:
            await asyncio.to_thread(self._queue.put, None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join)
        self._threads.clear()
        self.traffic.detach()

    async def _refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self.recheck:
            return
        self._checked = now
        active = maps.maps_dir(self.data_dir) / maps.ACTIVE
        stat = os.stat(active)
        seen = (stat.st_ino, stat.st_mtime_ns)  # a switch renames a new file over the old
        if seen == self._seen:
            return
        manifest = await asyncio.to_thread(maps.read_active, self.data_dir)
        if manifest is None:
            raise RuntimeError(f"{active}: gone")
        folder = maps.tileset_dir(self.data_dir, manifest.id)
        live = await asyncio.to_thread(extract.ensure, folder)
        self.traffic.attach(manifest.id, await asyncio.to_thread(extract.LiveExtract, live))
        self._config = await asyncio.to_thread(tileset.config_file, folder)
        self._manifest, self._seen = manifest, seen

    def _work(self) -> None:
        import valhalla

        actor: Any = None
        opened: Path | None = None
        while (job := self._queue.get()) is not None:
            if job.future.cancelled():  # its caller went away while it waited
                continue
            try:
                if job.config != opened:
                    actor, opened = valhalla.Actor(str(job.config)), job.config
                # pyvalhalla names the matrix method after the action's short name.
                method = {
                    "sources_to_targets": actor.matrix,
                    "trace_attributes": actor.trace_attributes,
                }.get(job.action, actor.route)
                answer: Any = json.loads(method(job.request))
            except valhalla.ValhallaError as error:
                failure = RouteError(
                    str(getattr(error, "message", error)),
                    code=int(getattr(error, "code", 0)),
                    http_status=int(getattr(error, "http_code", 400)),
                )
                job.loop.call_soon_threadsafe(_settle, job.future, None, failure)
            except Exception as error:
                job.loop.call_soon_threadsafe(_settle, job.future, None, error)
            else:
                job.loop.call_soon_threadsafe(_settle, job.future, answer, None)


def _settle(
    future: asyncio.Future[dict[str, Any]],
    answer: dict[str, Any] | None,
    error: BaseException | None,
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert answer is not None
        future.set_result(answer)
