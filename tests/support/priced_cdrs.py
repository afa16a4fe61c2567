"""CDRs written for the price tests, in the spec's JSON shape, and the spec's own examples.

``priced_cdr`` builds a valid OCPI 2.2.1 CDR from its ChargingPeriods: each period is
(local wall-clock start, {dimension: volume}, tariff_id), and times are read in ``zone``
(the Location's time_zone) and written in UTC, as OCPI DateTimes are.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.support.shared import SPEC_EXAMPLES

BERLIN = ZoneInfo("Europe/Berlin")
HELSINKI = ZoneInfo("Europe/Helsinki")

type Volumes = dict[str, float]


def spec_example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SPEC_EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def utc(local: str, zone: ZoneInfo = BERLIN) -> str:
    """An OCPI DateTime of a wall-clock time in ``zone``."""
    moment = datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def tariff(tariff_id: str, *elements: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPL",
        "id": tariff_id,
        "currency": "EUR",
        "elements": list(elements),
        "last_updated": "2026-01-01T00:00:00Z",
        **fields,
    }


def element(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    found: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        found["restrictions"] = restrictions
    return found


def component(kind: str, price: float, step_size: int = 1, vat: float | None = None) -> Any:
    found: dict[str, Any] = {"type": kind, "price": price, "step_size": step_size}
    if vat is not None:
        found["vat"] = vat
    return found


def priced_cdr(
    cdr_id: str,
    periods: list[tuple[str, Volumes, str | None]],
    *,
    end: str,
    total_cost: dict[str, float],
    tariffs: list[dict[str, Any]] | None = None,
    zone: ZoneInfo = BERLIN,
    cpo: tuple[str, str] = ("NL", "CPL"),
    emsp: tuple[str, str] = ("DE", "EML"),
    **fields: Any,
) -> dict[str, Any]:
    energy = sum(v.get("ENERGY", 0.0) for _, v, _ in periods)
    hours = sum(v.get("TIME", 0.0) + v.get("PARKING_TIME", 0.0) for _, v, _ in periods)
    parking = sum(v.get("PARKING_TIME", 0.0) for _, v, _ in periods)
    found: dict[str, Any] = {
        "country_code": cpo[0],
        "party_id": cpo[1],
        "id": cdr_id,
        "start_date_time": utc(periods[0][0], zone),
        "end_date_time": utc(end, zone),
        "cdr_token": {
            "country_code": emsp[0],
            "party_id": emsp[1],
            "uid": "T1",
            "type": "RFID",
            "contract_id": f"{emsp[0]}-{emsp[1]}-CT1",
        },
        "auth_method": "WHITELIST",
        "cdr_location": {
            "id": "L1",
            "address": "Mannerheimintie 1",
            "city": "Helsinki",
            "country": "FIN",
            "coordinates": {"latitude": "60.169000", "longitude": "24.938000"},
            "evse_uid": "L1-E1",
            "evse_id": f"{cpo[0]}*{cpo[1]}*E1",
            "connector_id": "1",
            "connector_standard": "IEC_62196_T2",
            "connector_format": "SOCKET",
            "connector_power_type": "AC_3_PHASE",
        },
        "currency": "EUR",
        "charging_periods": [
            {
                "start_date_time": utc(start, zone),
                "dimensions": [{"type": kind, "volume": volume} for kind, volume in v.items()],
                **({"tariff_id": tariff_id} if tariff_id else {}),
            }
            for start, v, tariff_id in periods
        ],
        "total_cost": total_cost,
        "total_energy": round(energy, 6),
        "total_time": round(hours, 6),
        "total_parking_time": round(parking, 6),
        "last_updated": utc(end, zone),
        **fields,
    }
    if tariffs is not None:
        found["tariffs"] = tariffs
    return found


# One worked CDR the price tests share. The tariff: ENERGY 0.30/kWh in 100 Wh steps, TIME
# 1.20/h per minute, PARKING_TIME 6.00/h per 5 minutes, all at 24 % VAT.
STEPS = tariff(
    "STEPS",
    element(
        component("ENERGY", 0.30, step_size=100, vat=24.0),
        component("TIME", 1.20, step_size=60, vat=24.0),
        component("PARKING_TIME", 6.00, step_size=300, vat=24.0),
    ),
)
# Monday 2026-11-30 in Berlin: 45 min charging 8.25 kWh from 10:00, then 12 min parking.
# ENERGY 8.25 kWh in 100 Wh steps: 82.5 -> 83 steps = 8.3 kWh x 0.30 = 2.49.
# TIME 45 min x 1.20/h = 0.90: not rounded, parking follows (mod_cdrs, step_size).
# PARKING 12 min in 300 s steps -> 15 min = 0.25 h x 6.00 = 1.50.
# 2.49 + 0.90 + 1.50 = 4.89 excl.; x 1.24 = 6.0636 -> 6.06 incl.
STEPS_PERIODS: list[tuple[str, Volumes, str | None]] = [
    ("2026-11-30T10:00", {"ENERGY": 8.25, "TIME": 0.75}, "STEPS"),
    ("2026-11-30T10:45", {"PARKING_TIME": 0.2}, "STEPS"),
]
STEPS_END = "2026-11-30T10:57"


def steps_cdr(cdr_id: str, total_cost: dict[str, float], **fields: Any) -> dict[str, Any]:
    """The worked CDR above (4.89 / 6.06 under STEPS), stating ``total_cost``."""
    return priced_cdr(cdr_id, STEPS_PERIODS, end=STEPS_END, total_cost=total_cost, **fields)
