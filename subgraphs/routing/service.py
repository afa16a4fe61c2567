"""Routes and nearest stations by travel time: the routing subgraph's domain functions.

The engine (Valhalla, on the route pool's workers) finds the ways; this module asks it, reads
its answers into typed values, adds what it does not know (money, CO2, local times) and orders
the result by the caller's criterion. Valhalla returns its best route by its own internal
``cost`` first and its alternates after, which is no order by duration, money or CO2:
the order here is ours. Bad input is refused with a ``RoutingError`` before any route is
computed, and an answer the engine could not give is never filled in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from incar.maps import MapManifest
from subgraphs.common.errors import Code
from subgraphs.routing import factors, geometry, languages
from subgraphs.routing.engine.pool import RouteError, RoutePool, RoutingBusy
from subgraphs.routing.factors import Mode, TripFootprint
from subgraphs.routing.regions import Region, region_of
from subgraphs.routing.tariffs import DestinationTariffs

#: Valhalla's costing model per mode: both cars drive the same roads (their difference is
#: what the trip costs and emits, not the way).
COSTING = {
    Mode.ELECTRIC_CAR: "auto",
    Mode.COMBUSTION_CAR: "auto",
    Mode.BICYCLE: "bicycle",
    Mode.WALKING: "pedestrian",
}
#: Valhalla's own limit (service_limits.max_alternates in its default configuration).
MAX_ALTERNATIVES = 2
#: How far from now a trip may start or end: routes for yesterday's trip or next year's
#: holiday, not for a typo's year 2206 (nothing about the roads is known that far off).
MAX_PAST = timedelta(days=1)
MAX_AHEAD = timedelta(days=366)
#: How far from a point the engine looks for a road to start or end on, metres: Valhalla's
#: own default (35 km) would route a point in a lake or on a glacier from a road kilometres
#: away, a made-up route; past this it is NO_ROUTE. A car park's far corner is well inside.
SEARCH_CUTOFF_M = 1000
MAX_STATIONS = 50
#: A departure this close to now is "now" for Valhalla (its date_time type 0), the one it
#: reads live speeds for in full (docs/routing.md, "Traffic", on why not a local time).
NOW_WITHIN = timedelta(minutes=5)
MAX_CANDIDATES = 100


class Criterion(StrEnum):
    DURATION = "DURATION"
    COST = "COST"
    CO2 = "CO2"


class RoutingError(Exception):
    """A request the routing subgraph refuses or cannot answer; ``code`` is the graph's."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Point:
    lat: float
    lon: float

    def check(self, what: str) -> None:
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise RoutingError(
                Code.BAD_USER_INPUT, f"{what}: latitude within -90..90, longitude within -180..180"
            )

    def valhalla(self, *, cutoff: bool = True) -> dict[str, float]:
        place = {"lat": self.lat, "lon": self.lon}
        return {**place, "search_cutoff": SEARCH_CUTOFF_M} if cutoff else place


@dataclass(frozen=True, slots=True)
class RouteQuery:
    origin: Point
    destination: Point
    modes: tuple[Mode, ...] = (Mode.ELECTRIC_CAR,)
    depart_at: datetime | None = None
    arrive_by: datetime | None = None
    optimize_for: Criterion = Criterion.DURATION
    alternatives: int = 0
    language: str = languages.DEFAULT
    #: The tariffs of the charger the route goes to, which price an electric car's energy
    #: (``tariffs``); None: the trip does not end at a charger, and the default price is used.
    destination_tariffs: DestinationTariffs | None = None
    #: Whether to have Valhalla write the directions: they are most of its time on a city
    #: route (bench/README.md), so a caller that shows none asks for none.
    directions: bool = True


@dataclass(frozen=True, slots=True)
class Maneuver:
    instruction: str
    kind: int  # Valhalla's maneuver type (its numbering: 1 start, 4 destination, ...)
    distance_m: float
    duration_s: float
    street_names: tuple[str, ...]
    begin_shape_index: int


