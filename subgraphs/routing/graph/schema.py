"""The routing subgraph: routes between places by car, bicycle or on foot, and the stations
nearest by travel time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from subgraphs.common import roots
from subgraphs.common.app import federation_schema
from subgraphs.common.context import GraphContext
from subgraphs.common.errors import Code, bad_input, error
from subgraphs.locations import search as searching
from subgraphs.locations.graph.loaders import locations_of
from subgraphs.locations.graph.schema import StationFilter
from subgraphs.locations.service import child
from subgraphs.routing import languages, service
from subgraphs.routing.engine.pool import RoutePool
from subgraphs.routing.engine.running import NotReady, Unavailable, engine_for
from subgraphs.routing.graph.inputs import PlaceInput
from subgraphs.routing.graph.types import (
    Location,
    Route,
    RouteCriterion,
    RoutePlan,
    StationByTime,
    TravelMode,
)
from subgraphs.routing.service import Candidate, Point, RoutingError


@contextmanager
def _graph_errors() -> Iterator[None]:
    try:
        yield
    except RoutingError as problem:
        raise error(problem.code, problem.message) from None


def _pool(context: GraphContext) -> RoutePool:
    try:
        return engine_for(context.runtime.settings).ready()
    except NotReady as waiting:
        raise error(Code.ROUTING_NOT_READY, f"{waiting}: ask again shortly") from None
    except Unavailable as failure:
        raise error(Code.ROUTING_UNAVAILABLE, f"routing has no map: {failure}") from None


@strawberry.type(description=roots.QUERY)
class Query:
    @strawberry.field(
        description="Routes from one place to another by each mode asked for, with the "
        "engine's alternatives, ordered best first by `optimizeFor` (docs/routing.md)."
    )
    async def routes(
        self,
        info: Info[GraphContext, None],
        from_: Annotated[
            PlaceInput, strawberry.argument(name="from", description="Where the trip starts.")
        ],
        to: Annotated[PlaceInput, strawberry.argument(description="Where the trip ends.")],
        depart_at: Annotated[
            datetime | None,
            strawberry.argument(
                description="When to leave (ISO 8601 with an offset); now when neither this "
                "nor arriveBy is given."
            ),
        ] = None,
        arrive_by: Annotated[
            datetime | None,
            strawberry.argument(description="When to arrive (ISO 8601 with an offset)."),
        ] = None,
        modes: Annotated[
            list[TravelMode],
            strawberry.argument(description="The modes to route by, each at most once."),
        ] = [TravelMode.ELECTRIC_CAR],  # noqa: B006 (Strawberry copies a default per request)
        optimize_for: Annotated[
            RouteCriterion, strawberry.argument(description="What the order is by.")
        ] = RouteCriterion.DURATION,
        alternatives: Annotated[
            int,
            strawberry.argument(
                description=f"Alternative routes per mode besides the best, 0 to "
                f"{service.MAX_ALTERNATIVES}, where the engine finds them."
            ),
        ] = 0,
        language: Annotated[
            str,
            strawberry.argument(
                description="The directions' language (BCP 47, e.g. fi-FI or fi); see "
                "routingLanguages."
            ),
        ] = languages.DEFAULT,
    ) -> RoutePlan:
        context = info.context
        with _graph_errors():
            origin = await from_.point(context, "from")
            destination = await to.point(context, "to")
            query = service.RouteQuery(
                origin=origin,
                destination=destination,
                modes=tuple(mode.mode for mode in modes),
                depart_at=depart_at,
                arrive_by=arrive_by,
                optimize_for=service.Criterion(optimize_for.name),
                alternatives=alternatives,
                language=language,
                directions=_selects(info.selected_fields, "directions"),
            )
            # Checked before the engine is asked for, so bad input is refused even while
            # the map is being built.
            service.check(query, now=context.now())
            plan = await service.plan(_pool(context), query, now=context.now())
        return RoutePlan(
            routes=[Route.of(rank, route) for rank, route in enumerate(plan.routes, start=1)],
            optimized_for=optimize_for,
            map=plan.manifest.region,
            time_zone=plan.region.time_zone,
            country=plan.region.country,
            language=plan.language,
        )

    @strawberry.field(
        description="Charging stations nearest by travel time from a place (a one-to-many "
        "matrix over the stations nearest as the crow flies), with the station filters."
    )
    async def nearest_stations(
        self,
        info: Info[GraphContext, None],
        from_: Annotated[
            PlaceInput, strawberry.argument(name="from", description="Where the trip starts.")
        ],
        mode: Annotated[
            TravelMode, strawberry.argument(description="How to get there (not by petrol car).")
        ] = TravelMode.ELECTRIC_CAR,
        limit: Annotated[
            int,
            strawberry.argument(description=f"How many stations: 1 to {service.MAX_STATIONS}."),
        ] = 5,
        radius_meters: Annotated[
            float,
            strawberry.argument(
                description="Candidates lie within this straight-line distance (up to 100 km); "
                f"the {service.MAX_CANDIDATES} nearest of them are timed."
            ),
        ] = 20_000.0,
        filter: Annotated[
            StationFilter | None,
            strawberry.argument(description="What a station's EVSE must offer (availableNow...)."),
        ] = None,
    ) -> list[StationByTime]:
        context = info.context
        if not (1 <= limit <= service.MAX_STATIONS):
            raise bad_input(f"limit: from 1 to {service.MAX_STATIONS}")
        with _graph_errors():
            service.check_station_mode(mode.mode)
            origin = await from_.point(context, "from")
            try:
                async with context.runtime.db.transaction() as tx:
                    page = await searching.search(
                        tx,
                        near=searching.Near(origin.lat, origin.lon, radius_meters),
                        filters=filter.filters() if filter else searching.Filters(),
                        first=service.MAX_CANDIDATES,
                        now=context.now(),
                    )
                    docs = await locations_of(tx, [hit.location_pk for hit in page.hits])
            except searching.SearchError as problem:
                raise bad_input(str(problem)) from None
            candidates = []
            for hit in page.hits:
                doc = docs.get(hit.location_pk)
                if doc is None:
                    continue
                point = _station_point(doc.data, hit.evse_keys)
                if point is not None:
                    candidates.append(Candidate(point, hit.distance_m, (doc, hit.evse_keys)))
            reached = await service.nearest(
                _pool(context), origin, candidates, mode=mode.mode, limit=limit
            )
        return [
            StationByTime(
                location=Location(
                    country_code=doc.country_code,
                    party_id=doc.party_id,
                    id=strawberry.ID(str(doc.data["id"])),
                ),
                evse_uids=[_uid(doc.data, key) for key in keys],
                duration_seconds=round(r.duration_s, 1),
                distance_meters=round(r.distance_m, 1),
                straight_line_meters=round(r.candidate.straight_m, 1),
            )
            for r in reached
            for doc, keys in [r.candidate.item]
        ]

    @strawberry.field(
        description="The languages directions are written in (other tags of these languages "
        "resolve to them, e.g. fi to fi-FI)."
    )
    def routing_languages(self) -> list[str]:
        return list(languages.SUPPORTED)


def _selects(fields: Sequence[Any], name: str) -> bool:
    """Whether the selection asks for a field of this name at any depth (fragments too)."""
    for field in fields:
        if getattr(field, "name", None) == name:
            return True
        if _selects(getattr(field, "selections", ()), name):
            return True
    return False


def _uid(data: Mapping[str, Any], key: str) -> str:
    """The EVSE's uid as its CPO wrote it (the search's keys are upper-cased)."""
    found = child(data.get("evses"), "uid", key)
    return str(found["uid"]) if found else key


def _station_point(data: Mapping[str, Any], evse_keys: tuple[str, ...]) -> Point | None:
    """Where to drive: the nearest matching EVSE's own coordinates, else its Location's."""
    evse = child(data.get("evses"), "uid", evse_keys[0]) if evse_keys else None
    value: Any
    for value in ((evse or {}).get("coordinates"), data.get("coordinates")):
        try:
            return Point(float(value["latitude"]), float(value["longitude"]))
        except (TypeError, KeyError, ValueError):
            continue
    return None


schema = federation_schema(query=Query, types=[Location])
