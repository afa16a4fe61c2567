"""The locations subgraph's types, read from the stored OCPI documents.

Entities carry their owner in their key (OCPI ids are unique per CPO only). A type holds the
document it reads from (``Doc``); nothing here queries row by row: related objects come through
the request's DataLoaders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Self, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from incar.timestamps import parse_timestamp
from subgraphs.common.context import GraphContext
from subgraphs.locations import pricing
from subgraphs.locations.graph.loaders import (
    Doc,
    booked_evses,
    doc_key,
    locations_by_key,
    tariffs_by_key,
)
from subgraphs.locations.graph.prices import PriceEstimateOut, estimate_under
from subgraphs.locations.opening import is_open
from subgraphs.locations.rows import connector_power_kw, renewable_percent
from subgraphs.locations.service import child

LOCATION_KEY = "countryCode partyId id"
EVSE_KEY = "countryCode partyId locationId uid"
CONNECTOR_KEY = "countryCode partyId locationId evseUid id"
TARIFF_KEY = "countryCode partyId id"


@strawberry.enum(description="An EVSE's status as its CPO last reported it (mod_locations).")
class EvseStatus(Enum):
    AVAILABLE = strawberry.enum_value("AVAILABLE", description="Free to charge.")
    BLOCKED = strawberry.enum_value("BLOCKED", description="Blocked, e.g. by a parked car.")
    CHARGING = strawberry.enum_value("CHARGING", description="In use: a car is charging.")
    INOPERATIVE = strawberry.enum_value("INOPERATIVE", description="Not working now.")
    OUTOFORDER = strawberry.enum_value("OUTOFORDER", description="Broken: out of order.")
    PLANNED = strawberry.enum_value("PLANNED", description="Planned, not yet in service.")
    REMOVED = strawberry.enum_value("REMOVED", description="Removed; kept for history.")
    RESERVED = strawberry.enum_value("RESERVED", description="Reserved for a driver.")
    UNKNOWN = strawberry.enum_value("UNKNOWN", description="No status known.")

    @classmethod
    def of(cls, value: Any) -> EvseStatus:
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@strawberry.type(description="A point on the map (WGS 84).")
class GeoPoint:
    latitude: float = strawberry.field(description="Degrees north, -90 to 90.")
    longitude: float = strawberry.field(description="Degrees east, -180 to 180.")

    @classmethod
    def of(cls, value: Any) -> GeoPoint | None:
        if not isinstance(value, Mapping):
            return None
        lat, lon = _float(value.get("latitude")), _float(value.get("longitude"))
        return cls(latitude=lat, longitude=lon) if lat is not None and lon is not None else None


@strawberry.type(description="A text in one language (OCPI DisplayText).")
class DisplayText:
    language: str = strawberry.field(description="ISO 639-1 language code.")
    text: str = strawberry.field(description="The text.")


def _display(values: Any) -> list[DisplayText]:
    return [
        DisplayText(language=str(v.get("language", "")), text=str(v.get("text", "")))
        for v in values or []
        if isinstance(v, Mapping)
    ]


@strawberry.type(description="A business: operator, suboperator or owner of a Location.")
class BusinessDetails:
    name: str = strawberry.field(description="The business's name.")
    website: str | None = strawberry.field(description="Its website.")

    @classmethod
    def of(cls, value: Any) -> BusinessDetails | None:
        if not isinstance(value, Mapping) or not isinstance(value.get("name"), str):
            return None
        return cls(name=value["name"], website=_text(value.get("website")))


@strawberry.type(description="Regular opening hours on one weekday.")
class RegularHours:
    weekday: int = strawberry.field(description="1 is Monday, 7 is Sunday.")
    period_begin: str = strawberry.field(description="Local opening time, HH:MM.")
    period_end: str = strawberry.field(
        description="Local closing time, HH:MM; before periodBegin when open past midnight."
    )


@strawberry.type(description="An exceptional opening or closing, in UTC.")
class ExceptionalPeriod:
    period_begin: datetime = strawberry.field(description="Begins (UTC).")
    period_end: datetime = strawberry.field(description="Ends (UTC).")


def _periods(values: Any) -> list[ExceptionalPeriod]:
    periods = []
    for value in values or []:
        try:
            periods.append(
                ExceptionalPeriod(
                    period_begin=parse_timestamp(value["period_begin"]),
                    period_end=parse_timestamp(value["period_end"]),
                )
            )
        except (KeyError, TypeError, ValueError):
            continue
    return periods


@strawberry.type(description="When a Location can be used for charging (OCPI Hours).")
class OpeningTimes:
    twentyfourseven: bool = strawberry.field(description="Open around the clock.")
    regular_hours: list[RegularHours] = strawberry.field(description="Opening hours by weekday.")
    exceptional_openings: list[ExceptionalPeriod] = strawberry.field(
        description="Open at these times whatever the regular hours say."
    )
    exceptional_closings: list[ExceptionalPeriod] = strawberry.field(
        description="Closed at these times whatever else says so."
    )

    @classmethod
    def of(cls, value: Any) -> OpeningTimes | None:
        if not isinstance(value, Mapping):
            return None
        return cls(
            twentyfourseven=value.get("twentyfourseven") is True,
            regular_hours=[
                RegularHours(
                    weekday=int(h["weekday"]),
                    period_begin=str(h["period_begin"]),
                    period_end=str(h["period_end"]),
                )
                for h in value.get("regular_hours") or []
                if isinstance(h, Mapping) and {"weekday", "period_begin", "period_end"} <= set(h)
            ],
            exceptional_openings=_periods(value.get("exceptional_openings")),
            exceptional_closings=_periods(value.get("exceptional_closings")),
        )


@strawberry.federation.type(
    keys=[TARIFF_KEY], description="A CPO's tariff (OCPI Tariff), as its CPO published it."
)
class Tariff:
    country_code: str = strawberry.field(description="Country of the CPO that owns it.")
    party_id: str = strawberry.field(description="Party id of the CPO that owns it.")
    id: strawberry.ID = strawberry.field(description="The tariff's id, unique per CPO.")
    doc: strawberry.Private[Doc]

    @classmethod
    def of(cls, doc: Doc) -> Tariff:
        return cls(
            country_code=doc.country_code,
            party_id=doc.party_id,
            id=strawberry.ID(doc.data["id"]),
            doc=doc,
        )

    @classmethod
    async def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self | None:
        """A representation's key fields arrive as the gateway names them (camelCase)."""
        doc = await tariffs_by_key(info.context).load(
            doc_key(key["countryCode"], key["partyId"], key["id"])
        )
        return cls.of(doc) if doc else None  # type: ignore[return-value]

    @strawberry.field(description="ISO 4217 currency of its prices.")
    def currency(self) -> str:
        return str(self.doc.data.get("currency", ""))

    @strawberry.field(description="OCPI tariff type (AD_HOC_PAYMENT, PROFILE_CHEAP, ...), if any.")
    def type(self) -> str | None:
        return _text(self.doc.data.get("type"))

    @strawberry.field(
        description="The tariff's text in the first of these languages it is given in (e.g. "
        '["fi", "en"]; "fi-FI" matches "fi"), else English, else the first given.'
    )
    def text(
        self,
        languages: Annotated[
            list[str] | None,
            strawberry.argument(description="The reader's languages (ISO 639-1), preferred first."),
        ] = None,
    ) -> str | None:
        return pricing.tariff_text(self.doc.data, languages or [])

    @strawberry.field(description="The tariff's texts, in every language the CPO gave.")
    def alt_text(self) -> list[DisplayText]:
        return _display(self.doc.data.get("tariff_alt_text"))

    @strawberry.field(description="A web page about the tariff.")
    def alt_url(self) -> str | None:
        return _text(self.doc.data.get("tariff_alt_url"))

    @strawberry.field(
        description="The tariff's elements as OCPI gives them (prices, restrictions)."
    )
    def elements(self) -> JSON:
        return cast(JSON, self.doc.data.get("elements") or [])

    @strawberry.field(description="Valid from (UTC), if limited.")
    def start_date_time(self) -> datetime | None:
        value = self.doc.data.get("start_date_time")
        return parse_timestamp(value) if isinstance(value, str) else None

    @strawberry.field(description="Valid until (UTC), if limited.")
    def end_date_time(self) -> datetime | None:
        value = self.doc.data.get("end_date_time")
        return parse_timestamp(value) if isinstance(value, str) else None

    @strawberry.field(description="When its CPO last changed it.")
    def last_updated(self) -> datetime:
        return parse_timestamp(self.doc.data["last_updated"])


