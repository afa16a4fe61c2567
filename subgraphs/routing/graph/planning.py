"""Routes between two places for the graph: shared by ``Query.routes`` and
``Location.routeFrom``, with the arguments both take (one description each)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from subgraphs.common.context import GraphContext
from subgraphs.common.errors import error
from subgraphs.routing import service
from subgraphs.routing.graph import engine
from subgraphs.routing.graph.charging import destination_tariffs
from subgraphs.routing.graph.inputs import PlaceInput
from subgraphs.routing.graph.types import Route, RouteCriterion, RoutePlan, TravelMode
from subgraphs.routing.service import RoutingError

DepartAt = Annotated[
    datetime | None,
    strawberry.argument(
        description="When to leave (ISO 8601 with an offset); now when neither this "
        "nor arriveBy is given."
    ),
]
ArriveBy = Annotated[
    datetime | None,
    strawberry.argument(description="When to arrive (ISO 8601 with an offset)."),
]
Modes = Annotated[
    list[TravelMode],
    strawberry.argument(description="The modes to route by, each at most once."),
]
OptimizeFor = Annotated[RouteCriterion, strawberry.argument(description="What the order is by.")]
Alternatives = Annotated[
    int,
    strawberry.argument(
        description=f"Alternative routes per mode besides the best, 0 to "
        f"{service.MAX_ALTERNATIVES}, where the engine finds them."
    ),
]
Language = Annotated[
    str,
    strawberry.argument(
        description="The directions' language (BCP 47, e.g. fi-FI or fi); see routingLanguages."
    ),
]


@contextmanager
def graph_errors() -> Iterator[None]:
    try:
        yield
    except RoutingError as problem:
        raise error(problem.code, problem.message) from None


async def routes(
    info: Info[GraphContext, None],
    origin: PlaceInput,
    destination: PlaceInput,
    *,
    depart_at: datetime | None,
    arrive_by: datetime | None,
    modes: Sequence[TravelMode],
    optimize_for: RouteCriterion,
    alternatives: int,
    language: str,
) -> RoutePlan:
    context = info.context
    with graph_errors():
        start = await origin.point(context, "from")
        end = await destination.resolve(context, "to")
        query = service.RouteQuery(
            origin=start,
            destination=end.point,
            modes=tuple(mode.mode for mode in modes),
            depart_at=depart_at,
            arrive_by=arrive_by,
            optimize_for=service.Criterion(optimize_for.name),
            alternatives=alternatives,
            language=language,
            directions=selects(info.selected_fields, "directions"),
            destination_tariffs=(
                None if end.station is None else await destination_tariffs(context, end.station)
            ),
        )
        # Checked before the engine is asked for, so bad input is refused even while
        # the map is being built.
        service.check(query, now=context.now())
        plan = await service.plan(engine.pool(context.runtime.settings), query, now=context.now())
    return RoutePlan(
        routes=[Route.of(rank, route) for rank, route in enumerate(plan.routes, start=1)],
        optimized_for=optimize_for,
        map=plan.manifest.region,
        time_zone=plan.region.time_zone,
        country=plan.region.country,
        language=plan.language,
    )


def selects(fields: Sequence[Any], name: str) -> bool:
    """Whether the selection asks for a field of this name at any depth (fragments too)."""
    for field in fields:
        if getattr(field, "name", None) == name:
            return True
        if selects(getattr(field, "selections", ()), name):
            return True
    return False
