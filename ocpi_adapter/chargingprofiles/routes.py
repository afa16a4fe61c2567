"""Charging profiles (mod_charging_profiles): Receiver at the CPO, Sender at the eMSP/SCSP.

GET and DELETE carry response_url in the query, PUT in the body; each becomes a hub URL.
"""

from __future__ import annotations

from ocpi_adapter.routing.operations import ModuleRoutes, OpenRoute, Operation
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.validation import ObjectKind

SENDER, RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER
SESSION = "{session_id}"

ROUTES = ModuleRoutes(
    module=ModuleID.CHARGING_PROFILES,
    operations=(
        Operation(RECEIVER, "GET", SESSION, response_url="query"),
        Operation(
            RECEIVER,
            "PUT",
            SESSION,
            body=ObjectKind.SET_CHARGING_PROFILE,
            response_url="body",
        ),
        Operation(RECEIVER, "DELETE", SESSION, response_url="query"),
        # Results of GET/PUT/DELETE: ActiveChargingProfileResult, ChargingProfileResult or
        # ClearProfileResult, depending on the request they answer.
        Operation(SENDER, "POST", "{callback_id}", callback=True),
        Operation(
            SENDER,
            "PUT",
            SESSION,
            body=ObjectKind.ACTIVE_CHARGING_PROFILE,
            open_route=OpenRoute.OWN_SESSION,
        ),
    ),
)
