"""Commands the hub sends itself, for the graph, on behalf of a driver's eMSP (``CommandPort``).

The CPO sees an ordinary command from the eMSP, as if it had come through the hub: OCPI-from
the eMSP, a hub ``response_url``, the CPO's token, the hub's Via. The hub URL is kept by the
hub: the CPO's CommandResult is stored for the graph (``routing.kept``), never forwarded, since
the eMSP sent nothing and has no URL waiting for it.

What is recorded when (docs/policies.md, "Commands the graph sends"):

- nothing, if either party cannot be reached (UNREACHABLE): a row for a command that never
  left would read as one the CPO may act on;
- the hub URL and the Command row (the body as sent, ``response_url`` included) in one
  transaction, committed before the POST leaves, so a result that comes at once finds both;
- then the CPO's CommandResponse (``delivery`` answered), or ``delivery`` no_answer with no
  response: the row never claims an answer the CPO did not give.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from ocpi_adapter import validation
from ocpi_adapter.client import PeerResponse
from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import dumps
from ocpi_adapter.errors import InvalidParameters, OcpiError
from ocpi_adapter.headers import PartyRef, Routing, Trace, new_id
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.routing import callbacks, forward, rewrite
from ocpi_adapter.types import ConnectionStatus, InterfaceRole, ModuleID, Role
from ocpi_adapter.urls import join
from ocpi_adapter.validation import ObjectKind
from ocpi_adapter.versions.discovery import endpoint_url
from subgraphs.common.commands import CommandPort, CommandSent, CommandType, Delivery
from subgraphs.sessions import service as sessions

log = logging.getLogger("incar.hub.commands")

__all__ = ["HubCommands"]


class _Unreachable(Exception):
    """Why a party cannot be sent to; nothing was sent, nothing recorded."""


class HubCommands(CommandPort):
    """The graph's ``CommandPort``: sends through the running ``hub``'s client and tables."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def send(
        self,
        *,
        command: CommandType,
        emsp: tuple[str, str],
        cpo: tuple[str, str],
        body: Mapping[str, Any],
    ) -> CommandSent:
        hub = self._hub
        emsp_ref, cpo_ref = PartyRef.of(*emsp), PartyRef.of(*cpo)
        try:
            async with hub.db.transaction() as tx:
                emsp_platform = await _connected(tx, emsp_ref, Role.EMSP)
                cpo_platform = await _connected(tx, cpo_ref, Role.CPO)
        except _Unreachable as reason:
            return CommandSent(command_id="", delivery=Delivery.UNREACHABLE, message=str(reason))
        endpoint = endpoint_url(cpo_platform.endpoints, ModuleID.COMMANDS, InterfaceRole.RECEIVER)
        if endpoint is None:
            return CommandSent(
                command_id="",
                delivery=Delivery.UNREACHABLE,
                message=f"{cpo_ref} offers no commands receiver interface",
            )
        trace = Trace(request_id=new_id(), correlation_id=new_id())
        command_id, sent = await self._record(
            command, body, emsp=(emsp_platform, emsp_ref), cpo=(cpo_platform, cpo_ref), trace=trace
        )
        # Committed: the CPO may call the hub URL as soon as the POST reaches it.
        try:
            answer = await forward.send(
                hub,
                method="POST",
                url=join(endpoint, command.value),
                body=dumps(sent),
                platform=cpo_platform,
                routing=Routing(sender=emsp_ref, receiver=cpo_ref),
                trace=trace,
                via=None,
            )
            response = _command_response(answer)
        except OcpiError as error:
            return await self._unanswered(command_id, command, cpo_ref, error.message)
        until = callbacks.answered_expiry(response, sent, hub.settings.command_grace)
        async with hub.db.transaction() as tx:
            await sessions.record_command_answer(
                tx, command_id=command_id, response=response, delivery=Delivery.ANSWERED
            )
            if until is not None:
                await callbacks.extend(tx, callback_id=command_id, until=until)
        return CommandSent(
            command_id=command_id,
            delivery=Delivery.ANSWERED,
            response=response["result"],
            timeout=response["timeout"],
            message=_text(response.get("message")),
        )

    async def _record(
        self,
        command: CommandType,
        body: Mapping[str, Any],
        *,
        emsp: tuple[Platform, PartyRef],
        cpo: tuple[Platform, PartyRef],
        trace: Trace,
    ) -> tuple[str, dict[str, Any]]:
        """The hub-kept URL and the Command row (the body as it will be sent), in one
        transaction: both or neither. Returns the command's id and that body."""
        hub = self._hub
        async with hub.db.transaction() as tx:
            callback = await callbacks.create(
                tx,
                module=ModuleID.COMMANDS,
                caller=cpo,
                target=emsp,
                target_url="",
                correlation_id=trace.correlation_id,
                expires_at=callbacks.expiry(
                    rewrite.FIRST_ANSWER_WINDOW, hub.settings.command_grace
                ),
                kept_by_hub=True,
            )
            sent = _with_response_url(
                command, body, rewrite.callback_url(hub, ModuleID.COMMANDS, callback.id)
            )
            await sessions.record_command(
                tx,
                command_id=callback.id,
                command=command.value,
                emsp=(emsp[1].country_code, emsp[1].party_id),
                cpo=(cpo[1].country_code, cpo[1].party_id),
                request=sent,
            )
        return callback.id, sent

    async def _unanswered(
        self, command_id: str, command: CommandType, cpo: PartyRef, reason: str
    ) -> CommandSent:
        log.info("%s %s to %s got no CommandResponse: %s", command, command_id, cpo, reason)
        async with self._hub.db.transaction() as tx:
            await sessions.record_command_answer(
                tx, command_id=command_id, delivery=Delivery.NO_ANSWER
            )
        return CommandSent(command_id=command_id, delivery=Delivery.NO_ANSWER, message=reason)


