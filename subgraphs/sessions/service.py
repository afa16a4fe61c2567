"""The sessions service: Sessions, Tokens and the log of commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from incar import documents, events
from incar.columns import utcnow
from incar.documents import Outcome, Page
from incar.timestamps import parse_timestamp
from subgraphs.sessions.models import Command, Session, Token

TOPIC_SESSION = "sessions.session"
TOPIC_TOKEN = "sessions.token"
TOPIC_COMMAND = "sessions.command"


_key = documents.key


def _emsp(data: dict[str, Any]) -> dict[str, Any]:
    token = data.get("cdr_token") or {}
    cc, pid = token.get("country_code"), token.get("party_id")
    return {
        "emsp_country_code": cc.upper() if isinstance(cc, str) else None,
        "emsp_party_id": pid.upper() if isinstance(pid, str) else None,
    }


async def _session_event(
    session: AsyncSession, key: dict[str, str], data: dict[str, Any], outcome: Outcome
) -> None:
    await events.publish(
        session,
        TOPIC_SESSION,
        {
            "country_code": key["country_code"],
            "party_id": key["party_id"],
            "session_id": key["object_id"],
            "status": data.get("status"),
            "kwh": data.get("kwh"),
            "last_updated": data.get("last_updated"),
            "change": outcome.value,
        },
    )


async def get_session(
    session: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    session_id: str,
    for_update: bool = False,
) -> dict[str, Any] | None:
    """The stored Session; ``for_update`` locks it until the transaction ends (a PATCH's
    charging periods are added to those stored, so no other write may come in between)."""
    row = await documents.find(
        session, Session, key=_key(country_code, party_id, session_id), for_update=for_update
    )
    return row.data if row else None


async def put_session(session: AsyncSession, *, data: dict[str, Any]) -> Outcome:
    key = _key(data["country_code"], data["party_id"], data["id"])
    outcome, _ = await documents.upsert(
        session,
        Session,
        key=key,
        last_updated=parse_timestamp(data["last_updated"]),
        data=data,
        extra=_emsp(data),
    )
    if outcome is not Outcome.STALE:
        await _session_event(session, key, data, outcome)
    return outcome


async def patch_session(
    session: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    session_id: str,
    patch: dict[str, Any],
) -> Outcome:
    before = await get_session(
        session,
        country_code=country_code,
        party_id=party_id,
        session_id=session_id,
        for_update=True,
    )
    if before is None:
        return Outcome.STALE
    merged = documents.merge(before, patch)
    if "charging_periods" in patch and "charging_periods" in before:
        # mod_sessions: a PATCH's charging_periods are added to those already known.
        merged["charging_periods"] = [*before["charging_periods"], *patch["charging_periods"]]
    key = _key(country_code, party_id, session_id)
    outcome, _ = await documents.upsert(
        session,
        Session,
        key=key,
        last_updated=parse_timestamp(patch["last_updated"]),
        data=merged,
        extra=_emsp(merged),
    )
    if outcome is not Outcome.STALE:
        await _session_event(session, key, merged, outcome)
    return outcome


async def page_sessions(
    session: AsyncSession,
    *,
    party: tuple[str, str],
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> Page:
    """Sessions a party may see: its own (as CPO) or its customers' (as eMSP)."""
    cc, pid = party
    visible = or_(
        (col(Session.country_code) == cc) & (col(Session.party_id) == pid),
        (col(Session.emsp_country_code) == cc) & (col(Session.emsp_party_id) == pid),
    )
    return await documents.page(
        session,
        Session,
        where=[visible],
        date_from=date_from,
        date_to=date_to,
        offset=offset,
        limit=limit,
    )


async def session_emsp(
    session: AsyncSession, *, country_code: str, party_id: str, session_id: str
) -> tuple[str, str] | None:
    """The eMSP (party of the cdr_token) of one CPO's Session, if the hub knows it."""
    row = (
        await session.execute(
            select(col(Session.emsp_country_code), col(Session.emsp_party_id)).where(
                *documents.key_filter(Session, _key(country_code, party_id, session_id))
            )
        )
    ).first()
    if row is None or not row[0] or not row[1]:
        return None
    return row[0], row[1]