@strawberry.federation.type(keys=[CONNECTOR_KEY], description="A plug or socket of an EVSE.")
class Connector:
    country_code: str = strawberry.field(description="Country of the CPO that operates it.")
    party_id: str = strawberry.field(description="Party id of the CPO that operates it.")
    location_id: str = strawberry.field(description="Its Location's id.")
    evse_uid: str = strawberry.field(description="Its EVSE's uid.")
    id: strawberry.ID = strawberry.field(description="The connector's id within its EVSE.")
    data: strawberry.Private[Mapping[str, Any]]

    @classmethod
    def of(cls, location: Doc, evse: Mapping[str, Any], data: Mapping[str, Any]) -> Connector:
        return cls(
            country_code=location.country_code,
            party_id=location.party_id,
            location_id=str(location.data["id"]),
            evse_uid=str(evse["uid"]),
            id=strawberry.ID(str(data["id"])),
            data=data,
        )

    @classmethod
    async def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self | None:
        doc = await locations_by_key(info.context).load(
            doc_key(key["countryCode"], key["partyId"], key["locationId"])
        )
        evse = child(doc.data.get("evses"), "uid", key["evseUid"]) if doc else None
        connector = child(evse.get("connectors"), "id", key["id"]) if evse else None
        if doc is None or evse is None or connector is None:
            return None
        return cls.of(doc, evse, connector)  # type: ignore[return-value]

    @strawberry.field(description="Plug standard (OCPI ConnectorType, e.g. IEC_62196_T2_COMBO).")
    def standard(self) -> str:
        return str(self.data.get("standard", ""))

    @strawberry.field(description="SOCKET (bring a cable) or CABLE (attached).")
    def format(self) -> str:
        return str(self.data.get("format", ""))

    @strawberry.field(description="AC_1_PHASE, AC_2_PHASE, AC_2_PHASE_SPLIT, AC_3_PHASE or DC.")
    def power_type(self) -> str:
        return str(self.data.get("power_type", ""))

    @strawberry.field(description="Maximum voltage in V (line to neutral for AC_3_PHASE).")
    def max_voltage(self) -> int | None:
        value = self.data.get("max_voltage")
        return int(value) if isinstance(value, int) else None

    @strawberry.field(description="Maximum current in A.")
    def max_amperage(self) -> int | None:
        value = self.data.get("max_amperage")
        return int(value) if isinstance(value, int) else None

    @strawberry.field(
        description="The most power it delivers, in kW: the CPO's max_electric_power where "
        "given, else voltage x current x phases."
    )
    def max_power_kw(self) -> float:
        return connector_power_kw(self.data)

    @strawberry.field(description="Ids of the tariffs that apply (of the same CPO).")
    def tariff_ids(self) -> list[str]:
        return [str(t) for t in self.data.get("tariff_ids") or []]

    @strawberry.field(description="The tariffs that apply, as their CPO published them.")
    async def tariffs(self, info: Info[GraphContext, None]) -> list[Tariff]:
        loader = tariffs_by_key(info.context)
        docs = await loader.load_many(
            [doc_key(self.country_code, self.party_id, t) for t in self.tariff_ids()]
        )
        return [Tariff.of(doc) for doc in docs if doc is not None]

    @strawberry.field(
        description="What a session on this connector would cost under each of its tariffs: "
        "constant power at the lesser of the car's and the connector's maximum, charging "
        "until the energy or the duration is reached, whichever comes first, then parking."
    )
    async def price_estimates(
        self,
        info: Info[GraphContext, None],
        car_max_power_kw: Annotated[
            float, strawberry.argument(description="The most the car takes, in kW.")
        ],
        energy_kwh: Annotated[
            float | None, strawberry.argument(description="Energy to charge, in kWh.")
        ] = None,
        duration_minutes: Annotated[
            float | None, strawberry.argument(description="Longest time charging, in minutes.")
        ] = None,
        parking_minutes: Annotated[
            float, strawberry.argument(description="Time parked after charging, in minutes.")
        ] = 0.0,
        start: Annotated[
            datetime | None,
            strawberry.argument(description="When charging starts; now when left out."),
        ] = None,
    ) -> list[PriceEstimateOut]:
        location = await locations_by_key(info.context).load(
            doc_key(self.country_code, self.party_id, self.location_id)
        )
        zone = (location.data.get("time_zone") if location else None) or "UTC"
        docs = await tariffs_by_key(info.context).load_many(
            [doc_key(self.country_code, self.party_id, t) for t in self.tariff_ids()]
        )
        return [
            estimate_under(
                doc,
                start=start or info.context.now(),
                time_zone=str(zone),
                evse_max_power_kw=self.max_power_kw(),
                car_max_power_kw=car_max_power_kw,
                energy_kwh=energy_kwh,
                duration_minutes=duration_minutes,
                parking_minutes=parking_minutes,
            )
            for doc in docs
            if doc is not None
        ]

    @strawberry.field(description="A web page with the terms of use, if any.")
    def terms_and_conditions(self) -> str | None:
        return _text(self.data.get("terms_and_conditions"))

    @strawberry.field(description="When its CPO last changed it.")
    def last_updated(self) -> datetime:
        return parse_timestamp(self.data["last_updated"])


