"""Receivers out of sync: the marks a failed copy leaves, and the cue that ends them.

OCPI does not retry a failed push: the receiver gets back in sync by a GET once it is
reachable again (transport_and_format, "Offline behaviour"), and ClientInfo is how a hub says
who is reachable (mod_hub_client_info: "When the other party comes back online, it is their
responsibility to do a GET"). So a receiver that missed data of an owner is told, once it
answers again, that this owner was OFFLINE since the mark's ``since`` and is now as it is
(CONNECTED): two ClientInfo PUTs, the first dated ``since``. A GET All of the owner's data with
``date_from=since`` returns all it missed. A missed ClientInfo push itself is not pushed again
(check 58): the mark is kept for operators, and OCPI's pull model (GET hubclientinfo) is the
receiver's way back.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar.columns import utcnow
from incar.timestamps import format_timestamp
from ocpi_adapter.envelope import dumps
from ocpi_adapter.headers import Trace, new_id
from ocpi_adapter.hubclientinfo.service import client_info
from ocpi_adapter.owed.models import Kind, ResyncMark
from ocpi_adapter.owed.record import Owed
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.types import ConnectionStatus, InterfaceRole, ModuleID
from ocpi_adapter.urls import join
from ocpi_adapter.versions.discovery import endpoint_url


async def mark(
    tx: AsyncSession,
    *,
    receiver_platform_id: int,
    owner: tuple[str, str],
    since: datetime,
    at: datetime,
) -> None:
    """Records that the receiver missed data of ``owner``; ``since`` only ever moves back."""
    found = (
        await tx.execute(
            select(ResyncMark).where(
                col(ResyncMark.receiver_platform_id) == receiver_platform_id,
                col(ResyncMark.owner_country_code) == owner[0],
                col(ResyncMark.owner_party_id) == owner[1],
            )
        )
    ).scalar_one_or_none()
    if found is None:
        tx.add(
            ResyncMark(
                receiver_platform_id=receiver_platform_id,
                owner_country_code=owner[0],
                owner_party_id=owner[1],
                since=min(since, at),
                first_failed_at=at,
                last_failed_at=at,
            )
        )
    else:
        found.since = min(found.since, since, at)
        found.last_failed_at = max(found.last_failed_at, at)
        found.failures += 1
    await tx.flush()


async def uncue(tx: AsyncSession, *, receiver_platform_id: int, owner: tuple[str, str]) -> None:
    """A cue that did not arrive: the mark stays, to be cued again."""
    await tx.execute(
        update(ResyncMark)
        .where(
            col(ResyncMark.receiver_platform_id) == receiver_platform_id,
            col(ResyncMark.owner_country_code) == owner[0],
            col(ResyncMark.owner_party_id) == owner[1],
        )
        .values(cued_at=None)
    )


async def cued(tx: AsyncSession, *, receiver_platform_id: int, owner: tuple[str, str]) -> int:
    """The cue arrived: the mark ends unless a copy failed after the cue was queued. Returns
    how many marks the receiver still has."""
    await tx.execute(
        delete(ResyncMark).where(
            col(ResyncMark.receiver_platform_id) == receiver_platform_id,
            col(ResyncMark.owner_country_code) == owner[0],
            col(ResyncMark.owner_party_id) == owner[1],
            col(ResyncMark.cued_at).is_not(None),
            col(ResyncMark.last_failed_at) <= col(ResyncMark.cued_at),
        )
    )
    return len(await marks(tx, receiver_platform_id=receiver_platform_id))


async def marks(tx: AsyncSession, *, receiver_platform_id: int | None = None) -> list[ResyncMark]:
    query = select(ResyncMark).order_by(col(ResyncMark.id))
    if receiver_platform_id is not None:
        query = query.where(col(ResyncMark.receiver_platform_id) == receiver_platform_id)
    return list((await tx.execute(query)).scalars())


def _put(base: str, party: Party, body: dict[str, object], kind: Kind, now: datetime) -> Owed:
    assert party.platform_id is not None
    url = join(base, f"{quote(party.country_code)}/{quote(party.party_id)}")
    return Owed(
        receiver_platform_id=0,
        kind=kind,
        object_key=f"hubclientinfo/{party.country_code}/{party.party_id}",
        owner_country_code=party.country_code,
        owner_party_id=party.party_id,
        method="PUT",
        url=url,
        # Configuration module: no OCPI-to/from headers, fresh trace ids.
        headers=Trace(request_id=new_id(), correlation_id=new_id()).as_headers(),
        body=dumps(body),
        object_last_updated=now,
        created_at=now,
    )


async def cue(
    tx: AsyncSession, *, receiver: Platform, hub_party: tuple[str, str]
) -> list[Owed] | None:
    """The ClientInfo PUTs that cue ``receiver`` for each owner it missed data of, the marks
    set as cued; None if it cannot be cued (not connected, or no hubclientinfo Receiver)."""
    assert receiver.id is not None
    base = endpoint_url(receiver.endpoints, ModuleID.HUB_CLIENT_INFO, InterfaceRole.RECEIVER)
    if receiver.status is not ConnectionStatus.CONNECTED or base is None:
        return None
    now = utcnow()
    copies: list[Owed] = []
    for found in await marks(tx, receiver_platform_id=receiver.id):
        owner = (found.owner_country_code, found.owner_party_id)
        if owner == hub_party:
            # Missed ClientInfo: never pushed again (check 58); GET hubclientinfo is the way.
            await tx.delete(found)
            continue
        parties = (
            await tx.execute(
                select(Party).where(
                    col(Party.country_code) == owner[0], col(Party.party_id) == owner[1]
                )
            )
        ).scalars()
        for party in parties:
            offline = {
                **client_info(party),
                "status": str(ConnectionStatus.OFFLINE),
                "last_updated": format_timestamp(found.since),
            }
            current = {**client_info(party), "last_updated": format_timestamp(now)}
            copies.append(_put(base, party, offline, Kind.CUE, now))
            copies.append(_put(base, party, current, Kind.CUE_END, now))
        found.cued_at = now
        found.cues += 1
    for copy in copies:
        copy.receiver_platform_id = receiver.id
    await tx.flush()
    return copies
