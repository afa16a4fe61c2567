"""``incar simulate``: options and the run loop; the incar CLI onboards the parties first."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path

from simulator.driving import Jam
from simulator.ocpi_client import OcpiClientError
from simulator.platform import SimParty
from simulator.simulation import Simulation
from simulator.traffic import TrafficOptions

#: The demo's probe cars and its jam: Pohjoisesplanadi westbound, from the Market Square to
#: Mannerheimintie (523 m, 81 s by the engine's usual speeds), at walking pace.
DEMO_PROBE_CARS = 4
DEMO_JAM = Jam((60.1679, 24.9520), (60.1676, 24.9425), 6.0)


def _jam(text: str) -> Jam | None:
    if text.strip().lower() == "none":
        return None
    try:
        return Jam.parse(text)
    except ValueError as bad:
        raise argparse.ArgumentTypeError(str(bad)) from None


def _rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < rate <= 100:
        raise argparse.ArgumentTypeError("requests per second: more than 0, at most 100")
    return rate


def _cars(text: str) -> int:
    try:
        cars = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= cars <= 1000:
        raise argparse.ArgumentTypeError("probe cars: 0 to 1000")
    return cars


def add_arguments(parser: argparse.ArgumentParser, *, demo: bool = False) -> None:
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
    cars = parser.add_argument_group("probe cars (floating car data, docs/routing.md: Traffic)")
    cars.add_argument(
        "--probe-cars",
        type=_cars,
        default=DEMO_PROBE_CARS if demo else 0,
        help="simulated cars reporting GPS traces to the probe endpoint (default "
        f"{DEMO_PROBE_CARS if demo else 0}; 0 sends none)",
    )
    cars.add_argument(
        "--probe-rate",
        type=_rate,
        default=2.0,
        help="their requests (routes and traces) per real second, at most (default 2)",
    )
    cars.add_argument(
        "--jam",
        type=_jam,
        default=DEMO_JAM if demo else None,
        metavar="LAT,LON,LAT,LON,KMH",
        help="a slow road: half the trips drive the usual route from the first point to the "
        f"second at KMH (default {DEMO_JAM if demo else 'none'}; none for no jam)",
    )
    cars.add_argument(
        "--routing-url", help="the routing graph (default: the configured subgraphs' one)"
    )
    cars.add_argument(
        "--probes-url", help="the probe endpoint (default: the configured subgraphs' one)"
    )


def simulation_from(
    args: argparse.Namespace,
    hub_versions_url: str,
    parties: list[SimParty],
    *,
    start_time: datetime | None = None,
    subgraphs_url: str | None = None,
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
        traffic=traffic_from(args, subgraphs_url),
    )


def traffic_from(args: argparse.Namespace, subgraphs_url: str | None) -> TrafficOptions | None:
    """The probe cars the options ask for; None for none."""
    if args.probe_cars == 0:
        return None
    served = subgraphs_url or _configured_subgraphs_url()
    return TrafficOptions(
        cars=args.probe_cars,
        routing_url=args.routing_url or f"{served}/graphql/routing",
        probes_url=args.probes_url or f"{served}/routing/probes",
        jam=args.jam,
        rate=args.probe_rate,
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


def _configured_subgraphs_url() -> str:
    from incar.settings import Settings

    return Settings.from_env().subgraphs_url


def _configured_hub_url() -> str:
    from incar.settings import Settings

    return Settings.from_env().versions_url
