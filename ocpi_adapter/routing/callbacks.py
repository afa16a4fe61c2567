"""Hub URLs standing in for a peer's response_url or CDR Location (checks 41-46)."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from incar.columns import utcnow
from incar.timestamps import parse_timestamp
from ocpi_adapter.errors import InvalidParameters, NotFound
from ocpi_adapter.headers import PartyRef, new_id
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.routing.models import Callback


async def create(
    tx: AsyncSession,
    *,
    module: str,
    caller: tuple[Platform, PartyRef],
    target: tuple[Platform, PartyRef],
    target_url: str,
    correlation_id: str,
    expires_at: datetime | None,
    kept_by_hub: bool = False,
) -> Callback:
    caller_platform, caller_party = caller
    target_platform, target_party = target
    assert caller_platform.id is not None and target_platform.id is not None
    callback = Callback(
        id=new_id(),
        module=module,
        caller_platform_id=caller_platform.id,
        caller_country_code=caller_party.country_code,
        caller_party_id=caller_party.party_id,
        target_platform_id=target_platform.id,
        target_country_code=target_party.country_code,
        target_party_id=target_party.party_id,
        target_url=target_url,
        correlation_id=correlation_id,
        expires_at=expires_at,
        kept_by_hub=kept_by_hub,
    )
    tx.add(callback)
    await tx.flush()
    return callback


async def resolve(
    tx: AsyncSession, *, callback_id: str, module: str, caller_platform_id: int
) -> Callback:
    """The mapping behind a hub URL; only its intended caller may use it, and only in time."""
    callback = await tx.get(Callback, callback_id)
    if (
        callback is None
        or callback.module != module
        or callback.caller_platform_id != caller_platform_id
    ):
        raise NotFound("no such hub URL for this platform", status=InvalidParameters.status)
    if callback.expires_at is not None and callback.expires_at < utcnow():
        raise NotFound("this hub URL has expired", status=InvalidParameters.status)
    return callback


def refuse_repeat(callback: Callback, body: bytes) -> None:
    """Refuses a byte-identical repeat of a callback already forwarded (policy, check 44)."""
    if callback.last_body_digest == hashlib.sha256(body).hexdigest():
        raise InvalidParameters("this result was already delivered through this URL")


async def delivered(tx: AsyncSession, *, callback_id: str, body: bytes) -> None:
    """Remembers a callback the target accepted; a failed one may be sent again."""
    callback = await tx.get(Callback, callback_id)
    if callback is not None:
        callback.last_body_digest = hashlib.sha256(body).hexdigest()
        await tx.flush()


async def extend(tx: AsyncSession, *, callback_id: str, until: datetime) -> None:
    callback = await tx.get(Callback, callback_id)
    if callback is not None:
        callback.expires_at = until
        await tx.flush()


def expiry(seconds: float, grace: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds + grace)


def answered_expiry(answer: dict[str, Any], command: Any, grace: float) -> datetime | None:
    """How long a command's hub URL lives once the CPO answered (check 44): its announced
    timeout plus grace; a reservation's, until the reservation expires plus grace (the CPO may
    still cancel it through it). None when the answer names no timeout: the first window stays.
    """
    seconds = answer.get("timeout")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return None
    until = expiry(float(seconds), grace)
    expiry_date = command.get("expiry_date") if isinstance(command, dict) else None
    if isinstance(expiry_date, str):
        with contextlib.suppress(ValueError):
            until = max(until, parse_timestamp(expiry_date) + timedelta(seconds=grace))
    return until
