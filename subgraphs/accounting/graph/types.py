"""The accounting subgraph's types, read from the stored CDR documents as their CPOs sent them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Self, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from subgraphs.accounting.graph.ledger import LedgerEntry
from subgraphs.accounting.graph.loaders import (
    cdrs_by_key,
    cdrs_by_session,
    ledger_entries,
    viewer_audience,
)
from subgraphs.accounting.graph.price_check import PriceCheck
from subgraphs.accounting.models import Cdr as CdrRow
from subgraphs.common.context import GraphContext
from subgraphs.common.keys import reference_key, sent_fields
from subgraphs.common.money import Price


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@strawberry.type(description="The token a CDR was charged with (OCPI CdrToken).")
class CdrToken:
    uid: str = strawberry.field(description="The token's uid.")
    type: str = strawberry.field(description="RFID, APP_USER, AD_HOC_USER or OTHER.")
    contract_id: str = strawberry.field(description="The contract id (eMA id) it belongs to.")
    country_code: str = strawberry.field(description="Country of the eMSP that issued it.")
    party_id: str = strawberry.field(description="Party id of the eMSP that issued it.")


@strawberry.type(description="Where a CDR's charging happened, as the CDR says (CdrLocation).")
class CdrLocation:
    id: str = strawberry.field(description="The Location's id.")
    name: str | None = strawberry.field(description="The Location's name, if given.")
    address: str = strawberry.field(description="Street and number.")
    city: str = strawberry.field(description="City or town.")
    country: str = strawberry.field(description="ISO 3166-1 alpha-3 country code.")
    evse_uid: str = strawberry.field(description="The EVSE's uid.")
    evse_id: str = strawberry.field(description="The EVSE's eMI3 id.")
    connector_id: str = strawberry.field(description="The connector's id.")


@strawberry.federation.type(
    keys=["countryCode partyId id"],
    description="A charge detail record as its CPO issued it: immutable (a correction is a "
    "credit CDR), and appended to the hub's ledger.",
)
class Cdr:
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    id: strawberry.ID = strawberry.field(description="The CDR's id, unique per CPO.")
    row: strawberry.Private[CdrRow]

    @classmethod
    def of(cls, row: CdrRow) -> Cdr:
        return cls(**sent_fields(row), row=row)

    @classmethod
    async def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self | None:
        row = await cdrs_by_key(info.context).load(reference_key(key))
        audience = viewer_audience(info.context.viewer)
        if row is None or audience is None or not audience.sees(row):
            return None
        return cls(country_code=row.country_code, party_id=row.party_id, id=key["id"], row=row)

    @property
    def _data(self) -> Mapping[str, Any]:
        return self.row.data

    def _price(self, name: str) -> Price | None:
        return Price.of(self._data.get(name))

    @strawberry.field(description="When the charging started (UTC).")
    def start_date_time(self) -> datetime:
        assert self.row.start_date_time is not None  # OCPI requires it; validated on arrival
        return self.row.start_date_time

    @strawberry.field(description="When the charging ended (UTC).")
    def end_date_time(self) -> datetime | None:
        return self.row.end_date_time

    @strawberry.field(description="The id of the session it bills, if its CPO gave one.")
    def session_id(self) -> str | None:
        return _text(self._data.get("session_id"))

    @strawberry.field(description="The token it was charged with.")
    def cdr_token(self) -> CdrToken | None:
        token = self._data.get("cdr_token")
        if not isinstance(token, Mapping):
            return None
        return CdrToken(
            uid=str(token.get("uid", "")),
            type=str(token.get("type", "")),
            contract_id=str(token.get("contract_id", "")),
            country_code=str(token.get("country_code", "")),
            party_id=str(token.get("party_id", "")),
        )

    @strawberry.field(description="How it was authorised (AUTH_REQUEST, COMMAND, WHITELIST).")
    def auth_method(self) -> str:
        return str(self._data.get("auth_method", ""))

    @strawberry.field(description="Where it happened.")
    def cdr_location(self) -> CdrLocation | None:
        place = self._data.get("cdr_location")
        if not isinstance(place, Mapping):
            return None
        return CdrLocation(
            id=str(place.get("id", "")),
            name=_text(place.get("name")),
            address=str(place.get("address", "")),
            city=str(place.get("city", "")),
            country=str(place.get("country", "")),
            evse_uid=str(place.get("evse_uid", "")),
            evse_id=str(place.get("evse_id", "")),
            connector_id=str(place.get("connector_id", "")),
        )

    @strawberry.field(description="ISO 4217 currency of its costs.")
    def currency(self) -> str:
        return str(self._data.get("currency", ""))

    @strawberry.field(description="The ids of the tariffs it carries or its periods name.")
    def tariff_ids(self) -> list[str]:
        ids = [t.get("id") for t in self._data.get("tariffs") or () if isinstance(t, Mapping)]
        ids += [
            p.get("tariff_id")
            for p in self._data.get("charging_periods") or ()
            if isinstance(p, Mapping)
        ]
        return sorted({i for i in ids if isinstance(i, str)})

    @strawberry.field(description="Its charging periods as the CPO reports them (OCPI).")
    def charging_periods(self) -> JSON:
        return cast(JSON, self._data.get("charging_periods") or [])

    @strawberry.field(description="Total cost, VAT excluded and included.")
    def total_cost(self) -> Price | None:
        return self._price("total_cost")

    @strawberry.field(description="The fixed part of its cost, if given.")
    def total_fixed_cost(self) -> Price | None:
        return self._price("total_fixed_cost")

    @strawberry.field(description="Energy charged, in kWh.")
    def total_energy(self) -> float:
        return _number(self._data.get("total_energy")) or 0.0

    @strawberry.field(description="The energy part of its cost, if given.")
    def total_energy_cost(self) -> Price | None:
        return self._price("total_energy_cost")

    @strawberry.field(description="Duration of the charging session, in hours.")
    def total_time(self) -> float:
        return _number(self._data.get("total_time")) or 0.0

    @strawberry.field(description="The time part of its cost, if given.")
    def total_time_cost(self) -> Price | None:
        return self._price("total_time_cost")

    @strawberry.field(description="Time not charging (parking), in hours, if given.")
    def total_parking_time(self) -> float | None:
        return _number(self._data.get("total_parking_time"))

    @strawberry.field(description="The parking part of its cost, if given.")
    def total_parking_cost(self) -> Price | None:
        return self._price("total_parking_cost")

    @strawberry.field(description="The reservation part of its cost, if given.")
    def total_reservation_cost(self) -> Price | None:
        return self._price("total_reservation_cost")

    @strawberry.field(description="Whether it is a credit CDR (a correction of another).")
    def credit(self) -> bool:
        return self._data.get("credit") is True

    @strawberry.field(description="The id of the CDR a credit CDR corrects.")
    def credit_reference_id(self) -> str | None:
        return _text(self._data.get("credit_reference_id"))

    @strawberry.field(description="When its CPO last changed it.")
    def last_updated(self) -> datetime:
        return self.row.last_updated

    @strawberry.field(
        description="Its entry in the hub's ledger; null for a CDR stored before the ledger."
    )
    async def ledger_entry(self, info: Info[GraphContext, None]) -> LedgerEntry | None:
        row = self.row
        found = await ledger_entries(info.context).load(
            (row.country_code, row.party_id, row.object_id)
        )
        return LedgerEntry(row=found) if found is not None else None

    @strawberry.field(
        description="The hub's check of its total_cost against its tariffs, made when it "
        "arrived; null for a CDR stored before the check existed."
    )
    def price_check(self) -> PriceCheck | None:
        checked = self.row.checked_price()
        return None if checked is None else PriceCheck.of(checked)

    @strawberry.field(description="The CDR as its CPO sent it (OCPI JSON).")
    def document(self) -> JSON:
        return cast(JSON, dict(self._data))


@strawberry.federation.type(
    keys=["countryCode partyId id"],
    description="A charging session as its CPO reports it (of the sessions subgraph), with "
    "the CDR that bills it.",
)
class Session:
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    id: strawberry.ID = strawberry.field(description="The session's id, unique per CPO.")

    @classmethod
    def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self:
        # Who may see the session is the sessions subgraph's to say; its CDR is checked here.
        return cls(country_code=key["countryCode"], party_id=key["partyId"], id=key["id"])

    @strawberry.field(
        description="The CDR its CPO issued for it (credit CDRs aside), once it has; null "
        "until then, or if the viewer may not see it."
    )
    async def cdr(self, info: Info[GraphContext, None]) -> Cdr | None:
        audience = viewer_audience(info.context.viewer)
        if audience is None:
            return None
        rows = await cdrs_by_session(info.context).load(
            (self.country_code.upper(), self.party_id.upper(), str(self.id).upper())
        )
        billing = [r for r in rows if r.data.get("credit") is not True and audience.sees(r)]
        return Cdr.of(billing[0]) if billing else None
