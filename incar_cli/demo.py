"""The demo: the hub and simulated CPOs and eMSPs in one process, on the real Helsinki map.

Simulated parties are onboarded like any platform (token A, credentials handshake over HTTP).
A party left connected by an earlier run is retired first, and the simulated clock starts
after the newest object the hub holds, so a restarted demo never pushes stale objects.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import func
from sqlmodel import col, select

from incar.db import Database
from incar.server import hub_server
from incar.settings import Settings
from incar_cli.demo_graph import demo_graph, instructions
from incar_cli.demo_traffic import keep_simulated_time, open_map, query, traffic_lines
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.types import ConnectionStatus, Role
from simulator.cli import simulation_from
from simulator.emsp import SimEmsp
from simulator.platform import SimParty
from simulator.simulation import Simulation
from subgraphs.locations.models import Location

log = logging.getLogger("incar.demo")

SIMULATED = "Simulated"


def party_ids(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{n}" for n in range(1, count + 1)]


async def onboard_simulated(
    db: Database, *, country_code: str, cpos: int, emsps: int
) -> list[SimParty]:
    """Token A for each simulated party, retiring what an earlier run left connected."""
    wanted = [(Role.CPO, pid) for pid in party_ids("CP", cpos)] + [
        (Role.EMSP, pid) for pid in party_ids("EM", emsps)
    ]
    parties = []
    async with db.transaction() as tx:
        for role, pid in wanted:
            name = f"{SIMULATED} {role} {country_code}*{pid}"
            owner = await platforms.owner_of(tx, ref=PartyRef.of(country_code, pid))
            if owner is not None and owner.status not in (
                ConnectionStatus.PLANNED,
                ConnectionStatus.SUSPENDED,
            ):
                if not owner.name.startswith(SIMULATED):
                    raise platforms.PartyTaken(
                        f"{country_code}*{pid} belongs to the real platform {owner.name!r}"
                    )
                await platforms.retire(tx, platform=owner)
            _, token = await platforms.onboard(
                tx, name=name, role=role, country_code=country_code, party_id=pid
            )
            kind: Literal["CPO", "EMSP"] = "CPO" if role is Role.CPO else "EMSP"
            parties.append(SimParty(kind, country_code, pid, name, token))
    return parties


async def clock_start(db: Database) -> datetime:
    async with db.transaction() as tx:
        newest = (await tx.execute(select(func.max(col(Location.last_updated))))).scalar()
    now = datetime.now(UTC)
    return max(now, newest + timedelta(seconds=1)) if newest else now


PROGRESS = (
    ("status_patches", "EVSE status changes"),
    ("sessions_started", "sessions"),
    ("cdrs_posted", "CDRs"),
    ("command_results_sent", "command results"),
    ("push_failed", "failed pushes"),
)


def progress_line(simulation: Simulation) -> str:
    """One line of what the simulated parties did so far, so a watcher sees traffic flow."""
    totals: Counter[str] = Counter()
    for platform in simulation.platforms:
        totals.update(platform.stats)
    done = ", ".join(f"{totals[key]} {label}" for key, label in PROGRESS)
    return f"  {simulation.clock.now():%Y-%m-%d %H:%M} simulated: {done}"


async def report_progress(simulation: Simulation, settings: Settings, every: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        due += every  # on the beat: asking for the jam's route takes a moment
        await asyncio.sleep(max(0.0, due - loop.time()))
        print(progress_line(simulation), flush=True)
        for line in await traffic_lines(simulation, settings):
            print(line, flush=True)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    from ocpi_adapter.app import create_app

    db = Database(settings.database_url)
    try:
        parties = await onboard_simulated(
            db, country_code=args.country, cpos=args.cpos, emsps=args.emsps
        )
        start = await clock_start(db)
    finally:
        await db.dispose()
    simulation = simulation_from(
        args,
        settings.versions_url,
        parties,
        start_time=start,
        subgraphs_url=settings.subgraphs_url,
    )
    keep_simulated_time(settings, simulation.clock)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((settings.host, settings.port))
    # The hub keeps the simulated time: the parties' timestamps run ahead of the wall clock by
    # design, and the hub bounds last_updated by its own clock (INCAR_MAX_CLOCK_SKEW).
    app = create_app(settings, clock=simulation.clock.peek)
    server = hub_server(app, settings)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            return 1
        await asyncio.sleep(0.05)
    print(f"INCAR hub on {settings.base_url} (versions: {settings.versions_url})", flush=True)
    try:
        if simulation.traffic is not None:
            # The probe cars' first route would open the map (or build it, seconds of work
            # in this process) while the parties push: done before they start instead.
            await open_map(settings)
        await simulation.start()
        for platform in simulation.platforms:
            print(
                f"  {platform.party.role:<4} {platform.me} at {platform.versions_url}", flush=True
            )
        emsps = [p for p in simulation.platforms if isinstance(p, SimEmsp)]
        async with demo_graph(
            settings, app.state.hub, emsps, settings.data_dir / "demo-graph"
        ) as drivers:
            print(instructions(settings, drivers), flush=True)
            if simulation.traffic is not None and simulation.traffic.jam is not None:
                print(query(simulation.traffic.jam), flush=True)
            print("demo running; Ctrl-C stops it", flush=True)
            reporter = asyncio.create_task(report_progress(simulation, settings))
            try:
                if args.duration is None:
                    await simulation.run_forever()
                else:
                    await simulation.run_for(args.duration)
            finally:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
            for line in await traffic_lines(simulation, settings):
                print(line.replace("  traffic:", "  traffic at the end:", 1), flush=True)
    finally:
        with contextlib.suppress(Exception):
            await simulation.stop()
        server.should_exit = True
        await serving
    return 0
