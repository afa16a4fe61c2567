"""The port through which the graph sends OCPI commands to a CPO, on behalf of a driver's eMSP.

The subgraphs decide what to send (a booking's RESERVE_NOW, a driver's START_SESSION); the OCPI
adapter, which holds the CPOs' endpoints and credentials, implements this port and sends it
through the hub with a hub ``response_url``. The CPO's later CommandResult comes back through
the hub and is recorded by ``subgraphs.sessions.service.record_command_answer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class CommandType(StrEnum):
    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class Delivery(StrEnum):
    """What became of sending a command, before any result from the charge point."""

    #: The CPO answered with a CommandResponse (its ``result`` says ACCEPTED, REJECTED, ...).
    ANSWERED = "answered"
    #: The CPO is not connected, or offers no commands receiver: nothing was sent.
    UNREACHABLE = "unreachable"
    #: Sent, but no valid answer came (timeout, connection error, not OCPI): the CPO may or
    #: may not act on it.
    NO_ANSWER = "no_answer"


@dataclass(frozen=True, slots=True)
class CommandSent:
    command_id: str  # the id the hub's response_url carries; the Command row's id
    delivery: Delivery
    #: The CommandResponse's result (ACCEPTED, REJECTED, NOT_SUPPORTED, UNKNOWN_SESSION)
    #: when ``delivery`` is ANSWERED.
    response: str | None = None
    #: Seconds the CPO said it waits for the charge point (CommandResponse.timeout).
    timeout: int | None = None
    message: str | None = None  # the CPO's or the hub's reason, for the driver's error


class CommandPort(Protocol):
    async def send(
        self,
        *,
        command: CommandType,
        emsp: tuple[str, str],
        cpo: tuple[str, str],
        body: Mapping[str, Any],
    ) -> CommandSent:
        """Sends ``body`` (the command object without ``response_url``, which the hub adds)
        to the CPO ``cpo`` as from the eMSP ``emsp``; records it as a Command before it
        leaves, so a result that arrives at once finds it."""
        ...
