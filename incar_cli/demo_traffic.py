"""The demo's live traffic: the simulator's probe cars report to the routing subgraph's probe
endpoint, and the demo says what the live traffic store holds and what a route through the
jam takes now against its usual time.

Live traffic keeps the simulated time, as the demo's hub does: a probe trace's fixes carry
the simulated clock's times, and a measured speed stands for its time to live (15 minutes)
of simulated time, so at the demo's speed a jam lasts as long as cars keep reporting it.
"""

from __future__ import annotations

from incar.settings import Settings
from simulator.clock import SimClock
from simulator.driving import Jam
from simulator.simulation import Simulation
from subgraphs.routing.engine.running import NotReady, Unavailable, engine_for


def keep_simulated_time(settings: Settings, clock: SimClock) -> None:
    """The process's live traffic store reads the simulated clock (what is recent, what has
    expired, what is in the future)."""
    engine_for(settings).pool.traffic.clock = lambda: clock.peek().timestamp()


async def open_map(settings: Settings) -> None:
    """Opens the active map for routing, building the default one if there is none; a map
    that cannot be opened is said in the traffic lines (and the graph's errors) later."""
    await engine_for(settings).start()


def live_store(settings: Settings) -> str:
    """What the live traffic store holds for the active map, in a few words."""
    try:
        pool = engine_for(settings).ready()
    except NotReady:
        return "the map is not open yet"
    except Unavailable as failure:
        return f"no map: {failure}"
    live = pool.traffic.current(pool.manifest.id)
    if not live:
        return "no live speeds"
    slowest = min(live.values(), key=lambda speed: speed.speed_kmh)
    reports = sum(speed.reports for speed in live.values())
    return (
        f"{len(live)} road segments with live speeds from {reports} reports, slowest "
        f"{slowest.speed_kmh:.0f} km/h (OSM way {slowest.way_id})"
    )


async def traffic_lines(simulation: Simulation, settings: Settings) -> list[str]:
    """The probe cars' counts, the store, and the route through the jam (where one is)."""
    fleet = simulation.fleet
    if fleet is None:
        return []
    stats = fleet.stats
    lines = [
        f"  traffic: {stats['trips']} car trips, {stats['traces_accepted']} traces accepted, "
        f"{stats['traces_refused']} refused, {stats['speeds_kept']} speeds kept; "
        f"live now: {live_store(settings)}"
    ]
    eta = await fleet.jam_eta()
    if eta is not None:
        now, usual = eta
        lines.append(
            f"  route through the jam: {now:.0f} s on live traffic, {usual:.0f} s usual "
            f"({now / usual:.1f}x)"
        )
    return lines


def query(jam: Jam) -> str:
    """The GraphQL query that shows the jam: the same trip now and a week ahead."""
    trip = (
        f"from: {{coordinates: {{latitude: {jam.start[0]}, longitude: {jam.start[1]}}}}}, "
        f"to: {{coordinates: {{latitude: {jam.end[0]}, longitude: {jam.end[1]}}}}}"
    )
    return (
        "Live traffic (probe cars crawl through a jam; compare with departAt a week ahead):\n"
        f"  {{ routes({trip})\n"
        "      { routes { durationSeconds distanceMeters directions { streetNames } } } }\n"
    )