@dataclass(frozen=True, slots=True)
class PlannedRoute:
    mode: Mode
    departure: datetime
    arrival: datetime
    duration_s: float
    distance_m: float
    footprint: TripFootprint
    polyline6: str
    maneuvers: tuple[Maneuver, ...]
    language: str
    #: 0 for the route Valhalla gave first, then its alternates in its order.
    engine_rank: int


@dataclass(frozen=True, slots=True)
class RoutePlan:
    routes: list[PlannedRoute]
    region: Region
    manifest: MapManifest
    language: str


def order(routes: Sequence[PlannedRoute], criterion: Criterion) -> list[PlannedRoute]:
    """Best first by the criterion; ties by duration, then distance (the same way in two
    modes, as for both cars by duration, keeps the modes' order: the sort is stable)."""

    def key(route: PlannedRoute) -> tuple[float, ...]:
        if criterion is Criterion.COST:
            return (route.footprint.cost_eur, route.duration_s, route.distance_m)
        if criterion is Criterion.CO2:
            return (route.footprint.co2_g, route.duration_s, route.distance_m)
        return (route.duration_s, route.footprint.cost_eur, route.distance_m)

    return sorted(routes, key=key)


def check_times(
    depart_at: datetime | None, arrive_by: datetime | None, now: datetime
) -> tuple[datetime, bool]:
    """The trip's fixed time and whether it is the arrival; refuses both, naive or absurd."""
    if depart_at is not None and arrive_by is not None:
        raise RoutingError(Code.BAD_USER_INPUT, "give departAt or arriveBy, not both")
    given = arrive_by if arrive_by is not None else depart_at
    name = "arriveBy" if arrive_by is not None else "departAt"
    if given is None:
        return now.replace(microsecond=0), False
    if given.tzinfo is None or given.utcoffset() is None:
        raise RoutingError(
            Code.BAD_USER_INPUT, f"{name}: an ISO 8601 time with an offset (Z or +02:00)"
        )
    if not (now - MAX_PAST <= given <= now + MAX_AHEAD):
        raise RoutingError(
            Code.BAD_USER_INPUT,
            f"{name}: from {MAX_PAST.days} day before now to {MAX_AHEAD.days} days ahead",
        )
    return given, arrive_by is not None


def check_modes(modes: Sequence[Mode]) -> tuple[Mode, ...]:
    if not modes:
        raise RoutingError(Code.BAD_USER_INPUT, "modes: at least one")
    if len(set(modes)) != len(modes):
        raise RoutingError(Code.BAD_USER_INPUT, "modes: each at most once")
    return tuple(modes)


def resolve_language(tag: str) -> str:
    try:
        return languages.resolve(tag)
    except languages.UnsupportedLanguage as problem:
        raise RoutingError(Code.BAD_USER_INPUT, str(problem)) from None


def _on_map(manifest: MapManifest, point: Point, what: str) -> None:
    point.check(what)
    if not manifest.contains(point.lat, point.lon):
        min_lon, min_lat, max_lon, max_lat = manifest.bbox
        raise RoutingError(
            Code.OFF_MAP,
            f"{what}: ({point.lat}, {point.lon}) is off the map of {manifest.region} "
            f"(latitude {min_lat}..{max_lat}, longitude {min_lon}..{max_lon})",
        )


def engine_zone(manifest: MapManifest) -> ZoneInfo:
    """The zone Valhalla reads a date_time value in: the one its tiles give the roads (the
    map's, ``build``), or UTC, its default, for tiles built without zones. Either way the
    value is the moment itself, so live traffic fades from the true "now" (docs/routing.md,
    "Which routes see it")."""
    return ZoneInfo(manifest.time_zone or "UTC")


