"""The sessions service: Sessions, Tokens and the log of commands."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import false, or_, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from incar import documents, events
from incar.columns import utcnow
from incar.documents import Outcome, Page
from incar.timestamps import parse_timestamp
from subgraphs.common.commands import Delivery
from subgraphs.sessions.models import Command, Session, Token

TOPIC_SESSION = "sessions.session"
TOPIC_TOKEN = "sessions.token"
TOPIC_COMMAND = "sessions.command"


_key = documents.key


def _upper(value: Any) -> str | None:
    return value.upper() if isinstance(value, str) else None


def query_columns(data: dict[str, Any]) -> dict[str, Any]:
    """The query columns of a Session document (its eMSP, token, status and EVSE)."""
    token = data.get("cdr_token") or {}
    return {
        "emsp_country_code": _upper(token.get("country_code")),
        "emsp_party_id": _upper(token.get("party_id")),
        "token_uid": _upper(token.get("uid")),
        "status": data.get("status") if isinstance(data.get("status"), str) else None,
        "location_key": _upper(data.get("location_id")),
        "evse_key": _upper(data.get("evse_uid")),
    }


async def _session_event(
    tx: AsyncSession, key: dict[str, str], data: dict[str, Any], outcome: Outcome
) -> None:
    await events.publish(
        tx,
        TOPIC_SESSION,
        {
            "country_code": key["country_code"],
            "party_id": key["party_id"],
            "session_id": key["object_id"],
            "status": data.get("status"),
            "kwh": data.get("kwh"),
            "last_updated": data.get("last_updated"),
            "change": outcome.value,
            # Whose it is, so that a driver's live subscription needs no lookup per event.
            **{name: value for name, value in query_columns(data).items() if name != "status"},
        },
    )


async def get_session(
    tx: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    session_id: str,
    for_update: bool = False,
) -> dict[str, Any] | None:
    """The stored Session; ``for_update`` locks it until the transaction ends (a PATCH's
    charging periods are added to those stored, so no other write may come in between)."""
    key = _key(country_code, party_id, session_id)
    return await documents.data_of(tx, Session, key=key, for_update=for_update)


async def put_session(tx: AsyncSession, *, data: dict[str, Any]) -> Outcome:
    key = _key(data["country_code"], data["party_id"], data["id"])
    outcome, _ = await documents.upsert(
        tx,
        Session,
        key=key,
        last_updated=parse_timestamp(data["last_updated"]),
        data=data,
        extra=query_columns(data),
    )
    if outcome is not Outcome.STALE:
        await _session_event(tx, key, data, outcome)
    return outcome


async def patch_session(
    tx: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    session_id: str,
    patch: dict[str, Any],
) -> Outcome:
    before = await get_session(
        tx,
        country_code=country_code,
        party_id=party_id,
        session_id=session_id,
        for_update=True,
    )
    if before is None:
        return Outcome.UNKNOWN
    merged = documents.merge(before, patch)
    if "charging_periods" in patch and "charging_periods" in before:
        # mod_sessions: a PATCH's charging_periods are added to those already known.
        merged["charging_periods"] = [*before["charging_periods"], *patch["charging_periods"]]
    key = _key(country_code, party_id, session_id)
    outcome, _ = await documents.upsert(
        tx,
        Session,
        key=key,
        last_updated=parse_timestamp(patch["last_updated"]),
        data=merged,
        extra=query_columns(merged),
    )
    if outcome is not Outcome.STALE:
        await _session_event(tx, key, merged, outcome)
    return outcome


async def page_sessions(
    tx: AsyncSession,
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
        tx,
        Session,
        where=[visible],
        date_from=date_from,
        date_to=date_to,
        offset=offset,
        limit=limit,
    )


async def session_emsp(
    tx: AsyncSession, *, country_code: str, party_id: str, session_id: str
) -> tuple[str, str] | None:
    """The eMSP (party of the cdr_token) of one CPO's Session, if the hub knows it."""
    row = (
        await tx.execute(
            select(col(Session.emsp_country_code), col(Session.emsp_party_id)).where(
                *documents.key_filter(Session, _key(country_code, party_id, session_id))
            )
        )
    ).first()
    if row is None or not row[0] or not row[1]:
        return None
    return row[0], row[1]


