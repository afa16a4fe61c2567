"""A CPO's fleet: OCPI Locations (with EVSEs and Connectors) and Tariffs placed on real sites."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from simulator.map import Site
from simulator.protocol import PartyRef, timestamp

TIME_ZONE = "Europe/Helsinki"
VAT_PERCENT = 25.5  # Finland's general VAT rate since 1 September 2024
AC_TARIFF = "AC-STANDARD"
DC_TARIFF = "DC-FAST"


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    standard: str
    format: str
    power_type: str
    max_voltage: int
    max_amperage: int
    max_electric_power: int
    tariff_id: str

    @property
    def kw(self) -> float:
        return self.max_electric_power / 1000.0


AC_22 = ConnectorSpec("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32, 22_080, AC_TARIFF)
AC_11 = ConnectorSpec("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 16, 11_040, AC_TARIFF)
DC_CCS = ConnectorSpec("IEC_62196_T2_COMBO", "CABLE", "DC", 500, 200, 100_000, DC_TARIFF)
DC_CHADEMO = ConnectorSpec("CHADEMO", "CABLE", "DC", 500, 100, 50_000, DC_TARIFF)


def assign_sites(
    sites: list[Site], parties: list[PartyRef], per_party: int, seed: int
) -> dict[PartyRef, list[Site]]:
    """Disjoint, seeded picks: charging stations and car parks first, then addresses."""
    rng = random.Random(f"{seed}:sites")
    ranked: list[Site] = []
    for kind in ("charging_station", "parking", "address"):
        group = [s for s in sites if s.kind == kind]
        rng.shuffle(group)
        ranked += group
    out: dict[PartyRef, list[Site]] = {party: [] for party in parties}
    for index, site in enumerate(ranked[: per_party * len(parties)]):
        out[parties[index % len(parties)]].append(site)
    return out


def location_id(site: Site) -> str:
    return f"LOC-{site.osm_type[0].upper()}{site.osm_id}"


def build_location(
    owner: PartyRef, operator: str, site: Site, rng: random.Random, now: datetime
) -> dict[str, Any]:
    stamp = timestamp(now)
    loc_id = location_id(site)
    evses = [
        _evse(owner, loc_id, number, spec, stamp)
        for number, spec in enumerate(_equipment(site, rng), start=1)
    ]
    location: dict[str, Any] = {
        "country_code": owner.country_code,
        "party_id": owner.party_id,
        "id": loc_id,
        "publish": True,
        "name": (site.name or f"{operator} {site.address}")[:255],
        "address": site.address,
        "city": site.city,
        "country": "FIN",
        "coordinates": {"latitude": f"{site.lat:.6f}", "longitude": f"{site.lon:.6f}"},
        "parking_type": _parking_type(site),
        "evses": evses,
        "operator": {"name": operator[:100]},
        "time_zone": TIME_ZONE,
        "last_updated": stamp,
    }
    if site.postcode:
        location["postal_code"] = site.postcode
    return location


def _equipment(site: Site, rng: random.Random) -> list[ConnectorSpec]:
    if site.kind == "charging_station":
        return [DC_CCS, DC_CCS, DC_CHADEMO, AC_22][: rng.randint(2, 4)]
    if site.kind == "parking":
        return [AC_22 if rng.random() < 0.5 else AC_11 for _ in range(rng.randint(2, 6))]
    return [AC_11 for _ in range(rng.randint(1, 2))]


def _parking_type(site: Site) -> str:
    if site.kind == "address":
        return "ON_STREET"
    if site.kind == "parking":
        return "PARKING_GARAGE" if site.osm_type == "node" else "PARKING_LOT"
    return "PARKING_LOT"


def _evse(
    owner: PartyRef, loc_id: str, number: int, spec: ConnectorSpec, stamp: str
) -> dict[str, Any]:
    uid = f"{loc_id}-{number}"
    connector = {
        "id": "1",
        "standard": spec.standard,
        "format": spec.format,
        "power_type": spec.power_type,
        "max_voltage": spec.max_voltage,
        "max_amperage": spec.max_amperage,
        "max_electric_power": spec.max_electric_power,
        "tariff_ids": [spec.tariff_id],
        "last_updated": stamp,
    }
    return {
        "uid": uid,
        "evse_id": f"{owner.country_code}*{owner.party_id}*E{loc_id[4:]}{number}",
        "status": "AVAILABLE",
        "capabilities": [
            "RESERVABLE",
            "REMOTE_START_STOP_CAPABLE",
            "RFID_READER",
            "UNLOCK_CAPABLE",
        ],
        "connectors": [connector],
        "physical_reference": str(number),
        "last_updated": stamp,
    }


def connector_spec(evse: dict[str, Any]) -> ConnectorSpec:
    connector = evse["connectors"][0]
    return ConnectorSpec(
        connector["standard"],
        connector["format"],
        connector["power_type"],
        connector["max_voltage"],
        connector["max_amperage"],
        connector["max_electric_power"],
        connector["tariff_ids"][0],
    )


def build_tariffs(owner: PartyRef, now: datetime) -> list[dict[str, Any]]:
    """Two tariffs: AC by energy and time; DC by energy, with parking after charging."""
    stamp = timestamp(now)
    base = {"country_code": owner.country_code, "party_id": owner.party_id, "currency": "EUR"}
    ac = {
        **base,
        "id": AC_TARIFF,
        "type": "REGULAR",
        "tariff_alt_text": [{"language": "en", "text": "0.29 EUR/kWh + 1.00 EUR/hour"}],
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.29, "vat": VAT_PERCENT, "step_size": 1},
                    {"type": "TIME", "price": 1.00, "vat": VAT_PERCENT, "step_size": 60},
                ]
            }
        ],
        "last_updated": stamp,
    }
    dc = {
        **base,
        "id": DC_TARIFF,
        "type": "REGULAR",
        "tariff_alt_text": [
            {"language": "en", "text": "0.49 EUR/kWh; parking 6.00 EUR/hour when not charging"}
        ],
        "elements": [
            {
                "price_components": [
                    {"type": "ENERGY", "price": 0.49, "vat": VAT_PERCENT, "step_size": 1},
                    {"type": "PARKING_TIME", "price": 6.00, "vat": VAT_PERCENT, "step_size": 60},
                ]
            }
        ],
        "last_updated": stamp,
    }
    return [ac, dc]


def tariff_prices(tariff: dict[str, Any]) -> dict[str, float]:
    """Price per unit (kWh or hour) excl. VAT by component type."""
    prices: dict[str, float] = {}
    for element in tariff["elements"]:
        for component in element["price_components"]:
            prices.setdefault(component["type"], float(component["price"]))
    return prices
