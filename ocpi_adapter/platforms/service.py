"""The platform registry: onboarding, token lookup, roles, connection status.

Plain keyword-only functions over an ``AsyncSession``; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from incar.columns import utcnow
from ocpi_adapter import credentials_token
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.platforms.models import Party, Platform
from ocpi_adapter.types import ConnectionStatus, Role


class TokenKind(StrEnum):
    """How a request authenticated: with a registration token (A) or a credentials token (C)."""

    REGISTRATION = "A"
    CREDENTIALS = "C"


@dataclass(frozen=True, slots=True)
class Caller:
    platform: Platform
    kind: TokenKind
    token: str


class PartyTaken(InvalidParameters):
    """A (country_code, party_id) already belongs to another platform."""


async def get(tx: AsyncSession, *, platform_id: int) -> Platform | None:
    return await tx.get(Platform, platform_id)


async def authenticate(tx: AsyncSession, *, authorization: str | None) -> Caller | None:
    decoded, raw = credentials_token.candidates(authorization)
    for token, legacy_reading in ((decoded, False), (raw, True)):
        if token is None:
            continue
        digest = credentials_token.digest(token)
        for kind, column in (
            (TokenKind.CREDENTIALS, Platform.token_c_digest),
            (TokenKind.REGISTRATION, Platform.token_a_digest),
        ):
            platform = (
                await tx.execute(select(Platform).where(col(column) == digest))
            ).scalar_one_or_none()
            # A raw (not Base64) token only counts for platforms flagged as legacy peers.
            if platform is not None and (not legacy_reading or platform.legacy_raw_token):
                return Caller(platform=platform, kind=kind, token=token)
    return None


async def parties(tx: AsyncSession, *, platform_id: int) -> list[Party]:
    rows = await tx.execute(
        select(Party).where(col(Party.platform_id) == platform_id).order_by(col(Party.id))
    )
    return list(rows.scalars())


async def find_parties(tx: AsyncSession, *, ref: PartyRef) -> list[Party]:
    rows = await tx.execute(
        select(Party)
        .where(col(Party.country_code) == ref.country_code, col(Party.party_id) == ref.party_id)
        .order_by(col(Party.id))
    )
    return list(rows.scalars())


async def owner_of(tx: AsyncSession, *, ref: PartyRef) -> Platform | None:
    found = await find_parties(tx, ref=ref)
    return await tx.get(Platform, found[0].platform_id) if found else None


async def ensure_free(
    tx: AsyncSession, *, refs: Sequence[PartyRef], platform_id: int | None
) -> None:
    """Rejects refs owned by a platform other than ``platform_id`` (no two owners of a party)."""
    for ref in refs:
        for party in await find_parties(tx, ref=ref):
            if party.platform_id != platform_id:
                raise PartyTaken(f"{ref} is already registered by another platform")


async def onboard(
    tx: AsyncSession,
    *,
    name: str,
    role: Role,
    country_code: str,
    party_id: str,
    legacy_raw_token: bool = False,
) -> tuple[Platform, str]:
    """Use case UC-010: issue a registration token A for a new or not yet connected platform.

    Only PLANNED or SUSPENDED platforms get a fresh token A; a connected (or offline) one must
    unregister first, so a party never has two live registrations.
    """
    ref = PartyRef.of(country_code, party_id)
    if len(ref.country_code) != 2 or not ref.country_code.isalpha():
        raise InvalidParameters("country code must be two letters (ISO 3166 alpha-2)")
    if not 1 <= len(ref.party_id) <= 3 or not ref.party_id.isalnum():
        raise InvalidParameters("party id must be 1 to 3 letters or digits")
    if role is Role.HUB:
        raise InvalidParameters("a platform cannot be onboarded with the role HUB")
    token = credentials_token.generate()
    existing = await owner_of(tx, ref=ref)
    if existing is not None:
        if existing.status not in (ConnectionStatus.PLANNED, ConnectionStatus.SUSPENDED):
            raise PartyTaken(
                f"{ref} belongs to platform {existing.name!r} ({existing.status}); "
                "it must unregister before a new registration token is issued"
            )
        platform = existing
        platform.token_a_digest = credentials_token.digest(token)
        platform.legacy_raw_token = legacy_raw_token
    else:
        platform = Platform(
            name=name,
            token_a_digest=credentials_token.digest(token),
            legacy_raw_token=legacy_raw_token,
        )
        tx.add(platform)
        await tx.flush()
    assert platform.id is not None
    if not any(p.role == role for p in await find_parties(tx, ref=ref)):
        tx.add(
            Party(
                platform_id=platform.id,
                country_code=ref.country_code,
                party_id=ref.party_id,
                role=role,
                status=ConnectionStatus.PLANNED,
            )
        )
    await tx.flush()
    return platform, token


async def set_roles(
    tx: AsyncSession, *, platform: Platform, roles: Sequence[dict[str, Any]]
) -> list[Party]:
    """Makes the platform's parties exactly the CredentialsRoles it registered with.

    Parties it no longer lists stay (ClientInfo objects are never deleted) but are SUSPENDED.
    """
    assert platform.id is not None
    refs = [PartyRef.of(r["country_code"], r["party_id"]) for r in roles]
    await ensure_free(tx, refs=refs, platform_id=platform.id)
    current = {
        (p.country_code, p.party_id, p.role): p for p in await parties(tx, platform_id=platform.id)
    }
    now = utcnow()
    wanted: list[Party] = []
    for ref, role in zip(refs, roles, strict=True):
        key = (ref.country_code, ref.party_id, Role(role["role"]))
        party = current.pop(key, None)
        if party is None:
            party = Party(
                platform_id=platform.id,
                country_code=ref.country_code,
                party_id=ref.party_id,
                role=Role(role["role"]),
            )
            tx.add(party)
        party.business_details = role.get("business_details")
        party.status = platform.status
        party.last_updated = now
        wanted.append(party)
    for stale in current.values():
        if stale.status != ConnectionStatus.SUSPENDED:
            stale.status = ConnectionStatus.SUSPENDED
            stale.last_updated = now
    await tx.flush()
    return wanted


async def set_status(
    tx: AsyncSession, *, platform: Platform, status: ConnectionStatus
) -> list[Party]:
    """Sets the platform's and its parties' status; returns the parties whose status changed."""
    assert platform.id is not None
    platform.status = status
    changed = []
    now = utcnow()
    for party in await parties(tx, platform_id=platform.id):
        if party.status != status:
            party.status = status
            party.last_updated = now
            changed.append(party)
    await tx.flush()
    return changed


async def retire(tx: AsyncSession, *, platform: Platform) -> list[Party]:
    """The operator ends a platform's connection (its tokens stop working at once)."""
    platform.token_a_digest = None
    platform.token_c_digest = None
    platform.outgoing_token = None
    return await set_status(tx, platform=platform, status=ConnectionStatus.SUSPENDED)


async def list_all(tx: AsyncSession) -> list[tuple[Platform, list[Party]]]:
    """Every platform with its parties, in two queries (a broadcast reads this per push)."""
    platforms = (await tx.execute(select(Platform).order_by(col(Platform.id)))).scalars().all()
    by_platform: dict[int, list[Party]] = {p.id: [] for p in platforms if p.id is not None}
    for party in (await tx.execute(select(Party).order_by(col(Party.id)))).scalars():
        if party.platform_id in by_platform:
            by_platform[party.platform_id].append(party)
    return [(p, by_platform[p.id]) for p in platforms if p.id is not None]


async def connected(tx: AsyncSession) -> list[Platform]:
    rows = await tx.execute(
        select(Platform)
        .where(col(Platform.status) == ConnectionStatus.CONNECTED)
        .order_by(col(Platform.id))
    )
    return list(rows.scalars())


async def count_parties(tx: AsyncSession) -> int:
    return int((await tx.execute(select(func.count()).select_from(Party))).scalar_one())
