"""Commands (mod_commands): Receiver interface at the CPO, Sender (results) at the eMSP.

Each command's response_url becomes a unique hub URL (``{callback_id}`` on the hub's Sender
interface); the CPO's CommandResult reaches the eMSP's own URL through it.
"""

from __future__ import annotations

from ocpi_adapter.commands import store
from ocpi_adapter.routing.operations import ModuleRoutes, OpenRoute, Operation
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.validation import ObjectKind

SENDER, RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER

COMMANDS: dict[str, tuple[ObjectKind, OpenRoute]] = {
    "START_SESSION": (ObjectKind.START_SESSION, OpenRoute.NONE),
    "STOP_SESSION": (ObjectKind.STOP_SESSION, OpenRoute.NONE),
    "RESERVE_NOW": (ObjectKind.RESERVE_NOW, OpenRoute.NONE),
    "CANCEL_RESERVATION": (ObjectKind.CANCEL_RESERVATION, OpenRoute.OWN_RESERVATION),
    "UNLOCK_CONNECTOR": (ObjectKind.UNLOCK_CONNECTOR, OpenRoute.NONE),
}

ROUTES = ModuleRoutes(
    module=ModuleID.COMMANDS,
    operations=(
        *(
            Operation(
                RECEIVER,
                "POST",
                name,
                body=kind,
                response_url="body",
                open_route=route,
                store=store.requested(name),
                observe=store.responded,
            )
            for name, (kind, route) in COMMANDS.items()
        ),
        Operation(
            SENDER,
            "POST",
            "{callback_id}",
            body=ObjectKind.COMMAND_RESULT,
            callback=True,
            store=store.resulted,
        ),
    ),
)
