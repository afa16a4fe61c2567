"""ClientInfo pushes to every other connected platform (push model), owed like broadcast copies.

Each push is written in the transaction that changes the party's status (ocpi_adapter/owed),
so a crash delays it, never drops it; a failed one is not retried (check 58).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from incar.columns import utcnow
from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import dumps
from ocpi_adapter.headers import Trace, new_id
from ocpi_adapter.hubclientinfo.service import client_info
from ocpi_adapter.owed import record
from ocpi_adapter.owed.models import Kind
from ocpi_adapter.owed.record import Owed
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.urls import join
from ocpi_adapter.versions.discovery import endpoint_url


def _copy(target: Platform, base: str, party: Party, now: datetime) -> Owed:
    assert target.id is not None
    return Owed(
        receiver_platform_id=target.id,
        kind=Kind.CLIENT_INFO,
        object_key=f"hubclientinfo/{party.country_code}/{party.party_id}",
        owner_country_code=party.country_code,
        owner_party_id=party.party_id,
        method="PUT",
        url=join(base, f"{quote(party.country_code)}/{quote(party.party_id)}"),
        # Configuration module: no OCPI-to/from headers, fresh trace ids.
        headers=Trace(request_id=new_id(), correlation_id=new_id()).as_headers(),
        body=dumps(client_info(party)),
        object_last_updated=party.last_updated,
        created_at=now,
    )


def _copies(targets: Sequence[Platform], parties: Sequence[Party]) -> list[Owed]:
    now = utcnow()
    copies: list[Owed] = []
    for target in targets:
        base = endpoint_url(target.endpoints, ModuleID.HUB_CLIENT_INFO, InterfaceRole.RECEIVER)
        if base is None or not target.outgoing_token:
            continue  # check 55: a peer without a hubclientinfo Receiver is skipped
        copies.extend(_copy(target, base, p, now) for p in parties if p.platform_id != target.id)
    return copies


async def _owe(hub: Hub, tx: AsyncSession, copies: list[Owed]) -> None:
    await record.owe(tx, copies, hub.owed)


async def push(hub: Hub, tx: AsyncSession, parties: Sequence[Party]) -> None:
    """Owes each party's ClientInfo to every connected platform but its own, in ``tx``."""
    if parties:
        await _owe(hub, tx, _copies(await platforms.connected(tx), parties))


async def welcome(hub: Hub, tx: AsyncSession, newcomer: Platform) -> None:
    """A newly connected platform is owed the ClientInfo of every other party, in ``tx``."""
    everyone = [
        party
        for platform, parts in await platforms.list_all(tx)
        if platform.id != newcomer.id
        for party in parts
    ]
    await _owe(hub, tx, _copies([newcomer], everyone))