async def put_token(tx: AsyncSession, *, data: dict[str, Any]) -> Outcome:
    key = _key(data["country_code"], data["party_id"], data["uid"])
    outcome, _ = await documents.upsert(
        tx,
        Token,
        key={**key, "token_type": data["type"]},
        last_updated=parse_timestamp(data["last_updated"]),
        data=data,
    )
    if outcome is not Outcome.STALE:
        await _token_event(tx, key, data, outcome)
    return outcome


async def patch_token(
    tx: AsyncSession,
    *,
    country_code: str,
    party_id: str,
    uid: str,
    token_type: str,
    patch: dict[str, Any],
) -> Outcome:
    key = {**_key(country_code, party_id, uid), "token_type": token_type}
    row = await documents.locked(tx, Token, key=key)
    if row is None:
        return Outcome.UNKNOWN
    merged = documents.merge(row.data, patch)
    outcome, _ = await documents.upsert(
        tx, Token, key=key, last_updated=parse_timestamp(patch["last_updated"]), data=merged
    )
    if outcome is not Outcome.STALE:
        await _token_event(tx, key, merged, outcome)
    return outcome


async def _token_event(
    tx: AsyncSession, key: dict[str, str], data: dict[str, Any], outcome: Outcome
) -> None:
    await events.publish(
        tx,
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
    tx: AsyncSession,
    *,
    date_from: datetime | None,
    date_to: datetime | None,
    offset: int,
    limit: int,
) -> Page:
    return await documents.page(
        tx, Token, date_from=date_from, date_to=date_to, offset=offset, limit=limit
    )


