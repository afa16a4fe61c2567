"""``incar simulate``: options and the run loop; the incar CLI onboards the parties first."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

from simulator.ocpi_client import OcpiClientError
from simulator.platform import SimParty
from simulator.simulation import Simulation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("simulation")
    group.add_argument(
        "--hub-versions-url",
        help="the hub's OCPI versions URL (default: the configured hub's /ocpi/versions)",
    )
    group.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    group.add_argument(
        "--speed",
        type=float,
        default=60.0,
        help="simulated seconds per real second (default 60)",
    )
    group.add_argument(
        "--stations-per-cpo", type=int, default=10, help="locations per CPO (default 10)"
    )
    group.add_argument(
        "--sessions-per-evse-per-day",
        type=float,
        default=3.0,
        help="mean driver arrivals per EVSE per simulated day (default 3)",
    )
    group.add_argument(
        "--duration",
        type=float,
        default=None,
        help="real seconds to run (default: until interrupted)",
    )
    group.add_argument(
        "--sim-host", default="127.0.0.1", help="address the simulated parties listen on"
    )
    group.add_argument(
        "--data-dir", type=Path, default=None, help="cache directory (default INCAR_DATA_DIR)"
    )


def simulation_from(
    args: argparse.Namespace,
    hub_versions_url: str,
    parties: list[SimParty],
    *,
    start_time: datetime | None = None,
) -> Simulation:
    """The simulation the options of ``add_arguments`` describe (incar simulate and demo)."""
    return Simulation(
        hub_versions_url,
        parties,
        seed=args.seed,
        speed=args.speed,
        stations_per_cpo=args.stations_per_cpo,
        host=args.sim_host,
        data_dir=args.data_dir,
        sessions_per_evse_per_day=args.sessions_per_evse_per_day,
        start_time=start_time,
    )


async def run(args: argparse.Namespace, parties: list[SimParty]) -> int:
    hub_url = args.hub_versions_url or _configured_hub_url()
    simulation = simulation_from(args, hub_url, parties)
    try:
        await simulation.start()
    except (OcpiClientError, OSError) as exc:
        print(f"simulation could not start: {exc}", file=sys.stderr)
        return 1
    for platform in simulation.platforms:
        print(f"{platform.party.role} {platform.me} serving {platform.versions_url}")
    try:
        if args.duration is None:
            await simulation.run_forever()
        else:
            await simulation.run_for(args.duration)
    except asyncio.CancelledError:
        pass
    finally:
        print(json.dumps(simulation.stats(), indent=2))
        await simulation.stop()
    return 0


def _configured_hub_url() -> str:
    from incar.settings import Settings

    return Settings.from_env().versions_url