async def put_token(session: AsyncSession, *, data: dict[str, Any]) -> Outcome:
    key = _key(data["country_code"], data["party_id"], data["uid"])
    outcome, _ = await documents.upsert(
        session,
        Token,
        key={**key, "token_type": data["type"]},
        last_updated=parse_timestamp(data["last_updated"]),
        data=data,
    )
    if outcome is not Outcome.STALE:
        await _token_event(session, key, data, outcome)
    return outcome


async def patch_token(
    session: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    uid: str,
    token_type: str,
    patch: dict[str, Any],
) -> Outcome:
    key = {**_key(country_code, party_id, uid), "token_type": token_type}
    row = await documents.find(session, Token, key=key, for_update=True)
    if row is None:
        return Outcome.STALE
    merged = documents.merge(row.data, patch)
    outcome, _ = await documents.upsert(
        session, Token, key=key, last_updated=parse_timestamp(patch["last_updated"]), data=merged
    )
    if outcome is not Outcome.STALE:
        await _token_event(session, key, merged, outcome)
    return outcome


async def _token_event(
    session: AsyncSession, key: dict[str, str], data: dict[str, Any], outcome: Outcome
) -> None:
    await events.publish(
        session,
        TOPIC_TOKEN,
        {
            "country_code": key["country_code"],
            "party_id": key["party_id"],
            "uid": key["object_id"],
            "type": data.get("type"),
            "valid": data.get("valid"),
            "last_updated": data.get("last_updated"),
            "change": outcome.value,
        },
    )


async def page_tokens(
    session: AsyncSession,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> Page:
    return await documents.page(
        session, Token, date_from=date_from, date_to=date_to, offset=offset, limit=limit
    )


async def record_command(
    session: AsyncSession,
    *,
    command_id: str,
    command: str,
    emsp: tuple[str, str],
    cpo: tuple[str, str],
    request: dict[str, Any],
) -> None:
    session.add(
        Command(
            id=command_id,
            command=command,
            emsp_country_code=emsp[0],
            emsp_party_id=emsp[1],
            cpo_country_code=cpo[0],
            cpo_party_id=cpo[1],
            request=request,
        )
    )
    await session.flush()
    await _command_event(session, command_id, command, "requested", None)


async def record_command_answer(
    session: AsyncSession,
    *,
    command_id: str,
    response: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
) -> None:
    row = await session.get(Command, command_id, with_for_update=True)
    if row is None:
        return
    if response is not None:
        row.response = response
    if result is not None:
        row.result = result
    row.updated_at = utcnow()
    await session.flush()
    state = "result" if result is not None else "response"
    answer = result if result is not None else response
    await _command_event(session, command_id, row.command, state, (answer or {}).get("result"))


async def _command_event(
    session: AsyncSession, command_id: str, command: str, state: str, result: Any
) -> None:
    await events.publish(
        session,
        TOPIC_COMMAND,
        {"command_id": command_id, "command": command, "state": state, "result": result},
    )


async def reservation_cpos(
    session: AsyncSession, *, emsp: tuple[str, str], reservation_id: str
) -> list[tuple[str, str]]:
    """The CPOs to which this eMSP sent a RESERVE_NOW with this reservation id (its own ids:
    another eMSP's reservations never count)."""
    rows = await session.execute(
        select(
            col(Command.cpo_country_code), col(Command.cpo_party_id), col(Command.request)
        ).where(
            col(Command.command) == "RESERVE_NOW",
            col(Command.emsp_country_code) == emsp[0],
            col(Command.emsp_party_id) == emsp[1],
        )
    )
    wanted = reservation_id.upper()
    return sorted(
        {
            (cc, pid)
            for cc, pid, request in rows.all()
            if str(request.get("reservation_id", "")).upper() == wanted
        }
    )
