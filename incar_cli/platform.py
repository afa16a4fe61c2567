"""Running the platform: the OCPI hub, the subgraphs and the gateway, started and stopped
together. A child that stops by itself (a crashed gateway, a server that died) is reported and
the whole platform stops: it never half-runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from gateway.compose import SubgraphSpec, compose
from gateway.process import GatewayProcess
from incar.identity import AccessTokenVerifier
from incar.runtime import Runtime
from incar.server import hub_config
from incar.settings import Settings
from ocpi_adapter.app import create_app, create_hub
from ocpi_adapter.commands.outbound import HubCommands
from ocpi_adapter.context import Hub
from ocpi_adapter.graph_parties import party_tokens
from subgraphs.catalog import Subgraph, subgraphs
from subgraphs.common.app import federation_sdl
from subgraphs.common.auth import Authenticator, oidc_drivers
from subgraphs.server import create_app as create_subgraphs_app

log = logging.getLogger("incar.platform")


class Stopped(Exception):
    """A part of the platform stopped by itself."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the platform handles the signals once, for
    every server and the gateway together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Part:
    name: str
    done: asyncio.Future[Any]


def authenticator(hub: Hub, verifier: AccessTokenVerifier | None) -> Authenticator:
    return Authenticator(
        drivers=oidc_drivers(verifier) if verifier is not None else None,
        parties=party_tokens(hub),
    )


def subgraphs_server(
    runtime: Runtime,
    hub: Hub,
    chosen: Sequence[Subgraph],
    *,
    port: int,
    verifier: AccessTokenVerifier | None,
) -> uvicorn.Server:
    app = create_subgraphs_app(
        runtime, chosen, authenticator=authenticator(hub, verifier), commands=HubCommands(hub)
    )
    return _Server(
        uvicorn.Config(
            app,
            host=runtime.settings.host,
            port=port,
            lifespan="on",
            log_level="warning",
            access_log=False,
            ws="websockets-sansio",
            # The subgraphs' WebSockets carry the gateway's subscriptions on an internal hop,
            # one small frame per subscriber and event: permessage-deflate, which the gateway's
            # client offers, was a fifth of the gateway's CPU (inflating) and of ours
            # (deflating) for a few bytes saved on loopback or a LAN.
            ws_per_message_deflate=False,
        )
    )


def supergraph(served: Sequence[tuple[Subgraph, str]], folder: Path) -> Path:
    """The supergraph of the subgraphs at the URLs they are served at, composed offline into
    ``folder``; a composition error (CompositionError) stops the start."""
    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for subgraph, url in served:
        sdl = folder / f"{subgraph.name}.graphql"
        sdl.write_text(federation_sdl(subgraph.schema))
        specs.append(SubgraphSpec(name=subgraph.name, url=url, sdl_path=sdl))
    target = folder / "supergraph.graphql"
    target.write_text(compose(specs))
    return target


def served_at(settings: Settings, chosen: Sequence[Subgraph]) -> list[tuple[Subgraph, str]]:
    """Where one process serving ``chosen`` (``subgraphs_server``) serves each."""
    return [(subgraph, f"{settings.subgraphs_url}{subgraph.path}") for subgraph in chosen]


async def started(server: uvicorn.Server, name: str) -> Part:
    task = asyncio.ensure_future(server.serve())
    while not server.started:
        if task.done():
            task.result()  # re-raises why it could not start
            raise Stopped(f"{name} could not start")
        await asyncio.sleep(0.02)
    return Part(name, task)


async def serve(settings: Settings, *, with_gateway: bool = True) -> int:
    """The hub, every subgraph (in this process) and the gateway, until SIGINT/SIGTERM or
    until one of them stops by itself (then exit status 1)."""
    app = create_app(settings)
    hub: Hub = app.state.hub
    chosen = list(subgraphs().values())
    verifier = AccessTokenVerifier.from_settings(settings) if settings.oidc_issuers else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hub_srv = _Server(hub_config(app, settings))
    graph_srv = subgraphs_server(
        hub.runtime, hub, chosen, port=settings.subgraphs_port, verifier=verifier
    )
    parts: list[Part] = []
    gateway: GatewayProcess | None = None
    failed: str | None = None
    try:
        parts.append(await started(hub_srv, "the OCPI hub"))
        parts.append(await started(graph_srv, "the subgraphs"))
        if with_gateway:
            path = await asyncio.to_thread(
                supergraph, served_at(settings, chosen), settings.data_dir / "graph"
            )
            gateway = GatewayProcess(path, port=settings.gateway_port, host=settings.host)
            await gateway.start()
            parts.append(Part("the gateway", asyncio.ensure_future(gateway.crashed())))
        print(f"INCAR hub on {settings.base_url} (versions: {settings.versions_url})", flush=True)
        print(f"subgraphs on {settings.subgraphs_url}/graphql/<name>", flush=True)
        if gateway is not None:
            print(f"GraphQL and GraphiQL on {gateway.url}", flush=True)
        waiter = asyncio.ensure_future(stop.wait())
        finished, _ = await asyncio.wait(
            [waiter, *(p.done for p in parts)], return_when=asyncio.FIRST_COMPLETED
        )
        for part in parts:
            if part.done in finished:
                failed = part.name
                detail = _why(part.done)
                log.error("%s stopped by itself (%s): stopping the platform", part.name, detail)
                print(f"incar: {part.name} stopped by itself ({detail}); stopping", flush=True)
        waiter.cancel()
    finally:
        # In the order they depend on each other: the gateway on the subgraphs, the
        # subgraphs on the hub's runtime (the hub's lifespan closes it).
        if gateway is not None:
            await gateway.stop()
        for server, index in ((graph_srv, 1), (hub_srv, 0)):
            server.should_exit = True
            if len(parts) > index:
                await asyncio.gather(parts[index].done, return_exceptions=True)
        if verifier is not None:
            await verifier.aclose()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 1 if failed else 0