@strawberry.federation.type(
    keys=[EVSE_KEY],
    description="A charging point (OCPI EVSE): one car charges at a time, on one connector.",
)
class Evse:
    country_code: str = strawberry.field(description="Country of the CPO that operates it.")
    party_id: str = strawberry.field(description="Party id of the CPO that operates it.")
    location_id: str = strawberry.field(description="Its Location's id.")
    uid: str = strawberry.field(description="The EVSE's uid, unique within its CPO.")
    location_doc: strawberry.Private[Doc]
    data: strawberry.Private[Mapping[str, Any]]

    @classmethod
    def of(cls, location: Doc, data: Mapping[str, Any]) -> Evse:
        return cls(
            country_code=location.country_code,
            party_id=location.party_id,
            location_id=str(location.data["id"]),
            uid=str(data["uid"]),
            location_doc=location,
            data=data,
        )

    @classmethod
    async def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self | None:
        return await cls.load(  # type: ignore[return-value]
            info.context, key["countryCode"], key["partyId"], key["locationId"], key["uid"]
        )

    @classmethod
    async def load(
        cls, context: GraphContext, country_code: str, party_id: str, location_id: str, uid: str
    ) -> Evse | None:
        doc = await locations_by_key(context).load(doc_key(country_code, party_id, location_id))
        evse = child(doc.data.get("evses"), "uid", uid) if doc else None
        return cls.of(doc, evse) if doc and evse else None

    @strawberry.field(description="The eMI3 EVSE id printed on the charger (e.g. NL*CPA*E123).")
    def evse_id(self) -> str | None:
        return _text(self.data.get("evse_id"))

    @strawberry.field(
        description="Its status for drivers: RESERVED while a booking made through the graph "
        "holds it (at once, before its CPO confirms), else what its CPO last reported."
    )
    async def status(self, info: Info[GraphContext, None]) -> EvseStatus:
        key = (self.country_code, self.party_id, self.location_id.upper(), self.uid.upper())
        if await booked_evses(info.context).load(key):
            return EvseStatus.RESERVED
        return EvseStatus.of(self.data.get("status"))

    @strawberry.field(description="The status its CPO last reported.")
    def cpo_status(self) -> EvseStatus:
        return EvseStatus.of(self.data.get("status"))

    @strawberry.field(description="What it can do (OCPI Capability: RESERVABLE, ...).")
    def capabilities(self) -> list[str]:
        return [str(c) for c in self.data.get("capabilities") or []]

    @strawberry.field(description="Whether it can be booked ahead (the RESERVABLE capability).")
    def reservable(self) -> bool:
        return "RESERVABLE" in (self.data.get("capabilities") or [])

    @strawberry.field(description="Its connectors; one at a time can charge.")
    def connectors(self) -> list[Connector]:
        return [
            Connector.of(self.location_doc, self.data, c)
            for c in self.data.get("connectors") or []
            if isinstance(c, Mapping)
        ]

    @strawberry.field(description="The most power any of its connectors delivers, in kW.")
    def max_power_kw(self) -> float:
        return max((c.max_power_kw() for c in self.connectors()), default=0.0)

    @strawberry.field(description="Where it stands, if not at its Location's point.")
    def coordinates(self) -> GeoPoint | None:
        return GeoPoint.of(self.data.get("coordinates"))

    @strawberry.field(description="Floor level in a car park, if any.")
    def floor_level(self) -> str | None:
        return _text(self.data.get("floor_level"))

    @strawberry.field(description="A number or name on the charger to find it by.")
    def physical_reference(self) -> str | None:
        return _text(self.data.get("physical_reference"))

    @strawberry.field(description="Directions to it, in the languages the CPO gave.")
    def directions(self) -> list[DisplayText]:
        return _display(self.data.get("directions"))

    @strawberry.field(description="Who may park there (EV_ONLY, PLUGGED, DISABLED, ...).")
    def parking_restrictions(self) -> list[str]:
        return [str(r) for r in self.data.get("parking_restrictions") or []]

    @strawberry.field(description="Its Location.")
    def location(self) -> Location:
        return Location.of(self.location_doc)

    @strawberry.field(description="When its CPO last changed it.")
    def last_updated(self) -> datetime:
        return parse_timestamp(
            self.data.get("last_updated") or self.location_doc.data["last_updated"]
        )


