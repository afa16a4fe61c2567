"""Where a trip starts or ends: coordinates, an address or place name (geocoded with the
map's own index), or a Location or EVSE of the locations subgraph.

One input with one field per kind of place, exactly one of them given (GraphQL's @oneOf
shape, checked here: the gateway's composition does not carry the directive).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from subgraphs.common.context import GraphContext
from subgraphs.common.errors import Code
from subgraphs.locations import service as locations
from subgraphs.locations.graph.schema import EvseRefInput, LocationRefInput
from subgraphs.locations.service import child
from subgraphs.routing.graph.places import geocoded
from subgraphs.routing.service import Point, RoutingError


@strawberry.input(description="A point in WGS 84 degrees.")
class CoordinatesInput:
    latitude: float = strawberry.field(description="Degrees north, -90 to 90.")
    longitude: float = strawberry.field(description="Degrees east, -180 to 180.")


@strawberry.input(
    description="A place: exactly one of coordinates, an address or place name, a Location "
    "or an EVSE (its own coordinates, else its Location's)."
)
class PlaceInput:
    coordinates: CoordinatesInput | None = strawberry.field(
        default=None, description="A point on the map."
    )
    address: str | None = strawberry.field(
        default=None,
        description='An address or place name of the map ("Städtle 32, Vaduz"), tolerant of '
        "case, accents and small typos: its best match (see geocode); PLACE_NOT_FOUND or "
        "PLACE_AMBIGUOUS with the candidates otherwise.",
    )
    location: LocationRefInput | None = strawberry.field(
        default=None, description="A charging station site, by its owner and id."
    )
    evse: EvseRefInput | None = strawberry.field(
        default=None, description="An EVSE, by its owner, Location and uid."
    )

    async def point(self, context: GraphContext, what: str) -> Point:
        return (await self.resolve(context, what)).point

    async def resolve(self, context: GraphContext, what: str) -> Resolved:
        kinds = (self.coordinates, self.address, self.location, self.evse)
        if sum(v is not None for v in kinds) != 1:
            raise RoutingError(
                Code.BAD_USER_INPUT,
                f"{what}: give exactly one of coordinates, address, location, evse",
            )
        if self.coordinates is not None:
            point = Point(self.coordinates.latitude, self.coordinates.longitude)
            point.check(what)
            return Resolved(point)
        if self.address is not None:
            place = await geocoded(context.runtime.settings, self.address, what)
            return Resolved(Point(place.lat, place.lon))
        if self.location is not None:
            ref = self.location
            data = await _location(context, ref.country_code, ref.party_id, ref.id, what)
            return Resolved(
                _coordinates(data.get("coordinates"), what),
                Station(ref.country_code, ref.party_id, data, evse_uid=None),
            )
        assert self.evse is not None
        ref_evse = self.evse
        data = await _location(
            context, ref_evse.country_code, ref_evse.party_id, ref_evse.location_id, what
        )
        evse = child(data.get("evses"), "uid", ref_evse.uid)
        if evse is None or evse.get("status") == "REMOVED":
            raise RoutingError(Code.NOT_FOUND, f"{what}: no such EVSE")
        return Resolved(
            _coordinates(evse.get("coordinates") or data.get("coordinates"), what),
            Station(ref_evse.country_code, ref_evse.party_id, data, evse_uid=ref_evse.uid),
        )


@dataclass(frozen=True, slots=True)
class Station:
    """A charging station a place is: its Location's document, and the EVSE if one was named."""

    country_code: str
    party_id: str
    location: dict[str, Any]
    evse_uid: str | None


@dataclass(frozen=True, slots=True)
class Resolved:
    point: Point
    station: Station | None = None


async def _location(
    context: GraphContext, country_code: str, party_id: str, location_id: str, what: str
) -> dict[str, Any]:
    async with context.runtime.db.transaction() as tx:
        data = await locations.get_location(
            tx, country_code=country_code, party_id=party_id, location_id=location_id
        )
    # An unpublished Location is its CPO's own, as in the locations subgraph.
    hidden = data is not None and data.get("publish") is False
    if data is None or (
        hidden and context.viewer.party != (country_code.upper(), party_id.upper())
    ):
        raise RoutingError(Code.NOT_FOUND, f"{what}: no such Location")
    return data


def _coordinates(value: Any, what: str) -> Point:
    try:
        point = Point(float(value["latitude"]), float(value["longitude"]))
    except (TypeError, KeyError, ValueError):
        raise RoutingError(Code.NOT_FOUND, f"{what}: the place has no coordinates") from None
    point.check(what)
    return point