async def record_command(
    tx: AsyncSession,
    *,
    command_id: str,
    command: str,
    emsp: tuple[str, str],
    cpo: tuple[str, str],
    request: dict[str, Any],
) -> Outcome:
    tx.add(
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
    await tx.flush()
    await _command_event(tx, command_id, command, "requested", None)
    return Outcome.CREATED


async def record_command_answer(
    tx: AsyncSession,
    *,
    command_id: str,
    response: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    delivery: Delivery | None = None,
) -> Outcome:
    """The CPO's CommandResponse or CommandResult, as it sent it; ``delivery`` for a command
    the hub sent itself (the graph's): ANSWERED with the response, NO_ANSWER alone (the CPO
    said nothing, so ``response`` stays empty rather than holding words it never sent)."""
    row = await tx.get(Command, command_id, with_for_update=True)
    if row is None:
        return Outcome.UNKNOWN
    if response is not None:
        row.response = response
    if result is not None:
        row.result = result
    if delivery is not None:
        row.delivery = delivery.value
    row.updated_at = utcnow()
    await tx.flush()
    state = (
        "result"
        if result is not None
        else "response"
        if response is not None or delivery is None
        else delivery.value
    )
    answer = result if result is not None else response
    await _command_event(tx, command_id, row.command, state, (answer or {}).get("result"))
    return Outcome.UPDATED


async def _command_event(
    tx: AsyncSession, command_id: str, command: str, state: str, result: Any
) -> None:
    await events.publish(
        tx,
        TOPIC_COMMAND,
        {"command_id": command_id, "command": command, "state": state, "result": result},
    )


async def reservation_cpos(
    tx: AsyncSession, *, emsp: tuple[str, str], reservation_id: str
) -> list[tuple[str, str]]:
    """The CPOs to which this eMSP sent a RESERVE_NOW with this reservation id (its own ids:
    another eMSP's reservations never count)."""
    rows = await tx.execute(
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


ACTIVE_STATES = ("PENDING", "ACTIVE")


async def find_token(tx: AsyncSession, *, emsp: tuple[str, str], uid: str) -> dict[str, Any] | None:
    """The Token an eMSP pushed with this uid (any type; an eMSP's uids are its drivers')."""
    row = (
        (
            await tx.execute(
                select(Token).where(
                    col(Token.country_code) == emsp[0].upper(),
                    col(Token.party_id) == emsp[1].upper(),
                    col(Token.object_id) == uid.upper(),
                )
            )
        )
        .scalars()
        .first()
    )
    return dict(row.data) if row else None


async def active_on(
    tx: AsyncSession, *, cpo: tuple[str, str], location_id: str, evse_uid: str
) -> Session | None:
    """The Session in progress (PENDING or ACTIVE) on an EVSE, if the hub knows one."""
    return (
        (
            await tx.execute(
                select(Session).where(
                    col(Session.country_code) == cpo[0].upper(),
                    col(Session.party_id) == cpo[1].upper(),
                    col(Session.location_key) == location_id.upper(),
                    col(Session.evse_key) == evse_uid.upper(),
                    col(Session.status).in_(ACTIVE_STATES),
                )
            )
        )
        .scalars()
        .first()
    )


async def get_command(tx: AsyncSession, command_id: str) -> Command | None:
    return await tx.get(Command, command_id)


def _viewer_filter(*, party: tuple[str, str] | None, token_uid: str | None) -> list[Any]:
    """Sessions a viewer may see: a driver their own (their eMSP and token), a party the ones
    it runs (CPO) or whose token is its customer's (eMSP)."""
    if party is None:
        return [false()]
    cc, pid = party
    if token_uid is not None:
        return [
            col(Session.emsp_country_code) == cc,
            col(Session.emsp_party_id) == pid,
            col(Session.token_uid) == token_uid.upper(),
        ]
    return [
        or_(
            (col(Session.country_code) == cc) & (col(Session.party_id) == pid),
            (col(Session.emsp_country_code) == cc) & (col(Session.emsp_party_id) == pid),
        )
    ]


async def sessions_of(
    tx: AsyncSession,
    *,
    party: tuple[str, str] | None,
    token_uid: str | None,
    states: Sequence[str] = (),
    limit: int = 50,
) -> list[Session]:
    """A viewer's sessions, most recently changed first."""
    conditions = _viewer_filter(party=party, token_uid=token_uid)
    if states:
        conditions.append(col(Session.status).in_(list(states)))
    rows = await tx.execute(
        select(Session).where(*conditions).order_by(col(Session.last_updated).desc()).limit(limit)
    )
    return list(rows.scalars())


async def sessions_by_key(
    tx: AsyncSession, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Session]:
    if not keys:
        return {}
    rows = await tx.execute(
        select(Session).where(
            tuple_(col(Session.country_code), col(Session.party_id), col(Session.object_id)).in_(
                list(set(keys))
            )
        )
    )
    return {(r.country_code, r.party_id, r.object_id): r for r in rows.scalars()}


async def active_on_evses(
    tx: AsyncSession, keys: Sequence[tuple[str, str, str, str]]
) -> dict[tuple[str, str, str, str], Session]:
    """The sessions in progress on these EVSEs (CPO, Location and EVSE keys), in one query."""
    if not keys:
        return {}
    rows = await tx.execute(
        select(Session).where(
            tuple_(
                col(Session.country_code),
                col(Session.party_id),
                col(Session.location_key),
                col(Session.evse_key),
            ).in_(list(set(keys))),
            col(Session.status).in_(ACTIVE_STATES),
        )
    )
    found: dict[tuple[str, str, str, str], Session] = {}
    for row in rows.scalars():
        assert row.location_key is not None and row.evse_key is not None
        found[(row.country_code, row.party_id, row.location_key, row.evse_key)] = row
    return found


async def tokens_of(tx: AsyncSession, *, emsp: tuple[str, str], uid: str) -> list[dict[str, Any]]:
    """The Tokens an eMSP pushed with this uid (one per token type)."""
    rows = await tx.execute(
        select(Token).where(
            col(Token.country_code) == emsp[0].upper(),
            col(Token.party_id) == emsp[1].upper(),
            col(Token.object_id) == uid.upper(),
        )
    )
    return [dict(r.data) for r in rows.scalars()]
