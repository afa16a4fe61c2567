"""Which OpenStreetMap tags make a point of interest of each class, as the OSM wiki documents
them (read for this module: Tag:amenity=parking, Key:parking, Tag:amenity=taxi,
Tag:amenity=loading_dock, Street parking and its deprecated predecessors Key:parking:lane and
Key:parking:condition, Public transport (the PTv2 scheme), Tag:highway=bus_stop).

Loading zones have no single tag. Three forms are in use:

- ``amenity=loading_dock``: a dock at a building where lorries load;
- the street parking scheme (approved 2022): ``parking:<side>:restriction=loading_only`` on the
  street, side being ``left``, ``right`` or ``both``, also as a ``:conditional`` value
  (``loading_only @ (Mo-Fr 08:00-12:00)``), or ``restriction=loading_only`` on separately
  mapped street parking (``amenity=parking`` + ``parking=street_side`` or ``lane``);
- the deprecated scheme it replaced, still common: ``parking:condition:<side>=loading``.

A ``...:except=loading`` or ``unloading`` only exempts loading from a ban on stopping; it does
not make a loading zone, so it is not taken.
"""

from __future__ import annotations

from collections.abc import Mapping

from subgraphs.routing.places.types import PoiClass

_SIDES = ("left", "right", "both")
_TRANSPORT = {
    ("public_transport", "platform"),
    ("public_transport", "stop_position"),
    ("public_transport", "station"),
    ("highway", "bus_stop"),
    ("highway", "platform"),
    ("railway", "station"),
    ("railway", "halt"),
    ("railway", "tram_stop"),
    ("railway", "platform"),
    ("railway", "subway_entrance"),
    ("amenity", "bus_station"),
    ("amenity", "ferry_terminal"),
    ("aerialway", "station"),
}
#: Kept with each POI beside name, capacity, fee and operator: what a driver or rider asks.
USEFUL_TAGS = (
    "parking", "access", "maxstay", "opening_hours", "capacity:disabled", "capacity:charging",
    "covered", "supervised", "park_ride", "shelter", "bench", "wheelchair", "network",
    "local_ref", "ref", "website", "maxheight",
)  # fmt: skip


def classify(tags: Mapping[str, str]) -> tuple[PoiClass, str] | None:
    """The POI class of an element and the tag that makes it one, or None."""
    amenity = tags.get("amenity")
    if amenity == "taxi":
        return PoiClass.TAXI, "amenity=taxi"
    if amenity == "loading_dock":
        return PoiClass.LOADING_ZONE, "amenity=loading_dock"
    loading = loading_tag(tags)
    if loading is not None:
        return PoiClass.LOADING_ZONE, loading
    if amenity == "parking":
        return PoiClass.PARKING, "amenity=parking"
    for key, value in _TRANSPORT:
        if tags.get(key) == value:
            return PoiClass.PUBLIC_TRANSPORT, f"{key}={value}"
    return None


def loading_tag(tags: Mapping[str, str]) -> str | None:
    """The tag that marks a loading zone on a street or a street parking area, or None."""
    if tags.get("restriction") == "loading_only" and tags.get("amenity") == "parking":
        return "restriction=loading_only"
    for side in _SIDES:
        for key in (f"parking:{side}:restriction", f"parking:{side}:restriction:conditional"):
            if "loading_only" in tags.get(key, ""):
                return f"{key}=loading_only"
        for key in (f"parking:condition:{side}", f"parking:condition:{side}:conditional"):
            if tags.get(key, "").startswith("loading") or "loading @" in tags.get(key, ""):
                return f"{key}=loading"
    return None


def capacity(tags: Mapping[str, str]) -> int | None:
    """``capacity`` as a number; OSM sometimes has "ca. 40" or "40-50": those are left out."""
    value = tags.get("capacity", "").strip()
    return int(value) if value.isdigit() else None
