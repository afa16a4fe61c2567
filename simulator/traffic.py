"""Probe cars: simulated cars that drive between the map's places along the routes the routing
engine gives, and report where they drove to the platform's probe endpoint, as floating car
data (``POST /routing/probes``, its JSON form).

Each car belongs to a simulated eMSP (its drivers' app reports for them) and sends with that
eMSP's OCPI credentials token. A car asks the routing graph (GraphQL, over HTTP) for a route
to its next place, drives it in simulated time, records a GPS fix every few seconds
(``driving``) and sends them in batches as it goes, each once the simulated clock has passed
its last fix. With a jam configured, some trips cross it and crawl through at its speed.
Requests (routes and traces together) are paced to a bound per real second, so a fast clock
does not flood the platform; a car that waits for its turn sends an older trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from simulator import driving
from simulator.clock import SimClock
from simulator.driving import Fix, Jam, LatLon

log = logging.getLogger(__name__)

#: The routing graph's route, with what it takes to drive it: the points and each step's
#: travel time and first point.
ROUTE = """
query Drive($from: PlaceInput!, $to: PlaceInput!, $departAt: DateTime) {
  routes(from: $from, to: $to, departAt: $departAt) {
    routes { durationSeconds geometry { geoJson } directions { durationSeconds beginShapeIndex } }
  }
}
"""
#: A day ahead is beyond any live speed: the engine's usual roads.
USUAL_AHEAD = timedelta(days=7)
#: How long a car waits before asking again while the routing engine prepares its map.
NOT_READY_WAIT_S = 1.0


@dataclass(frozen=True, slots=True)
class TrafficOptions:
    """What the probe cars do; ``cars`` 0 is none (and nothing is sent)."""

    cars: int
    routing_url: str  # the routing graph's GraphQL endpoint
    probes_url: str  # the probe endpoint
    jam: Jam | None = None
    #: The share of trips that cross the jam (the others go from place to place).
    jam_share: float = 0.5
    #: Requests (routes and traces together) per real second, at most.
    rate: float = 2.0
    #: Simulated seconds of driving per trace.
    batch_s: float = 120.0
    sampling_s: tuple[float, float] = driving.SAMPLING_S
    noise_m: float = driving.NOISE_M
    #: The Authorization header to send traces with; None: each car's eMSP's credentials.
    authorization: str | None = None


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose cars: a name for their vehicle ids and the Authorization they report with."""

    name: str
    authorization: str


