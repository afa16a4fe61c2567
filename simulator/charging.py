"""One charging session at a CPO: its energy over time, and its Session and CDR objects."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simulator.fleet import ConnectorSpec, tariff_prices
from simulator.protocol import PartyRef, timestamp

_HOUR = 3600.0


@dataclass
class Charge:
    """A car plugged in from ``start`` until ``departure``, charging until its demand is met."""

    id: str
    owner: PartyRef
    location: dict[str, Any]
    evse: dict[str, Any]
    spec: ConnectorSpec
    tariff: dict[str, Any]
    token: dict[str, Any]
    auth_method: str
    authorization_reference: str | None
    start: datetime
    departure: datetime
    energy_demand_kwh: float
    status: str = "ACTIVE"
    end: datetime | None = None
    periods: list[dict[str, Any]] = field(default_factory=list)
    reported_until: datetime | None = None

    @property
    def charging_until(self) -> datetime:
        hours = self.energy_demand_kwh / self.spec.kw
        return min(self.departure, self.start + timedelta(hours=hours))

    @property
    def emsp(self) -> PartyRef:
        return PartyRef.of(self.token["country_code"], self.token["party_id"])

    def energy_at(self, moment: datetime) -> float:
        charged = (min(moment, self.charging_until) - self.start).total_seconds()
        return round(max(0.0, charged) / _HOUR * self.spec.kw, 3)

    def advance(self, moment: datetime) -> list[dict[str, Any]]:
        """New charging periods from the last report up to ``moment`` (also kept on self)."""
        since = self.reported_until or self.start
        if moment <= since:
            return []
        new: list[dict[str, Any]] = []
        split = self.charging_until
        if since < split:
            until = min(moment, split)
            hours = (until - since).total_seconds() / _HOUR
            new.append(
                self._period(
                    since,
                    [
                        {"type": "ENERGY", "volume": round(hours * self.spec.kw, 3)},
                        {"type": "TIME", "volume": round(hours, 4)},
                    ],
                )
            )
        if moment > split:
            start = max(since, split)
            hours = (moment - start).total_seconds() / _HOUR
            new.append(self._period(start, [{"type": "PARKING_TIME", "volume": round(hours, 4)}]))
        self.periods += new
        self.reported_until = moment
        return new

    def _period(self, start: datetime, dimensions: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "start_date_time": timestamp(start),
            "dimensions": dimensions,
            "tariff_id": self.tariff["id"],
        }

    def costs(self, moment: datetime) -> dict[str, float]:
        """Cost excl. VAT by dimension, billing time per started minute (step_size 60)."""
        prices = tariff_prices(self.tariff)
        charging_s = max(0.0, (min(moment, self.charging_until) - self.start).total_seconds())
        parking_s = max(0.0, (moment - self.charging_until).total_seconds())
        return {
            "ENERGY": self.energy_at(moment) * prices.get("ENERGY", 0.0),
            "TIME": math.ceil(charging_s / 60) / 60 * prices.get("TIME", 0.0),
            "PARKING_TIME": math.ceil(parking_s / 60) / 60 * prices.get("PARKING_TIME", 0.0),
        }

    def total_cost(self, moment: datetime) -> dict[str, float]:
        return _price(sum(self.costs(moment).values()), self._vat())

    def _vat(self) -> float:
        components = self.tariff["elements"][0]["price_components"]
        return float(components[0].get("vat", 0.0))

    def cdr_token(self) -> dict[str, Any]:
        return {
            "country_code": self.token["country_code"],
            "party_id": self.token["party_id"],
            "uid": self.token["uid"],
            "type": self.token["type"],
            "contract_id": self.token["contract_id"],
        }

    def session(self, now: datetime) -> dict[str, Any]:
        moment = self.end or now
        body: dict[str, Any] = {
            "country_code": self.owner.country_code,
            "party_id": self.owner.party_id,
            "id": self.id,
            "start_date_time": timestamp(self.start),
            "kwh": self.energy_at(moment),
            "cdr_token": self.cdr_token(),
            "auth_method": self.auth_method,
            "location_id": self.location["id"],
            "evse_uid": self.evse["uid"],
            "connector_id": self.evse["connectors"][0]["id"],
            "currency": self.tariff["currency"],
            "charging_periods": list(self.periods),
            "total_cost": self.total_cost(moment),
            "status": self.status,
            "last_updated": timestamp(now),
        }
        if self.end is not None:
            body["end_date_time"] = timestamp(self.end)
        if self.authorization_reference:
            body["authorization_reference"] = self.authorization_reference
        return body

    def cdr(self, now: datetime) -> dict[str, Any]:
        end = self.end or now
        vat = self._vat()
        costs = self.costs(end)
        location = self.location
        total_h = (end - self.start).total_seconds() / _HOUR
        parking_h = max(0.0, (end - self.charging_until).total_seconds() / _HOUR)
        body: dict[str, Any] = {
            "country_code": self.owner.country_code,
            "party_id": self.owner.party_id,
            "id": self.id,
            "start_date_time": timestamp(self.start),
            "end_date_time": timestamp(end),
            "session_id": self.id,
            "cdr_token": self.cdr_token(),
            "auth_method": self.auth_method,
            "cdr_location": {
                "id": location["id"],
                "name": location.get("name"),
                "address": location["address"],
                "city": location["city"],
                "postal_code": location.get("postal_code"),
                "country": location["country"],
                "coordinates": location["coordinates"],
                "evse_uid": self.evse["uid"],
                "evse_id": self.evse["evse_id"],
                "connector_id": self.evse["connectors"][0]["id"],
                "connector_standard": self.spec.standard,
                "connector_format": self.spec.format,
                "connector_power_type": self.spec.power_type,
            },
            "currency": self.tariff["currency"],
            "tariffs": [self.tariff],
            "charging_periods": list(self.periods),
            "total_cost": _price(sum(costs.values()), vat),
            "total_energy": self.energy_at(end),
            "total_energy_cost": _price(costs["ENERGY"], vat),
            "total_time": round(total_h, 4),
            "total_time_cost": _price(costs["TIME"], vat),
            "total_parking_time": round(parking_h, 4),
            "total_parking_cost": _price(costs["PARKING_TIME"], vat),
            "last_updated": timestamp(now),
        }
        body["cdr_location"] = {k: v for k, v in body["cdr_location"].items() if v is not None}
        if self.authorization_reference:
            body["authorization_reference"] = self.authorization_reference
        return body


def _price(excl_vat: float, vat_percent: float) -> dict[str, float]:
    return {
        "excl_vat": round(excl_vat, 2),
        "incl_vat": round(excl_vat * (1 + vat_percent / 100), 2),
    }
