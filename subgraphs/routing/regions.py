"""The country and time zone of the map, from the centre of its bounding box.

A small table of the regions the platform has extracts for, each with a box around it: the
country picks the grid's carbon intensity (``factors``), the zone the local times of routes.
A table and not a time-zone polygon database (``timezonefinder`` ships one of some 50 MB):
a map is one city or one small country, whose centre lies in one zone. A map elsewhere gets
UTC and the world's grid average, and says so (``Region.known``).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from incar.maps import BBox


@dataclass(frozen=True, slots=True)
class Region:
    country: str | None  # ISO 3166-1 alpha-2; None where the table has no entry
    time_zone: str  # IANA

    @property
    def known(self) -> bool:
        return self.country is not None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


#: (country, IANA zone, min_lon, min_lat, max_lon, max_lat), smallest box first: a point in
#: Liechtenstein's box is Liechtenstein, not a neighbour's whose box holds it too.
_REGIONS: tuple[tuple[str, str, float, float, float, float], ...] = (
    ("LI", "Europe/Vaduz", 9.47, 47.04, 9.64, 47.28),
    ("PT", "Europe/Lisbon", -9.6, 36.9, -6.1, 42.2),  # the mainland (not Madeira, the Azores)
    ("CH", "Europe/Zurich", 5.95, 45.8, 10.5, 47.81),
    ("FI", "Europe/Helsinki", 19.0, 59.4, 31.6, 70.1),
)
UNKNOWN = Region(country=None, time_zone="UTC")


def region_at(lat: float, lon: float) -> Region:
    for country, zone, min_lon, min_lat, max_lon, max_lat in _REGIONS:
        if min_lat <= lat <= max_lat and min_lon <= lon <= max_lon:
            return Region(country=country, time_zone=zone)
    return UNKNOWN


def region_of(bbox: BBox) -> Region:
    min_lon, min_lat, max_lon, max_lat = bbox
    return region_at((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
