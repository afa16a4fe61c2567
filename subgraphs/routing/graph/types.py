"""The routing subgraph's types: routes, their steps and geometry."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import cast

import strawberry
from strawberry.scalars import JSON

from subgraphs.routing import factors, geometry, service
from subgraphs.routing.factors import Mode


@strawberry.enum(description="How a trip is made.")
class TravelMode(Enum):
    ELECTRIC_CAR = strawberry.enum_value(
        Mode.ELECTRIC_CAR.value, description="A battery-electric car (the default)."
    )
    COMBUSTION_CAR = strawberry.enum_value(
        Mode.COMBUSTION_CAR.value, description="A petrol car, for comparison."
    )
    BICYCLE = strawberry.enum_value(Mode.BICYCLE.value, description="By bicycle.")
    WALKING = strawberry.enum_value(Mode.WALKING.value, description="On foot.")

    @property
    def mode(self) -> Mode:
        return Mode(self.name)


@strawberry.enum(description="What the routes are ordered by, best first.")
class RouteCriterion(Enum):
    DURATION = strawberry.enum_value(
        service.Criterion.DURATION.value, description="The shortest travel time."
    )
    COST = strawberry.enum_value(
        service.Criterion.COST.value, description="The least money (energy or fuel)."
    )
    CO2 = strawberry.enum_value(service.Criterion.CO2.value, description="The least CO2.")


@strawberry.type(description="What a route's energy or fuel costs, and at which price.")
class RouteCost:
    amount: float = strawberry.field(description="The amount, rounded to the cent.")
    currency: str = strawberry.field(description="ISO 4217 currency.")
    source: str = strawberry.field(
        description='The price it is reckoned at, in words: "tariff T1 (EVSE ..., connector '
        '...): 0.4800 EUR/kWh incl. VAT" for an electric car going to a charger whose tariff '
        'prices energy, else "default ..." with the factor\'s source and, where the '
        "destination's tariffs were passed over, why (docs/routing.md)."
    )
    tariff_id: str | None = strawberry.field(
        description="The destination's tariff that priced the energy; null for a default price."
    )


@strawberry.type(description="One instruction of a route's directions.")
class RouteStep:
    instruction: str = strawberry.field(description="What to do, in the routes' language.")
    kind: int = strawberry.field(
        description="Valhalla's maneuver type (1 start, 4 destination, 10 right, 15 left, ...)."
    )
    distance_meters: float = strawberry.field(description="Length of this step.")
    duration_seconds: float = strawberry.field(description="Travel time of this step.")
    street_names: list[str] = strawberry.field(description="The streets this step follows.")
    begin_shape_index: int = strawberry.field(
        description="Index of the step's first point in the route's geometry."
    )


@strawberry.type(description="A route's line on the map.")
class RouteGeometry:
    polyline6: str = strawberry.field(
        description="Encoded polyline (Google's algorithm) at 6 decimals, latitude first."
    )

    @strawberry.field(description="The same line as a GeoJSON LineString (longitude first).")
    def geo_json(self) -> JSON:
        return cast(JSON, geometry.line_string(geometry.decode(self.polyline6)))


@strawberry.type(description="One way from the start to the destination, by one mode.")
class Route:
    rank: int = strawberry.field(description="Its place in the order asked for, from 1.")
    engine_rank: int = strawberry.field(
        description="Its place in the engine's own answer (0: its best, then its alternates)."
    )
    mode: TravelMode = strawberry.field(description="How it is travelled.")
    departure: datetime = strawberry.field(description="When it leaves (map's local time).")
    arrival: datetime = strawberry.field(description="When it arrives (map's local time).")
    duration_seconds: float = strawberry.field(description="Travel time.")
    distance_meters: float = strawberry.field(description="Length.")
    cost: RouteCost = strawberry.field(
        description="What its energy or fuel costs (docs/routing.md: the factors)."
    )
    co2_grams: float = strawberry.field(
        description="CO2 of its energy: the grid's for an electric car, the exhaust's for "
        "a combustion car, none on foot or by bicycle."
    )
    energy_kwh: float | None = strawberry.field(
        description="Electricity an electric car uses on it; null for other modes."
    )
    fuel_litres: float | None = strawberry.field(
        description="Petrol a combustion car burns on it; null for other modes."
    )
    geometry: RouteGeometry = strawberry.field(description="Its line on the map.")
    directions: list[RouteStep] = strawberry.field(description="Turn-by-turn, in order.")
    language: str = strawberry.field(description="The language of the directions.")

    @classmethod
    def of(cls, rank: int, route: service.PlannedRoute) -> Route:
        spent = route.footprint
        return cls(
            rank=rank,
            engine_rank=route.engine_rank,
            mode=TravelMode(route.mode.value),
            departure=route.departure,
            arrival=route.arrival,
            duration_seconds=round(route.duration_s, 1),
            distance_meters=round(route.distance_m, 1),
            cost=RouteCost(
                amount=round(spent.cost_eur, 2),
                currency=factors.CURRENCY,
                source=spent.cost_source,
                tariff_id=spent.tariff_id,
            ),
            co2_grams=round(spent.co2_g, 1),
            energy_kwh=None if spent.energy_kwh is None else round(spent.energy_kwh, 3),
            fuel_litres=None if spent.fuel_litres is None else round(spent.fuel_litres, 3),
            geometry=RouteGeometry(polyline6=route.polyline6),
            directions=[
                RouteStep(
                    instruction=step.instruction,
                    kind=step.kind,
                    distance_meters=round(step.distance_m, 1),
                    duration_seconds=round(step.duration_s, 1),
                    street_names=list(step.street_names),
                    begin_shape_index=step.begin_shape_index,
                )
                for step in route.maneuvers
            ],
            language=route.language,
        )


@strawberry.type(description="Routes between two places, best first by the criterion asked.")
class RoutePlan:
    routes: list[Route] = strawberry.field(description="Every mode's routes, best first.")
    optimized_for: RouteCriterion = strawberry.field(description="The order's criterion.")
    map: str = strawberry.field(description="The region of the map they were found on.")
    time_zone: str = strawberry.field(description="IANA zone of the map's local times.")
    country: str | None = strawberry.field(
        description="ISO 3166-1 alpha-2 country of the map, whose grid intensity the CO2 "
        "of an electric car uses; null where unknown (the world average is used)."
    )
    language: str = strawberry.field(description="The directions' language (Valhalla's tag).")
