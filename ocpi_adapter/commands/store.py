"""The command log: each command through the hub, the CPO's response and the result."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from incar import exactjson
from incar.columns import utcnow
from incar.documents import Outcome
from ocpi_adapter.routing.operations import StoreInput
from subgraphs.bookings import service as bookings
from subgraphs.sessions import service as sessions


def requested(command: str) -> Any:
    async def store(tx: AsyncSession, data: StoreInput) -> Outcome:
        assert data.callback_id is not None and data.receiver is not None
        return await sessions.record_command(
            tx,
            command_id=data.callback_id,
            command=command,
            emsp=(data.sender.country_code, data.sender.party_id),
            cpo=(data.receiver.country_code, data.receiver.party_id),
            request=data.body,
        )

    return store


async def responded(tx: AsyncSession, data: StoreInput, answer: Any) -> None:
    # The CPO's answer did not pass the body parser: one nested deeper than the hub stores
    # anything is relayed, not logged (the hub writes nothing deeper than it accepts).
    if (
        data.callback_id is not None
        and isinstance(answer, dict)
        and exactjson.depth(answer) <= exactjson.MAX_DEPTH
    ):
        await sessions.record_command_answer(tx, command_id=data.callback_id, response=answer)


async def resulted(tx: AsyncSession, data: StoreInput) -> Outcome:
    """The charge point's CommandResult: logged, and, for a command the graph sent for a
    booking, deciding that booking in the same transaction."""
    if data.callback_id is None or not isinstance(data.body, dict):
        return Outcome.UNKNOWN
    outcome = await sessions.record_command_answer(
        tx, command_id=data.callback_id, result=data.body
    )
    command = await sessions.get_command(tx, data.callback_id)
    if command is not None:
        await bookings.command_answered(
            tx,
            command=command.command,
            request=command.request,
            emsp=(command.emsp_country_code, command.emsp_party_id),
            result=data.body,
            now=utcnow(),
        )
    return outcome