class Pace:
    """At most ``per_second`` turns a real second, handed out in order."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("the request rate must be positive")
        self.gap = 1.0 / per_second
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(now, self._next) + self.gap


class RouteUnavailable(Exception):
    """The engine gave no route (no road near, no path); the message says why."""


def _place(point: LatLon) -> dict[str, Any]:
    return {"coordinates": {"latitude": point[0], "longitude": point[1]}}


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


class ProbeFleet:
    def __init__(
        self,
        options: TrafficOptions,
        *,
        clock: SimClock,
        places: Sequence[LatLon],
        owners: Sequence[Owner],
        seed: int,
    ) -> None:
        if options.cars < 0:
            raise ValueError("the number of probe cars must not be negative")
        if not places or not owners:
            raise ValueError("probe cars need places to drive between and an owner")
        self.options = options
        self.clock = clock
        self.places = list(places)
        self.owners = list(owners)
        self.seed = seed
        self.stats: Counter[str] = Counter()
        self.jam_shape: list[LatLon] | None = None
        self._pace = Pace(options.rate)
        self._http = httpx.AsyncClient(timeout=30.0)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for number in range(self.options.cars):
            owner = self.owners[number % len(self.owners)]
            vehicle = f"{owner.name}-car-{number + 1}"
            # Its own draws: the parties' OCPI behaviour draws the same with cars or without.
            rng = random.Random(f"{self.seed}:probe-car:{number}")
            self._tasks.append(asyncio.create_task(self._drive(vehicle, owner, rng)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self._http.aclose()

    async def _graph(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        await self._pace.turn()
        answer = await self._http.post(
            self.options.routing_url, json={"query": query, "variables": variables}
        )
        body: dict[str, Any] = answer.json()
        return body

    async def route(
        self, origin: LatLon, destination: LatLon, *, depart_at: datetime | None = None
    ) -> dict[str, Any]:
        """The engine's best route (its points, steps and duration); waits while the engine
        prepares its map or the graph is not up yet; RouteUnavailable if there is none."""
        variables: dict[str, Any] = {"from": _place(origin), "to": _place(destination)}
        if depart_at is not None:
            variables["departAt"] = stamp(depart_at)
        while True:
            try:
                body = await self._graph(ROUTE, variables)
            except (httpx.TransportError, ValueError):
                await asyncio.sleep(NOT_READY_WAIT_S)  # not serving yet, or restarting
                continue
            errors = body.get("errors") or []
            codes = {e.get("extensions", {}).get("code") for e in errors}
            if "ROUTING_NOT_READY" in codes:
                await asyncio.sleep(NOT_READY_WAIT_S)
                continue
            self.stats["routes_asked"] += 1
            routes = ((body.get("data") or {}).get("routes") or {}).get("routes") or []
            if errors or not routes:
                message = errors[0].get("message") if errors else "no route"
                raise RouteUnavailable(str(message))
            best: dict[str, Any] = routes[0]
            return best

    @staticmethod
    def shape(route: dict[str, Any]) -> list[LatLon]:
        return [
            (float(lat), float(lon)) for lon, lat in route["geometry"]["geoJson"]["coordinates"]
        ]

    def _path(self, route: dict[str, Any]) -> list[Fix]:
        steps = [
            (int(s["beginShapeIndex"]), float(s["durationSeconds"])) for s in route["directions"]
        ]
        return driving.along_steps(self.shape(route), steps)

    async def _jam_shape(self, jam: Jam) -> list[LatLon]:
        """The jammed stretch: the usual route through it (asked once, for days ahead, so a
        jam the cars already reported does not move it)."""
        if self.jam_shape is None:
            route = await self.route(jam.start, jam.end, depart_at=self.clock.peek() + USUAL_AHEAD)
            self.jam_shape = self.shape(route)
        return self.jam_shape

    async def jam_eta(self) -> tuple[float, float] | None:
        """Through the jam's stretch: the route's duration now (on live traffic) and its
        usual one (days ahead), in seconds; None without a jam or a route."""
        jam = self.options.jam
        if jam is None:
            return None
        try:
            now = await self.route(jam.start, jam.end)
            usual = await self.route(jam.start, jam.end, depart_at=self.clock.peek() + USUAL_AHEAD)
        except RouteUnavailable:
            return None
        return float(now["durationSeconds"]), float(usual["durationSeconds"])

    async def _trip(self, here: LatLon, rng: random.Random) -> tuple[list[Fix], LatLon]:
        jam = self.options.jam
        if jam is not None and rng.random() < self.options.jam_share:
            stretch = await self._jam_shape(jam)
            to_jam = self._path(await self.route(here, jam.start))
            self.stats["jam_trips"] += 1
            return driving.then(to_jam, driving.at_speed(stretch, jam.kmh)), stretch[-1]
        there = rng.choice(self.places)
        return self._path(await self.route(here, there)), there

    async def _drive(self, vehicle: str, owner: Owner, rng: random.Random) -> None:
        here = rng.choice(self.places)
        while True:
            try:
                path, there = await self._trip(here, rng)
            except RouteUnavailable as nowhere:
                self.stats["routes_failed"] += 1
                log.debug("%s: no route: %s", vehicle, nowhere)
                here = rng.choice(self.places)  # towed elsewhere: try from another place
                await self.clock.sleep(60)
                continue
            self.stats["trips"] += 1
            await self._report(vehicle, owner, path, rng)
            here = there
            await self.clock.sleep(rng.uniform(60, 600))  # parked a while

    async def _report(
        self, vehicle: str, owner: Owner, path: list[Fix], rng: random.Random
    ) -> None:
        start = self.clock.now()
        recorded = driving.fixes(
            path, rng, sampling_s=self.options.sampling_s, noise_m=self.options.noise_m
        )
        for batch in driving.batches(recorded, self.options.batch_s):
            await self.clock.sleep_until(start + timedelta(seconds=batch[-1].t))
            await self._send(vehicle, owner, start, batch)

    async def _send(self, vehicle: str, owner: Owner, start: datetime, batch: list[Fix]) -> None:
        body = {
            "vehicle": vehicle,
            "points": [
                {
                    "lat": round(f.lat, 7),
                    "lon": round(f.lon, 7),
                    "time": stamp(start + timedelta(seconds=f.t)),
                }
                for f in batch
            ],
        }
        await self._pace.turn()
        self.stats["traces_sent"] += 1
        try:
            answer = await self._http.post(
                self.options.probes_url,
                json=body,
                headers={"Authorization": self.options.authorization or owner.authorization},
            )
        except httpx.TransportError as failure:
            self.stats["traces_failed"] += 1
            log.debug("%s: trace not sent: %s", vehicle, failure)
            return
        if answer.status_code == 202:
            report = answer.json()
            self.stats["traces_accepted"] += 1
            self.stats["edges_measured"] += int(report.get("edges", 0))
            self.stats["speeds_kept"] += int(report.get("kept", 0))
            return
        self.stats["traces_refused"] += 1
        with contextlib.suppress(ValueError):
            code = answer.json().get("code", answer.status_code)
            self.stats[f"refused {code}"] += 1
        log.info("%s: trace refused (%s): %s", vehicle, answer.status_code, answer.text[:200])
