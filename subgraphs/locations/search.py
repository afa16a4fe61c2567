"""Station search on the query rows: near a point or in a box, filtered, sorted by distance.

The rows' (latitude, longitude) index narrows the search to a box; the distance to each EVSE
is then computed exactly (haversine) and the radius applied. Filters on connectors (standard,
format, power) hold for one and the same connector, so "CCS of 50 kW or more" is not met by a
slow CCS beside a fast CHAdeMO. Opening hours are read from the documents of the candidates
only, and only when asked for.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, or_
from sqlalchemy import select as select_columns
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from subgraphs.bookings import service as bookings
from subgraphs.locations.models import ConnectorRow, EvseRow, Location
from subgraphs.locations.opening import is_open

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
MAX_RADIUS_M = 100_000.0
MAX_BOX_DEGREES = 2.0
MAX_PAGE = 100


class SearchError(ValueError):
    """A search the platform will not run (out of range, malformed cursor); nothing is read."""


@dataclass(frozen=True, slots=True)
class Box:
    south: float
    west: float
    north: float
    east: float

    def check(self) -> None:
        if not (-90 <= self.south <= self.north <= 90):
            raise SearchError("box: south must not exceed north, both within -90..90")
        if not (-180 <= self.west <= 180 and -180 <= self.east <= 180) or self.west > self.east:
            raise SearchError("box: west must not exceed east, both within -180..180")
        if self.north - self.south > MAX_BOX_DEGREES or self.east - self.west > MAX_BOX_DEGREES:
            raise SearchError(f"box: at most {MAX_BOX_DEGREES} degrees on a side")

    def contains(self, latitude: float, longitude: float) -> bool:
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east


@dataclass(frozen=True, slots=True)
class Near:
    latitude: float
    longitude: float
    radius_m: float

    def check(self) -> None:
        if not (-90 <= self.latitude <= 90 and -180 <= self.longitude <= 180):
            raise SearchError("near: latitude within -90..90 and longitude within -180..180")
        if not (0 < self.radius_m <= MAX_RADIUS_M):
            raise SearchError(f"radiusMeters: more than 0 and at most {MAX_RADIUS_M:.0f}")

    def box(self) -> Box:
        """The box around the circle (wider than the circle, never narrower)."""
        dlat = math.degrees(self.radius_m / EARTH_RADIUS_M)
        shrink = math.cos(math.radians(min(89.0, abs(self.latitude) + dlat)))
        dlon = min(180.0, dlat / max(shrink, 1e-6))
        return Box(
            max(-90.0, self.latitude - dlat),
            max(-180.0, self.longitude - dlon),
            min(90.0, self.latitude + dlat),
            min(180.0, self.longitude + dlon),
        )


@dataclass(frozen=True, slots=True)
class Filters:
    standards: Sequence[str] = ()
    formats: Sequence[str] = ()
    power_types: Sequence[str] = ()
    min_power_kw: float | None = None
    operators: Sequence[tuple[str, str]] = ()  # (country_code, party_id) of CPOs
    available_now: bool = False
    reservable: bool | None = None
    min_renewable_percent: float | None = None
    open_now: bool = False


@dataclass(frozen=True, slots=True)
class Hit:
    location_pk: int
    distance_m: float
    evse_keys: tuple[str, ...]  # the EVSEs that matched (upper-cased uids), nearest first

    @property
    def cursor(self) -> str:
        return encode_cursor(self.distance_m, self.location_pk)


@dataclass(frozen=True, slots=True)
class SearchPage:
    hits: list[Hit]
    total: int
    has_next: bool


def encode_cursor(distance_m: float, location_pk: int) -> str:
    return base64.urlsafe_b64encode(f"{distance_m!r}:{location_pk}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        distance, pk = base64.urlsafe_b64decode(cursor.encode()).decode().split(":")
        value = (float(distance), int(pk))
    except (binascii.Error, UnicodeError, ValueError):
        raise SearchError("after: not a cursor of this search") from None
    if not math.isfinite(value[0]) or value[0] < 0:
        raise SearchError("after: not a cursor of this search")
    return value


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) on the mean Earth sphere; within 0.5 % of the
    ellipsoid, which a station list does not need better."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _query(
    box: Box, filters: Filters
) -> Select[str, int, float, float, bool, str | None, str, str, str]:
    evse = EvseRow
    conditions: list[Any] = [
        col(evse.published).is_(True),
        col(evse.status) != "REMOVED",
        col(evse.latitude).between(box.south, box.north),
        col(evse.longitude).between(box.west, box.east),
    ]
    if filters.available_now:
        conditions.append(col(evse.status) == "AVAILABLE")
    if filters.reservable is not None:
        conditions.append(col(evse.reservable).is_(filters.reservable))
    if filters.min_renewable_percent is not None:
        conditions.append(col(evse.renewable_percent) >= filters.min_renewable_percent)
    if filters.operators:
        conditions.append(
            or_(
                *(
                    and_(col(evse.country_code) == cc.upper(), col(evse.party_id) == pid.upper())
                    for cc, pid in filters.operators
                )
            )
        )
    connector: list[Any] = []
    if filters.standards:
        connector.append(col(ConnectorRow.standard).in_(list(filters.standards)))
    if filters.formats:
        connector.append(col(ConnectorRow.format).in_(list(filters.formats)))
    if filters.power_types:
        connector.append(col(ConnectorRow.power_type).in_(list(filters.power_types)))
    if filters.min_power_kw is not None:
        connector.append(col(ConnectorRow.max_power_kw) >= filters.min_power_kw)
        # On the row, before its connectors are looked up.
        conditions.append(col(evse.max_power_kw) >= filters.min_power_kw)
    if connector:
        conditions.append(exists().where(col(ConnectorRow.evse_pk) == col(evse.pk), *connector))
    return select_columns(
        col(evse.evse_key),
        col(evse.location_pk),
        col(evse.latitude),
        col(evse.longitude),
        col(evse.always_open),
        col(evse.time_zone),
        col(evse.country_code),
        col(evse.party_id),
        col(evse.location_id),
    ).where(*conditions)


async def search(
    tx: AsyncSession,
    *,
    near: Near | None = None,
    box: Box | None = None,
    filters: Filters = Filters(),
    first: int = 20,
    after: str | None = None,
    now: datetime,
) -> SearchPage:
    """Stations (Locations) with at least one EVSE that passes every filter, nearest first
    (from ``near``'s point, or from the box's centre), ``first`` of them after the cursor."""
    if (near is None) == (box is None):
        raise SearchError("give either near (a point and a radius) or box, not both")
    if not (1 <= first <= MAX_PAGE):
        raise SearchError(f"first: from 1 to {MAX_PAGE}")
    if filters.min_power_kw is not None and not (0 <= filters.min_power_kw <= 10_000):
        raise SearchError("minPowerKw: from 0 to 10000")
    start = decode_cursor(after) if after else None
    if near is not None:
        near.check()
        area = near.box()
        origin = (near.latitude, near.longitude)
    else:
        assert box is not None
        box.check()
        area = box
        origin = ((box.south + box.north) / 2, (box.west + box.east) / 2)
    # Through the session's connection, not the session: the rows are read, never mapped to
    # objects, and the ORM's execution path cost some 2 ms a search of 250 rows.
    connection = await tx.connection()
    found: list[tuple[float, str, int, bool, str | None, tuple[str, str, str, str]]] = []
    for (
        evse_key,
        location_pk,
        lat,
        lon,
        always_open,
        time_zone,
        cc,
        pid,
        location_id,
    ) in await connection.execute(_query(area, filters)):
        d = distance_m(origin[0], origin[1], lat, lon)
        if near is not None and d > near.radius_m:
            continue
        found.append(
            (d, evse_key, location_pk, always_open, time_zone, (cc, pid, location_id, evse_key))
        )
    if filters.available_now and found:
        # A booking holds its EVSE at once, before its CPO says RESERVED: not available.
        held = await bookings.holding_for(tx, [f[5] for f in found], now)
        if held:
            found = [f for f in found if f[5] not in held]
    nearest: dict[int, list[tuple[float, str]]] = {}
    hours: dict[int, str | None] = {}
    for d, evse_key, location_pk, always_open, time_zone, _key in found:
        nearest.setdefault(location_pk, []).append((d, evse_key))
        if filters.open_now and not always_open:
            hours[location_pk] = time_zone
    if hours:
        closed = await _closed(tx, hours, now)
        for location_pk in closed:
            nearest.pop(location_pk, None)
    ranked = sorted(
        (min(found)[0], location_pk, tuple(key for _, key in sorted(found)))
        for location_pk, found in nearest.items()
    )
    if start is not None:
        ranked = [r for r in ranked if (r[0], r[1]) > start]
    page = ranked[:first]
    return SearchPage(
        hits=[Hit(location_pk, d, evses) for d, location_pk, evses in page],
        total=len(nearest),
        has_next=len(ranked) > first,
    )


async def _closed(tx: AsyncSession, zones: dict[int, str | None], now: datetime) -> set[int]:
    """The candidate Locations closed at ``now``, from their documents' opening times."""
    documents = await tx.execute(
        select(col(Location.pk), col(Location.data)).where(col(Location.pk).in_(list(zones)))
    )
    return {
        pk for pk, data in documents.all() if not is_open(data.get("opening_times"), zones[pk], now)
    }
