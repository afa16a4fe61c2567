"""The locations subgraph's Location as the routing subgraph contributes to it: routes to it
(``routeFrom``), and the stations nearest by travel time that name it."""

from __future__ import annotations

from typing import Annotated, Any, Self

import strawberry
from strawberry.types import Info

from subgraphs.common.context import GraphContext
from subgraphs.locations.graph.schema import LocationRefInput
from subgraphs.routing import languages
from subgraphs.routing.graph import planning
from subgraphs.routing.graph.inputs import PlaceInput
from subgraphs.routing.graph.types import RouteCriterion, RoutePlan, TravelMode


@strawberry.federation.type(
    keys=["countryCode partyId id"],
    description="A charging station site (OCPI Location) with its EVSEs, as its CPO publishes it.",
)
class Location:
    country_code: str = strawberry.field(description="Country of the CPO that operates it.")
    party_id: str = strawberry.field(description="Party id of the CPO that operates it.")
    id: strawberry.ID = strawberry.field(description="The Location's id, unique within its CPO.")

    @classmethod
    def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self:
        # Whether it exists (and may be seen) is checked when a route to it is asked for.
        return cls(
            country_code=key["countryCode"], party_id=key["partyId"], id=strawberry.ID(key["id"])
        )

    @strawberry.field(
        description="Routes to this station from a place, as `routes` gives them (its "
        "coordinates are the destination; NOT_FOUND for a Location the viewer cannot see)."
    )
    async def route_from(
        self,
        info: Info[GraphContext, None],
        from_: Annotated[
            PlaceInput, strawberry.argument(name="from", description="Where the trip starts.")
        ],
        depart_at: planning.DepartAt = None,
        arrive_by: planning.ArriveBy = None,
        modes: planning.Modes = [TravelMode.ELECTRIC_CAR],  # noqa: B006 (copied per request)
        optimize_for: planning.OptimizeFor = RouteCriterion.DURATION,
        alternatives: planning.Alternatives = 0,
        language: planning.Language = languages.DEFAULT,
    ) -> RoutePlan:
        here = PlaceInput(
            location=LocationRefInput(
                country_code=self.country_code, party_id=self.party_id, id=str(self.id)
            )
        )
        return await planning.routes(
            info,
            from_,
            here,
            depart_at=depart_at,
            arrive_by=arrive_by,
            modes=modes,
            optimize_for=optimize_for,
            alternatives=alternatives,
            language=language,
        )


@strawberry.type(description="A station and how long it takes to get there.")
class StationByTime:
    location: Location = strawberry.field(description="The station (of the locations subgraph).")
    evse_uids: list[str] = strawberry.field(
        description="Its EVSEs that passed the filter, nearest first."
    )
    duration_seconds: float = strawberry.field(description="Travel time to it.")
    distance_meters: float = strawberry.field(description="Travel distance to it.")
    straight_line_meters: float = strawberry.field(
        description="As the crow flies, to its nearest matching EVSE."
    )