@strawberry.federation.type(
    keys=[LOCATION_KEY],
    description="A charging station site (OCPI Location) with its EVSEs, as its CPO publishes it.",
)
class Location:
    country_code: str = strawberry.field(description="Country of the CPO that operates it.")
    party_id: str = strawberry.field(description="Party id of the CPO that operates it.")
    id: strawberry.ID = strawberry.field(description="The Location's id, unique within its CPO.")
    doc: strawberry.Private[Doc]

    @classmethod
    def of(cls, doc: Doc) -> Location:
        return cls(
            country_code=doc.country_code,
            party_id=doc.party_id,
            id=strawberry.ID(str(doc.data["id"])),
            doc=doc,
        )

    @classmethod
    async def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self | None:
        doc = await locations_by_key(info.context).load(
            doc_key(key["countryCode"], key["partyId"], key["id"])
        )
        return cls.of(doc) if doc else None  # type: ignore[return-value]

    def _get(self, field: str) -> str | None:
        return _text(self.doc.data.get(field))

    @strawberry.field(description="Its name, if the CPO gave one.")
    def name(self) -> str | None:
        return self._get("name")

    @strawberry.field(description="Street and number.")
    def address(self) -> str:
        return self._get("address") or ""

    @strawberry.field(description="City or town.")
    def city(self) -> str:
        return self._get("city") or ""

    @strawberry.field(description="Postal code, if any.")
    def postal_code(self) -> str | None:
        return self._get("postal_code")

    @strawberry.field(description="ISO 3166-1 alpha-3 country of the site.")
    def country(self) -> str:
        return self._get("country") or ""

    @strawberry.field(description="Where it is.")
    def coordinates(self) -> GeoPoint:
        return GeoPoint.of(self.doc.data.get("coordinates")) or GeoPoint(latitude=0, longitude=0)

    @strawberry.field(description="IANA time zone of its opening hours, e.g. Europe/Helsinki.")
    def time_zone(self) -> str | None:
        return self._get("time_zone")

    @strawberry.field(description="Who operates it.")
    def operator(self) -> BusinessDetails | None:
        return BusinessDetails.of(self.doc.data.get("operator"))

    @strawberry.field(description="Kind of parking (ON_STREET, PARKING_GARAGE, ...), if known.")
    def parking_type(self) -> str | None:
        return self._get("parking_type")

    @strawberry.field(description="Facilities nearby (HOTEL, CAFE, ...).")
    def facilities(self) -> list[str]:
        return [str(f) for f in self.doc.data.get("facilities") or []]

    @strawberry.field(description="When it can be used; null when the CPO publishes no hours.")
    def opening_times(self) -> OpeningTimes | None:
        return OpeningTimes.of(self.doc.data.get("opening_times"))

    @strawberry.field(
        description="Whether it is open now, by the platform's clock (simulated in the demo); "
        "a Location without published hours counts as open."
    )
    def open_now(self, info: Info[GraphContext, None]) -> bool:
        return is_open(self.doc.data.get("opening_times"), self.time_zone(), info.context.now())

    @strawberry.field(description="Share of renewable energy in its supply, in percent, if given.")
    def renewable_percent(self) -> float | None:
        return renewable_percent(self.doc.data)

    @strawberry.field(description="Its EVSEs, removed ones included (status REMOVED).")
    def evses(self) -> list[Evse]:
        return [
            Evse.of(self.doc, e) for e in self.doc.data.get("evses") or [] if isinstance(e, Mapping)
        ]

    def evses_by_key(self, keys: Sequence[str]) -> list[Evse]:
        wanted = {key.upper() for key in keys}
        by_key = {e.uid.upper(): e for e in self.evses()}
        return [by_key[k] for k in keys if k.upper() in wanted and k.upper() in by_key]

    @strawberry.field(description="When its CPO last changed it (or any of its EVSEs).")
    def last_updated(self) -> datetime:
        return parse_timestamp(self.doc.data["last_updated"])
