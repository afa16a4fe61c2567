"""The locations subgraph: station search, details, and live EVSE status."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from incar.timestamps import parse_timestamp
from subgraphs.bookings.service import TOPIC_BOOKING
from subgraphs.common import event_cursor, roots
from subgraphs.common.app import federation_schema
from subgraphs.common.arguments import CountryCode, PartyId
from subgraphs.common.context import GraphContext
from subgraphs.common.errors import bad_input
from subgraphs.common.pagination import PageInfo
from subgraphs.locations import search as searching
from subgraphs.locations.graph.loaders import (
    booked_evses,
    doc_key,
    locations_by_key,
    locations_of,
    tariffs_by_key,
)
from subgraphs.locations.graph.types import Connector, Evse, EvseStatus, Location, Tariff
from subgraphs.locations.service import TOPIC_EVSE_STATUS


@strawberry.input(description="A circle on the map: a point and a radius.")
class NearInput:
    latitude: float = strawberry.field(description="Degrees north of the centre.")
    longitude: float = strawberry.field(description="Degrees east of the centre.")
    radius_meters: float = strawberry.field(
        default=2000.0, description="Radius in metres, at most 100 km."
    )


@strawberry.input(description="A box on the map, at most 2 degrees on a side.")
class BoxInput:
    south: float = strawberry.field(description="Southern edge, degrees north.")
    west: float = strawberry.field(description="Western edge, degrees east.")
    north: float = strawberry.field(description="Northern edge, degrees north.")
    east: float = strawberry.field(description="Eastern edge, degrees east.")

    def box(self) -> searching.Box:
        return searching.Box(self.south, self.west, self.north, self.east)


@strawberry.input(description="An OCPI party: country code and party id.")
class PartyInput:
    country_code: str = strawberry.field(description="ISO 3166-1 alpha-2 country code.")
    party_id: str = strawberry.field(description="The party's id (3 characters).")


@strawberry.input(
    description="What a station must offer; every filter holds for one and the same EVSE, "
    "and the connector filters for one and the same connector of it."
)
class StationFilter:
    connector_standards: list[str] | None = strawberry.field(
        default=None, description="Any of these plug standards (e.g. IEC_62196_T2_COMBO)."
    )
    connector_formats: list[str] | None = strawberry.field(
        default=None, description="SOCKET or CABLE."
    )
    power_types: list[str] | None = strawberry.field(
        default=None, description="AC_1_PHASE, AC_3_PHASE, DC, ..."
    )
    min_power_kw: float | None = strawberry.field(
        default=None, description="At least this much power on the connector, in kW."
    )
    operators: list[PartyInput] | None = strawberry.field(
        default=None, description="Operated by one of these CPOs."
    )
    available_now: bool = strawberry.field(
        default=False, description="Only EVSEs whose status is AVAILABLE."
    )
    reservable: bool | None = strawberry.field(
        default=None, description="Only EVSEs that can (true) or cannot (false) be booked."
    )
    min_renewable_percent: float | None = strawberry.field(
        default=None, description="At least this share of renewable energy, in percent."
    )
    open_now: bool = strawberry.field(
        default=False, description="Only Locations open now by the platform's clock."
    )

    def filters(self) -> searching.Filters:
        return searching.Filters(
            standards=tuple(self.connector_standards or ()),
            formats=tuple(self.connector_formats or ()),
            power_types=tuple(self.power_types or ()),
            min_power_kw=self.min_power_kw,
            operators=tuple((p.country_code, p.party_id) for p in self.operators or ()),
            available_now=self.available_now,
            reservable=self.reservable,
            min_renewable_percent=self.min_renewable_percent,
            open_now=self.open_now,
        )


@strawberry.type(description="One station found, with the EVSEs of it that matched.")
class StationEdge:
    cursor: str = strawberry.field(description="Pass as `after` for the stations after this.")
    distance_meters: float = strawberry.field(
        description="From the search's point (or the box's centre) to its nearest matching EVSE."
    )
    node: Location = strawberry.field(description="The station.")
    evse_keys: strawberry.Private[tuple[str, ...]]

    @strawberry.field(description="Its EVSEs that passed the filter, nearest first.")
    def matching_evses(self) -> list[Evse]:
        return self.node.evses_by_key(self.evse_keys)


@strawberry.type(description="A page of stations, nearest first.")
class StationConnection:
    edges: list[StationEdge] = strawberry.field(description="The stations of this page.")
    page_info: PageInfo = strawberry.field(description="Whether more follow.")
    total_count: int = strawberry.field(description="Stations that match, on all pages.")


@strawberry.input(description="A Location by its owner and id.")
class LocationRefInput:
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    id: str = strawberry.field(description="The Location's id.")


@strawberry.input(description="An EVSE by its owner, Location and uid.")
class EvseRefInput:
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    location_id: str = strawberry.field(description="The Location's id.")
    uid: str = strawberry.field(description="The EVSE's uid.")


@strawberry.type(description="An EVSE's status changed.")
class EvseStatusEvent:
    cursor: str = strawberry.field(
        description="This event's position in the platform's event log: pass it as `after` "
        "to resume after it."
    )
    status: EvseStatus = strawberry.field(description="The new status.")
    changed_at: datetime = strawberry.field(description="The CPO's last_updated of the change.")
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    location_id: str = strawberry.field(description="The Location's id.")
    evse_uid: str = strawberry.field(description="The EVSE's uid.")

    @strawberry.field(description="The EVSE as stored now.")
    async def evse(self, info: Info[GraphContext, None]) -> Evse | None:
        return await Evse.load(
            info.context, self.country_code, self.party_id, self.location_id, self.evse_uid
        )


def _check(value: Any) -> None:
    try:
        value.check()
    except searching.SearchError as problem:
        raise bad_input(str(problem)) from None


@strawberry.type(description=roots.QUERY)
class Query:
    @strawberry.field(
        description="Stations near a point or in a box, nearest first, with at least one EVSE "
        "that passes the filter (removed and unpublished ones never show)."
    )
    async def stations(
        self,
        info: Info[GraphContext, None],
        near: Annotated[
            NearInput | None,
            strawberry.argument(description="Stations within a radius of a point (or give box)."),
        ] = None,
        box: Annotated[
            BoxInput | None,
            strawberry.argument(description="Stations inside a box (or give near)."),
        ] = None,
        filter: Annotated[
            StationFilter | None,
            strawberry.argument(description="What a matching EVSE must offer; all when left out."),
        ] = None,
        first: Annotated[
            int,
            strawberry.argument(description=f"How many stations: from 1 to {searching.MAX_PAGE}."),
        ] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="The endCursor of the page before, to read on."),
        ] = None,
    ) -> StationConnection:
        context = info.context
        filters = filter.filters() if filter else searching.Filters()
        try:
            # The page's documents in the search's own transaction: one BEGIN/COMMIT, and
            # the Locations read in the same snapshot as the rows that found them.
            async with context.runtime.db.transaction() as tx:
                page = await searching.search(
                    tx,
                    near=searching.Near(near.latitude, near.longitude, near.radius_meters)
                    if near
                    else None,
                    box=box.box() if box else None,
                    filters=filters,
                    first=first,
                    after=after,
                    now=context.now(),
                )
                found = await locations_of(tx, [hit.location_pk for hit in page.hits])
        except searching.SearchError as problem:
            raise bad_input(str(problem)) from None
        docs = [found.get(hit.location_pk) for hit in page.hits]
        if filters.available_now:
            # The search left out every EVSE a booking holds: the matching ones are free, so
            # their status needs no second look at the bookings.
            booked_evses(context).prime_many(
                {
                    (doc.country_code, doc.party_id, doc.object_id, evse_key): False
                    for hit, doc in zip(page.hits, docs, strict=True)
                    if doc is not None
                    for evse_key in hit.evse_keys
                }
            )
        edges = [
            StationEdge(
                cursor=hit.cursor,
                distance_meters=round(hit.distance_m, 1),
                node=Location.of(doc),
                evse_keys=hit.evse_keys,
            )
            for hit, doc in zip(page.hits, docs, strict=True)
            if doc is not None
        ]
        return StationConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=page.total,
        )

    @strawberry.field(description="One Location by its owner and id; null if unknown.")
    async def location(
        self,
        info: Info[GraphContext, None],
        country_code: CountryCode,
        party_id: PartyId,
        id: Annotated[str, strawberry.argument(description="The Location's id.")],
    ) -> Location | None:
        return await _location(info.context, country_code, party_id, id)

    @strawberry.field(description="One EVSE by its owner, Location and uid; null if unknown.")
    async def evse(
        self,
        info: Info[GraphContext, None],
        country_code: CountryCode,
        party_id: PartyId,
        location_id: Annotated[str, strawberry.argument(description="The Location's id.")],
        uid: Annotated[str, strawberry.argument(description="The EVSE's uid.")],
    ) -> Evse | None:
        location = await _location(info.context, country_code, party_id, location_id)
        found = location.evses_by_key([uid]) if location else []
        return found[0] if found else None

    @strawberry.field(description="One tariff by its owner and id; null if unknown.")
    async def tariff(
        self,
        info: Info[GraphContext, None],
        country_code: CountryCode,
        party_id: PartyId,
        id: Annotated[str, strawberry.argument(description="The tariff's id.")],
    ) -> Tariff | None:
        doc = await tariffs_by_key(info.context).load(doc_key(country_code, party_id, id))
        return Tariff.of(doc) if doc else None


async def _location(context: GraphContext, cc: str, pid: str, location_id: str) -> Location | None:
    doc = await locations_by_key(context).load(doc_key(cc, pid, location_id))
    if doc is None or not _visible(doc.data, context, doc.country_code, doc.party_id):
        return None
    return Location.of(doc)


def _visible(data: Mapping[str, Any], context: GraphContext, cc: str, pid: str) -> bool:
    """An unpublished Location (publish false) is its CPO's own: only that CPO sees it here
    (those in its publish_allowed_to see it through OCPI)."""
    return data.get("publish") is not False or context.viewer.party == (cc, pid)


def _wanted(
    payload: Mapping[str, Any],
    box: searching.Box | None,
    locations: set[tuple[str, str, str]],
    evses: set[tuple[str, str, str, str]],
) -> bool:
    key = doc_key(payload["country_code"], payload["party_id"], payload["location_id"])
    if locations and key in locations:
        return True
    if evses and (*key, str(payload["evse_uid"]).upper()) in evses:
        return True
    if box is not None:
        lat, lon = payload.get("latitude"), payload.get("longitude")
        return (
            isinstance(lat, float | int) and isinstance(lon, float | int) and box.contains(lat, lon)
        )
    return not locations and not evses


@strawberry.type(description=roots.SUBSCRIPTION)
class Subscription:
    @strawberry.subscription(
        description="Status changes of EVSEs in a box, of given Locations or of given EVSEs "
        "(any that matches one of them), as CPOs report them through the hub."
    )
    async def evse_status_changed(
        self,
        info: Info[GraphContext, None],
        box: Annotated[
            BoxInput | None, strawberry.argument(description="Every EVSE inside this box.")
        ] = None,
        locations: Annotated[
            list[LocationRefInput] | None,
            strawberry.argument(description="Every EVSE of these Locations."),
        ] = None,
        evses: Annotated[
            list[EvseRefInput] | None, strawberry.argument(description="These EVSEs.")
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(description=event_cursor.AFTER),
        ] = None,
    ) -> AsyncGenerator[EvseStatusEvent, None]:
        if box is None and not locations and not evses:
            raise bad_input("give a box, locations or evses to watch")
        area = box.box() if box else None
        if area is not None:
            _check(area)
        event_cursor.resume_point(after)  # a bad cursor is refused before anything runs
        wanted_locations = {doc_key(r.country_code, r.party_id, r.id) for r in locations or []}
        wanted_evses = {
            (*doc_key(r.country_code, r.party_id, r.location_id), r.uid.upper())
            for r in evses or []
        }
        context = info.context
        topics = [TOPIC_EVSE_STATUS, TOPIC_BOOKING]
        async with event_cursor.events_after(context.runtime.bus, topics, after) as events:
            async for event in events:
                payload = event.payload
                if not _wanted(payload, area, wanted_locations, wanted_evses):
                    continue
                context.fresh()  # each event is read as stored now, not as first loaded
                if not await _may_see(context, payload):
                    continue
                if event.topic == TOPIC_BOOKING:
                    # A booking holds the EVSE for everyone at once, before its CPO's own
                    # status update; when it ends, the EVSE is what its CPO last said.
                    status = await _booked_status(context, payload)
                    changed_at = event.occurred_at
                else:
                    status = EvseStatus.of(payload.get("status"))
                    stamp = payload.get("last_updated")
                    changed_at = (
                        parse_timestamp(stamp) if isinstance(stamp, str) else event.occurred_at
                    )
                if status is None:
                    continue
                yield EvseStatusEvent(
                    cursor=event_cursor.cursor_of(event),
                    status=status,
                    changed_at=changed_at,
                    country_code=payload["country_code"],
                    party_id=payload["party_id"],
                    location_id=payload["location_id"],
                    evse_uid=payload["evse_uid"],
                )


async def _may_see(context: GraphContext, payload: Mapping[str, Any]) -> bool:
    """A status event names whether its Location is published; a booking event does not,
    so its Location is read (bookings are rare beside status changes)."""
    owner = (payload["country_code"], payload["party_id"])
    published = payload.get("published")
    if published is None:
        doc = await locations_by_key(context).load(doc_key(*owner, payload["location_id"]))
        if doc is None:
            return False
        published = doc.data.get("publish") is not False
    return bool(published) or context.viewer.party == owner


async def _booked_status(context: GraphContext, payload: Mapping[str, Any]) -> EvseStatus | None:
    if payload.get("holds"):
        return EvseStatus.RESERVED
    evse = await Evse.load(
        context,
        payload["country_code"],
        payload["party_id"],
        payload["location_id"],
        payload["evse_uid"],
    )
    return EvseStatus.of(evse.data.get("status")) if evse is not None else None


schema = federation_schema(
    query=Query,
    subscription=Subscription,
    types=[Location, Evse, Connector, Tariff],
)