async def _connected(tx: AsyncSession, ref: PartyRef, role: Role) -> Platform:
    """The platform of ``ref`` in ``role``, registered and CONNECTED, or ``_Unreachable``."""
    found = [
        p
        for p in await platforms.find_parties(tx, ref=ref)
        if p.role is role and p.status is not ConnectionStatus.SUSPENDED
    ]
    if not found:
        raise _Unreachable(f"{ref} is not registered at the hub as {role}")
    platform = await tx.get(Platform, found[0].platform_id)
    if platform is None or platform.status is not ConnectionStatus.CONNECTED:
        status = platform.status if platform is not None else "unknown"
        raise _Unreachable(f"{ref} is not connected ({status})")
    if not platform.outgoing_token:
        raise _Unreachable(f"{ref} has given the hub no token to call it with")
    return platform


def _with_response_url(command: CommandType, body: Mapping[str, Any], url: str) -> dict[str, Any]:
    """The body as sent: the hub URL first (the spec's field order), then the graph's fields.

    Checked against the spec's object like any command through the hub; the graph builds the
    body, so an invalid one is a bug there and raises (ValueError) before anything is stored.
    """
    sent = {"response_url": url, **{k: v for k, v in body.items() if k != "response_url"}}
    try:
        validation.validate(ObjectKind[command.name], sent)
    except InvalidParameters as error:
        raise ValueError(f"not a valid {command} body: {error.message}") from None
    return sent


def _command_response(answer: PeerResponse) -> dict[str, Any]:
    """The CommandResponse in the CPO's answer; InvalidParameters when there is none (an HTTP
    error, an OCPI error status, a ``data`` that is not a CommandResponse)."""
    if answer.status >= 300:
        raise InvalidParameters(f"the CPO answered HTTP {answer.status}")
    envelope = orjson.loads(answer.body)  # forward.send lets only JSON through
    if not isinstance(envelope, dict) or "status_code" not in envelope:
        raise InvalidParameters("the CPO's answer is not an OCPI response")
    if envelope["status_code"] != 1000:
        said = envelope.get("status_message")
        raise InvalidParameters(
            f"the CPO answered OCPI status {envelope['status_code']}"
            + (f": {said}" if isinstance(said, str) and said else "")
        )
    data = forward.envelope_data(answer)
    try:
        validation.validate(ObjectKind.COMMAND_RESPONSE, data)
    except InvalidParameters as error:
        raise InvalidParameters(
            f"the CPO's answer is not a CommandResponse: {error.message}"
        ) from None
    assert isinstance(data, dict)
    return data


def _text(message: Any) -> str | None:
    """The CPO's message (a list of DisplayText) for the driver: English first, else the first."""
    if not isinstance(message, list):
        return None
    texts = [m for m in message if isinstance(m, dict) and isinstance(m.get("text"), str)]
    english = [m for m in texts if m.get("language") == "en"]
    chosen = english or texts
    return str(chosen[0]["text"]) if chosen else None
