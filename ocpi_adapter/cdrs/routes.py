"""CDRs (mod_cdrs): Sender interface at the CPO, Receiver interface at the eMSP.

Policy: CDRs are never broadcast; without OCPI-to a CDR goes to the eMSP of its cdr_token.
The eMSP's Location for a posted CDR is handed to the CPO as a hub URL (``{callback_id}``).
The ledger's headers of a CDR go with it to the eMSP, back to the CPO, and on every page of
GET All (docs/ledger-headers.md).
"""

from __future__ import annotations

from ocpi_adapter.cdrs import store
from ocpi_adapter.routing.operations import ModuleRoutes, OpenRoute, Operation
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.validation import ObjectKind

SENDER, RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER

ROUTES = ModuleRoutes(
    module=ModuleID.CDRS,
    operations=(
        Operation(SENDER, "GET", "", get_all=store.get_all, page_headers=store.page_headers),
        Operation(
            RECEIVER,
            "POST",
            "",
            body=ObjectKind.CDR,
            location_header=True,
            open_route=OpenRoute.CDR_TOKEN,
            store=store.post,
            stored_headers=store.posted_headers,
        ),
        Operation(RECEIVER, "GET", "{callback_id}", callback=True),
    ),
)
