"""The query columns of a CDR, derived from its document in the same write.

The search filters and the totals read these columns, never the JSON: a CDR's place (location,
EVSE), its driver (token uid), its session, its period (``start_date_time``) and the figures an
accountant adds up. One derivation, used by the service and by the migration that fills the
columns of CDRs stored before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from incar.timestamps import parse_timestamp


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _time(value: Any) -> datetime | None:
    return parse_timestamp(value) if isinstance(value, str) else None


def query_columns(data: Mapping[str, Any]) -> dict[str, Any]:
    """The Cdr row's query columns of a CDR document (ids upper-cased: CiStrings)."""
    token = data.get("cdr_token") or {}
    place = data.get("cdr_location") or {}
    cost = data.get("total_cost") or {}
    return {
        "emsp_country_code": _upper(token.get("country_code")),
        "emsp_party_id": _upper(token.get("party_id")),
        "token_uid": _upper(token.get("uid")),
        "location_id": _upper(place.get("id")),
        "evse_uid": _upper(place.get("evse_uid")),
        "session_id": _upper(data.get("session_id")),
        "start_date_time": _time(data.get("start_date_time")),
        "end_date_time": _time(data.get("end_date_time")),
        "currency": _upper(data.get("currency")),
        "total_energy": _number(data.get("total_energy")),
        "total_time": _number(data.get("total_time")),
        "total_parking_time": _number(data.get("total_parking_time")),
        "cost_excl_vat": _number(cost.get("excl_vat")) if isinstance(cost, Mapping) else None,
        "cost_incl_vat": _number(cost.get("incl_vat")) if isinstance(cost, Mapping) else None,
    }


def tariff_ids(data: Mapping[str, Any]) -> set[str]:
    """The tariffs a CDR names: those it carries, and those its charging periods point at."""
    found = {_upper(t.get("id")) for t in data.get("tariffs") or () if isinstance(t, Mapping)}
    found |= {
        _upper(p.get("tariff_id"))
        for p in data.get("charging_periods") or ()
        if isinstance(p, Mapping)
    }
    return {tariff for tariff in found if tariff}