def _local(moment: datetime, zone: ZoneInfo) -> str:
    """Valhalla's date_time value: wall-clock time in the engine's zone, to the minute."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _request(
    costing: str,
    query: RouteQuery,
    *,
    language: str,
    moment: datetime,
    arriving: bool,
    zone: ZoneInfo,
    now: datetime,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "locations": [query.origin.valhalla(), query.destination.valhalla()],
        "costing": costing,
        "units": "kilometers",
        "language": language,
        "alternates": query.alternatives,
    }
    if not query.directions:
        request["directions_type"] = "none"
    if arriving and query.alternatives:
        # Valhalla's arrive-by search (date_time type 2) runs its time-dependent reverse A*,
        # which finds no alternates (tests/routing/test_routes.py shows it): with
        # alternatives asked, the bidirectional search runs time-invariant at the arrival
        # time (type 3), and each route leaves its own duration before the arrival.
        request["date_time"] = {"type": 3, "value": _local(moment, zone)}
    elif arriving:
        request["date_time"] = {"type": 2, "value": _local(moment, zone)}
    else:
        if abs(moment - now) <= NOW_WITHIN:
            request["date_time"] = {"type": 0}
        else:
            request["date_time"] = {"type": 1, "value": _local(moment, zone)}
        if query.alternatives:
            # Depart-at runs the forward time-dependent A*, which finds no alternates either;
            # Valhalla's own switch runs the bidirectional one, whose alternates it gives.
            request["prioritize_bidirectional"] = True
    return request


def _routes_of(
    answer: dict[str, Any],
    mode: Mode,
    *,
    moment: datetime,
    arriving: bool,
    region: Region,
    tariffs: DestinationTariffs | None,
) -> list[PlannedRoute]:
    trips = [answer["trip"]] + [alternate["trip"] for alternate in answer.get("alternates", [])]
    found = []
    for rank, trip in enumerate(trips):
        summary = trip["summary"]
        duration = float(summary["time"])
        distance_km = float(summary["length"])
        legs = trip["legs"]
        shapes = [str(leg["shape"]) for leg in legs]
        departure = moment - timedelta(seconds=duration) if arriving else moment
        arrival = departure + timedelta(seconds=duration)
        electricity = (
            tariffs.price(arrival, factors.ev_energy_kwh(distance_km))
            if tariffs is not None and mode is Mode.ELECTRIC_CAR
            else None
        )
        found.append(
            PlannedRoute(
                mode=mode,
                departure=departure.astimezone(region.zone),
                arrival=arrival.astimezone(region.zone),
                duration_s=duration,
                distance_m=distance_km * 1000,
                footprint=factors.footprint(
                    mode, distance_km, country=region.country, electricity=electricity
                ),
                # One leg (two places): Valhalla's own string, decoded only for GeoJSON.
                polyline6=shapes[0]
                if len(shapes) == 1
                else geometry.encode(geometry.joined(shapes)),
                maneuvers=tuple(
                    Maneuver(
                        instruction=str(step.get("instruction", "")),
                        kind=int(step.get("type", 0)),
                        distance_m=float(step.get("length", 0.0)) * 1000,
                        duration_s=float(step.get("time", 0.0)),
                        street_names=tuple(step.get("street_names", ())),
                        begin_shape_index=int(step.get("begin_shape_index", 0)),
                    )
                    for leg in legs
                    for step in leg.get("maneuvers", ())
                ),
                language=str(trip.get("language", "")),
                engine_rank=rank,
            )
        )
    return found


def engine_failure(failure: RouteError | RoutingBusy) -> RoutingError:
    """The graph's error for what the engine said: no way (its 1xx location and 4xx path
    errors, e.g. 171 no road near a point, 442 no path), or busy."""
    if isinstance(failure, RoutingBusy):
        return RoutingError(Code.ROUTING_BUSY, f"{failure}: ask again shortly")
    return RoutingError(Code.NO_ROUTE, f"no route: {failure.message}")


async def _ask(pool: RoutePool, request: dict[str, Any], *, matrix: bool = False) -> dict[str, Any]:
    try:
        return await (pool.matrix(request) if matrix else pool.route(request))
    except (RouteError, RoutingBusy) as failure:
        raise engine_failure(failure) from None


@dataclass(frozen=True, slots=True)
class Checked:
    modes: tuple[Mode, ...]
    moment: datetime
    arriving: bool
    language: str


def check(query: RouteQuery, *, now: datetime) -> Checked:
    """Everything about a route query that needs no map; RoutingError if it is bad."""
    modes = check_modes(query.modes)
    if not (0 <= query.alternatives <= MAX_ALTERNATIVES):
        raise RoutingError(
            Code.BAD_USER_INPUT, f"alternatives: from 0 to {MAX_ALTERNATIVES} per mode"
        )
    moment, arriving = check_times(query.depart_at, query.arrive_by, now)
    return Checked(modes, moment, arriving, resolve_language(query.language))


async def plan(pool: RoutePool, query: RouteQuery, *, now: datetime) -> RoutePlan:
    """The routes of every mode asked for, with their alternatives, best first."""
    checked = check(query, now=now)
    modes, moment, arriving, language = (
        checked.modes,
        checked.moment,
        checked.arriving,
        checked.language,
    )
    manifest = await pool.active_map()
    _on_map(manifest, query.origin, "from")
    _on_map(manifest, query.destination, "to")
    if query.origin == query.destination:
        raise RoutingError(Code.BAD_USER_INPUT, "from and to are the same point")
    region = region_of(manifest.bbox)
    pool.traffic.current(manifest.id)  # clears expired live speeds from the engine's extract
    costings = list(dict.fromkeys(COSTING[mode] for mode in modes))
    answers = await asyncio.gather(
        *(
            _ask(
                pool,
                _request(
                    costing,
                    query,
                    language=language,
                    moment=moment,
                    arriving=arriving,
                    zone=engine_zone(manifest),
                    now=now,
                ),
            )
            for costing in costings
        )
    )
    by_costing = dict(zip(costings, answers, strict=True))
    routes = [
        route
        for mode in modes
        for route in _routes_of(
            by_costing[COSTING[mode]],
            mode,
            moment=moment,
            arriving=arriving,
            region=region,
            tariffs=query.destination_tariffs,
        )
    ]
    return RoutePlan(
        routes=order(routes, query.optimize_for),
        region=region,
        manifest=manifest,
        language=language,
    )


@dataclass(frozen=True, slots=True)
class Candidate[T]:
    point: Point
    straight_m: float
    item: T


@dataclass(frozen=True, slots=True)
class Reached[T]:
    candidate: Candidate[T]
    duration_s: float
    distance_m: float


def check_station_mode(mode: Mode) -> None:
    if mode is Mode.COMBUSTION_CAR:
        raise RoutingError(
            Code.BAD_USER_INPUT, "mode: a combustion car does not charge; ELECTRIC_CAR, ..."
        )


async def nearest[T](
    pool: RoutePool,
    origin: Point,
    candidates: Sequence[Candidate[T]],
    *,
    mode: Mode,
    limit: int,
) -> list[Reached[T]]:
    """The candidates reachable from ``origin``, nearest by travel time first (a
    one-to-many matrix), at most ``limit``; ties by distance, then straight-line distance."""
    manifest = await pool.active_map()
    _on_map(manifest, origin, "from")
    on_map = [c for c in candidates if manifest.contains(c.point.lat, c.point.lon)]
    if not on_map:
        return []
    answer = await _ask(
        pool,
        {
            "sources": [origin.valhalla()],
            # A station's own point is the CPO's: one a little off the roads must not fail
            # the whole matrix (Valhalla refuses it all for one unplaceable target).
            "targets": [c.point.valhalla(cutoff=False) for c in on_map],
            "costing": COSTING[mode],
            "units": "kilometers",
        },
        matrix=True,
    )
    reached = []
    for cell in answer["sources_to_targets"][0]:
        if cell.get("time") is None or cell.get("distance") is None:
            continue  # no way to it
        candidate = on_map[int(cell["to_index"])]
        reached.append(Reached(candidate, float(cell["time"]), float(cell["distance"]) * 1000))
    reached.sort(key=lambda r: (r.duration_s, r.distance_m, r.candidate.straight_m))
    return reached[:limit]
