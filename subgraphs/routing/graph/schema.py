"""The routing subgraph: routes between places by car, bicycle or on foot, and the stations
nearest by travel time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from subgraphs.common import roots
from subgraphs.common.app import federation_schema
from subgraphs.common.context import GraphContext
from subgraphs.common.errors import bad_input
from subgraphs.locations import search as searching
from subgraphs.locations.graph.loaders import locations_of
from subgraphs.locations.graph.schema import StationFilter
from subgraphs.locations.service import child
from subgraphs.routing import languages, service
from subgraphs.routing.graph import engine, places, planning
from subgraphs.routing.graph.inputs import CoordinatesInput, PlaceInput
from subgraphs.routing.graph.location import Location, StationByTime
from subgraphs.routing.graph.places import BoundingBoxInput, Place, PoiClass, PointOfInterest
from subgraphs.routing.graph.types import RouteCriterion, RoutePlan, TravelMode
from subgraphs.routing.places import checks as place_checks
from subgraphs.routing.service import Candidate, Point


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
        depart_at: planning.DepartAt = None,
        arrive_by: planning.ArriveBy = None,
        modes: planning.Modes = [TravelMode.ELECTRIC_CAR],  # noqa: B006 (copied per request)
        optimize_for: planning.OptimizeFor = RouteCriterion.DURATION,
        alternatives: planning.Alternatives = 0,
        language: planning.Language = languages.DEFAULT,
    ) -> RoutePlan:
        return await planning.routes(
            info,
            from_,
            to,
            depart_at=depart_at,
            arrive_by=arrive_by,
            modes=modes,
            optimize_for=optimize_for,
            alternatives=alternatives,
            language=language,
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
        with planning.graph_errors():
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
                engine.pool(context.runtime.settings),
                origin,
                candidates,
                mode=mode.mode,
                limit=limit,
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
        description="Places of the map that a text names (an address in any order, a street, "
        "a town, a named POI), best first; tolerant of case, accents and small typos; "
        "[] when none matches (docs/routing-places.md)."
    )
    async def geocode(
        self,
        info: Info[GraphContext, None],
        text: Annotated[
            str, strawberry.argument(description='What to look for: "Städtle 32, Vaduz".')
        ],
        near: Annotated[
            CoordinatesInput | None,
            strawberry.argument(description="Prefer places near this point (a tie-breaker)."),
        ] = None,
        limit: Annotated[
            int,
            strawberry.argument(description=f"How many places: 1 to {place_checks.MAX_LIMIT}."),
        ] = 5,
    ) -> list[Place]:
        point = None if near is None else (near.latitude, near.longitude)
        with places.graph_errors(info.context.runtime.settings):
            found = await places.places_for(info.context.runtime.settings).geocode(
                text, near=point, limit=limit
            )
        return [Place.of(place) for place in found]

    @strawberry.field(
        description="The address at a point, else the nearest street; null when neither is "
        "near; OFF_MAP off the map."
    )
    async def reverse_geocode(
        self,
        info: Info[GraphContext, None],
        coordinates: Annotated[
            CoordinatesInput, strawberry.argument(description="The point to name.")
        ],
    ) -> Place | None:
        with places.graph_errors(info.context.runtime.settings):
            found = await places.places_for(info.context.runtime.settings).reverse(
                coordinates.latitude, coordinates.longitude
            )
        return None if found is None else Place.of(found)

    @strawberry.field(
        description="The map's points of interest in a box (car parks, taxi stands, loading "
        "zones, public transport stops), nearest its middle first; charging stations are "
        "the locations subgraph's (stations)."
    )
    async def points_of_interest(
        self,
        info: Info[GraphContext, None],
        bbox: Annotated[BoundingBoxInput, strawberry.argument(description="The box to look in.")],
        classes: Annotated[
            list[PoiClass] | None,
            strawberry.argument(description="The classes wanted; all when not given."),
        ] = None,
        limit: Annotated[
            int,
            strawberry.argument(
                description=f"How many at most: 1 to {place_checks.MAX_POI_LIMIT}."
            ),
        ] = 200,
    ) -> list[PointOfInterest]:
        with places.graph_errors(info.context.runtime.settings):
            found = await places.places_for(info.context.runtime.settings).pois(
                bbox.bbox(), classes=places.poi_classes(classes), limit=limit
            )
        return [PointOfInterest.of(poi) for poi in found]

    @strawberry.field(
        description="The languages directions are written in (other tags of these languages "
        "resolve to them, e.g. fi to fi-FI)."
    )
    def routing_languages(self) -> list[str]:
        return list(languages.SUPPORTED)


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
