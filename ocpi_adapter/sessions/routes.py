"""Sessions (mod_sessions): Sender interface at the CPO, Receiver interface at the eMSP.

Policy: Session pushes are party-specific (GDPR), so they are never broadcast; without
OCPI-to they go to the eMSP of the session's cdr_token.
"""

from __future__ import annotations

from ocpi_adapter.routing.operations import ModuleRoutes, OpenRoute, Operation
from ocpi_adapter.sessions import store
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.validation import ObjectKind

SENDER, RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER
SESSION = "{country_code}/{party_id}/{session_id}"

ROUTES = ModuleRoutes(
    module=ModuleID.SESSIONS,
    operations=(
        Operation(SENDER, "GET", "", get_all=store.get_all),
        Operation(
            SENDER,
            "PUT",
            "{session_id}/charging_preferences",
            body=ObjectKind.CHARGING_PREFERENCES,
            customer_session=True,
        ),
        Operation(RECEIVER, "GET", SESSION),
        Operation(
            RECEIVER,
            "PUT",
            SESSION,
            body=ObjectKind.SESSION,
            id_field="id",
            open_route=OpenRoute.CDR_TOKEN,
            store=store.put,
        ),
        Operation(
            RECEIVER,
            "PATCH",
            SESSION,
            body=ObjectKind.SESSION_PATCH,
            id_field="id",
            open_route=OpenRoute.OWN_SESSION,
            store=store.patch,
        ),
    ),
)
