"""The accounting subgraph: CDR search, totals and each CDR's ledger entry, for the parties
of a CDR and its driver only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from subgraphs.accounting import search
from subgraphs.accounting import totals as adding
from subgraphs.accounting.graph.loaders import audience_of
from subgraphs.accounting.graph.price_check import PriceCheckFilter
from subgraphs.accounting.graph.totals import CdrTotals, Period
from subgraphs.accounting.graph.types import Cdr, Session
from subgraphs.common import roots
from subgraphs.common.app import federation_schema
from subgraphs.common.arguments import CountryCode, PartyId
from subgraphs.common.context import GraphContext
from subgraphs.common.errors import bad_input
from subgraphs.common.pagination import PageInfo


def _utc(moment: datetime | None) -> datetime | None:
    """A moment given without an offset is UTC (as OCPI's DateTime)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@strawberry.input(
    description="Which CDRs: every filter given must hold. Ids are matched case-insensitively."
)
class CdrFilter:
    start_from: datetime | None = strawberry.field(
        default=None,
        description="Charging started at or after this moment (its start_date_time; UTC if "
        "no offset is given).",
    )
    start_to: datetime | None = strawberry.field(
        default=None, description="Charging started before this moment."
    )
    cpo_country_code: str | None = strawberry.field(
        default=None, description="Of this CPO (with cpoPartyId)."
    )
    cpo_party_id: str | None = strawberry.field(
        default=None, description="Of this CPO (with cpoCountryCode)."
    )
    emsp_country_code: str | None = strawberry.field(
        default=None, description="Of this eMSP's customers (with emspPartyId)."
    )
    emsp_party_id: str | None = strawberry.field(
        default=None, description="Of this eMSP's customers (with emspCountryCode)."
    )
    location_id: str | None = strawberry.field(
        default=None, description="At this Location of the CPO given (cpoCountryCode, cpoPartyId)."
    )
    evse_uid: str | None = strawberry.field(default=None, description="On this EVSE (its uid).")
    token_uid: str | None = strawberry.field(
        default=None, description="Charged with this token (cdr_token.uid)."
    )
    tariff_id: str | None = strawberry.field(
        default=None, description="Priced with this tariff (carried, or named by a period)."
    )
    price_check: PriceCheckFilter | None = strawberry.field(
        default=None, description="By the hub's check of its price (e.g. the MISMATCHes)."
    )

    def search_filter(self) -> search.CdrFilter:
        cpo = _party("cpo", self.cpo_country_code, self.cpo_party_id)
        if self.location_id is not None and cpo is None:
            raise bad_input(
                "locationId: name its CPO too (cpoCountryCode, cpoPartyId); a Location id is "
                "unique per CPO only"
            )
        return search.CdrFilter(
            start_from=_utc(self.start_from),
            start_to=_utc(self.start_to),
            location=search.LocationRef(cpo[0], cpo[1], self.location_id)
            if cpo and self.location_id
            else None,
            evse_uid=self.evse_uid,
            token_uid=self.token_uid,
            tariff_id=self.tariff_id,
            cpo=cpo,
            emsp=_party("emsp", self.emsp_country_code, self.emsp_party_id),
            price_check=self.price_check.statuses() if self.price_check else None,
        )


def _party(role: str, country_code: str | None, party_id: str | None) -> search.Party | None:
    if country_code is None and party_id is None:
        return None
    if country_code is None or party_id is None:
        raise bad_input(f"{role}CountryCode and {role}PartyId go together")
    return country_code.upper(), party_id.upper()


def filter_of(given: CdrFilter | None) -> search.CdrFilter:
    found = given.search_filter() if given else search.CdrFilter()
    try:
        found.check()
    except search.SearchError as problem:
        raise bad_input(str(problem)) from None
    return found


@strawberry.type(description="One CDR of a search.")
class CdrEdge:
    cursor: str = strawberry.field(description="Pass as `after` for the CDRs after this one.")
    node: Cdr = strawberry.field(description="The CDR.")


@strawberry.type(description="A page of CDRs, in the order their charging started.")
class CdrConnection:
    edges: list[CdrEdge] = strawberry.field(description="The CDRs of this page.")
    page_info: PageInfo = strawberry.field(description="Whether more follow.")


Filter = Annotated[
    CdrFilter | None,
    strawberry.argument(description="Which CDRs; all the viewer sees if left out."),
]


@strawberry.type(description=roots.QUERY)
class Query:
    @strawberry.field(
        description="CDRs the viewer may see (a CPO those of its locations, an eMSP its "
        "customers', a driver their own), in the order their charging started."
    )
    async def cdrs(
        self,
        info: Info[GraphContext, None],
        filter: Filter = None,
        first: Annotated[
            int, strawberry.argument(description=f"How many: from 1 to {search.MAX_PAGE}.")
        ] = 20,
        after: Annotated[
            str | None,
            strawberry.argument(description="The endCursor of the page before, to read on."),
        ] = None,
    ) -> CdrConnection:
        audience = audience_of(info.context)
        chosen = filter_of(filter)
        try:
            async with info.context.runtime.db.transaction() as tx:
                page = await search.page(
                    tx, audience=audience, filter=chosen, first=first, after_cursor=after
                )
        except search.SearchError as problem:
            raise bad_input(str(problem)) from None
        edges = [
            CdrEdge(cursor=search.Position(row.start_date_time, row.pk).cursor(), node=Cdr.of(row))
            for row in page.rows
            if row.start_date_time is not None and row.pk is not None
        ]
        end = page.end()
        return CdrConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=end.cursor() if end else None
            ),
        )

    @strawberry.field(
        description="Totals of the CDRs the search finds, by period and by Location, per currency."
    )
    async def cdr_totals(
        self,
        info: Info[GraphContext, None],
        period: Annotated[Period, strawberry.argument(description="Day, week or month.")],
        filter: Filter = None,
    ) -> CdrTotals:
        audience = audience_of(info.context)
        chosen = filter_of(filter)
        found = await adding.totals(
            info.context.runtime.db,
            audience=audience,
            filter=chosen,
            period=adding.Period(period.name),
        )
        return CdrTotals.of(found)

    @strawberry.field(description="One CDR, if the viewer may see it; null otherwise.")
    async def cdr(
        self,
        info: Info[GraphContext, None],
        country_code: CountryCode,
        party_id: PartyId,
        id: Annotated[str, strawberry.argument(description="The CDR's id, unique per CPO.")],
    ) -> Cdr | None:
        audience_of(info.context)
        return await Cdr.resolve_reference(info, countryCode=country_code, partyId=party_id, id=id)


schema = federation_schema(query=Query, types=[Cdr, Session])
