"""The tariffs of the charger a route goes to, read from the hub's store for the route's cost
(``subgraphs/routing/tariffs.py`` prices them)."""

from __future__ import annotations

from typing import Any

from subgraphs.common.context import GraphContext
from subgraphs.locations import service as locations
from subgraphs.locations.rows import connector_power_kw
from subgraphs.routing.graph.inputs import Station
from subgraphs.routing.tariffs import DestinationTariffs, offers_of


async def destination_tariffs(context: GraphContext, station: Station) -> DestinationTariffs:
    """The tariffs its connectors name (of the EVSE, or of the whole Location), each with its
    document where the hub holds it; tariffs are the Location's CPO's own (OCPI)."""
    named = offers_of(station.location, station.evse_uid, {}, connector_power_kw)
    documents: dict[str, dict[str, Any]] = {}
    async with context.runtime.db.transaction() as tx:
        for tariff_id in dict.fromkeys(offer.tariff_id.upper() for offer in named):
            found = await locations.get_tariff(
                tx,
                country_code=station.country_code,
                party_id=station.party_id,
                tariff_id=tariff_id,
            )
            if found is not None:
                documents[tariff_id] = found
    return DestinationTariffs(
        time_zone=str(station.location.get("time_zone") or "UTC"),
        offers=offers_of(station.location, station.evse_uid, documents, connector_power_kw),
    )