async def serve_workers(settings: Settings, count: int, *, hub_only: bool) -> int:
    """``count`` hub workers on one address (workers.py), and unless ``hub_only`` the subgraphs
    and the gateway once, in this process: they read the database and the PostgreSQL bus,
    which every worker writes, so one of each serves all of them. Until SIGINT/SIGTERM, or
    until one part stops by itself (then every part stops, exit status 1)."""
    from incar_cli import workers as hub_workers

    settings = hub_workers.worker_settings(settings)
    runtime: Runtime | None = None
    hub: Hub | None = None
    graph_srv: uvicorn.Server | None = None
    gateway: GatewayProcess | None = None
    verifier: AccessTokenVerifier | None = None
    running: hub_workers.Workers | None = None
    parts: list[Part] = []
    failed = True
    with _signalled() as stop:
        try:
            running = await hub_workers.start(settings, count)
            parts += [
                Part(f"hub worker {pid}", done)
                for pid, done in zip(running.pids, running.exits(), strict=True)
            ]
            if not hub_only:
                runtime = Runtime.create(settings)
                await runtime.start()
                hub = create_hub(runtime)
                await hub.callers.follow()
                chosen = list(subgraphs().values())
                if settings.oidc_issuers:
                    verifier = AccessTokenVerifier.from_settings(settings)
                graph_srv = subgraphs_server(
                    runtime, hub, chosen, port=settings.subgraphs_port, verifier=verifier
                )
                parts.append(await started(graph_srv, "the subgraphs"))
                path = await asyncio.to_thread(
                    supergraph, served_at(settings, chosen), settings.data_dir / "graph"
                )
                gateway = GatewayProcess(path, port=settings.gateway_port, host=settings.host)
                await gateway.start()
                parts.append(Part("the gateway", asyncio.ensure_future(gateway.crashed())))
            pids = " ".join(map(str, running.pids))
            print(f"INCAR hub on {settings.base_url} ({count} workers: {pids})", flush=True)
            if gateway is not None:
                print(f"subgraphs on {settings.subgraphs_url}/graphql/<name>", flush=True)
                print(f"GraphQL and GraphiQL on {gateway.url}", flush=True)
            failed = await _until_stopped(stop, parts)
        finally:
            # In the order they depend on each other: the gateway on the subgraphs, the
            # subgraphs on this process's runtime.
            if gateway is not None:
                await gateway.stop()
            if graph_srv is not None:
                graph_srv.should_exit = True
                await asyncio.gather(*(p.done for p in parts if p.name == "the subgraphs"))
            if running is not None:
                await running.stop()
            await _close(hub, runtime, verifier)
    return 1 if failed else 0


async def _close(
    hub: Hub | None, runtime: Runtime | None, verifier: AccessTokenVerifier | None
) -> None:
    if hub is not None:
        await hub.callers.stop_following()
        await hub.close()
    if runtime is not None:
        await runtime.close()
    if verifier is not None:
        await verifier.aclose()


@contextlib.contextmanager
def _signalled() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM, for the life of the block."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _until_stopped(stop: asyncio.Event, parts: Sequence[Part]) -> bool:
    """Waits for a stop signal or for a part to stop by itself (reported; then True)."""
    waiter = asyncio.ensure_future(stop.wait())
    finished, _ = await asyncio.wait(
        [waiter, *(p.done for p in parts)], return_when=asyncio.FIRST_COMPLETED
    )
    failed = False
    for part in parts:
        if part.done in finished:
            failed = True
            detail = _why(part.done)
            log.error("%s stopped by itself (%s): stopping the platform", part.name, detail)
            print(f"incar: {part.name} stopped by itself ({detail}); stopping", flush=True)
    waiter.cancel()
    return failed


def _why(done: asyncio.Future[Any]) -> str:
    if done.cancelled():
        return "cancelled"
    problem = done.exception()
    if problem is not None:
        return f"{type(problem).__name__}: {problem}"
    result = done.result()
    return f"exit status {result}" if isinstance(result, int) else "it ended"


async def serve_subgraph(settings: Settings, name: str, *, port: int) -> int:
    """One subgraph alone (the distributed deployment runs each as its own service), until
    SIGINT/SIGTERM (exit status 0) or until its server stops by itself (1)."""
    chosen = subgraphs().get(name)
    if chosen is None:
        raise ValueError(f"no subgraph {name!r}; there are: {', '.join(subgraphs())}")
    runtime = Runtime.create(settings)
    await runtime.start()
    hub = create_hub(runtime)
    verifier = AccessTokenVerifier.from_settings(settings) if settings.oidc_issuers else None
    server = subgraphs_server(runtime, hub, [chosen], port=port, verifier=verifier)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    failed = False
    try:
        part = await started(server, f"the {name} subgraph")
        print(f"subgraph {name} on http://{settings.host}:{port}{chosen.path}", flush=True)
        waiter = asyncio.ensure_future(stop.wait())
        finished, _ = await asyncio.wait([waiter, part.done], return_when=asyncio.FIRST_COMPLETED)
        failed = part.done in finished
        waiter.cancel()
        server.should_exit = True
        await asyncio.gather(part.done, return_exceptions=True)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await hub.close()
        if verifier is not None:
            await verifier.aclose()
        await runtime.close()
    return 1 if failed else 0
