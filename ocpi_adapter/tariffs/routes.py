"""Tariffs (mod_tariffs): Sender interface at the CPO, Receiver interface at the eMSP."""

from __future__ import annotations

from ocpi_adapter.routing.operations import ModuleRoutes, Operation
from ocpi_adapter.tariffs import store
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.validation import ObjectKind

SENDER, RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER
TARIFF = "{country_code}/{party_id}/{tariff_id}"

ROUTES = ModuleRoutes(
    module=ModuleID.TARIFFS,
    operations=(
        Operation(SENDER, "GET", "", get_all=store.get_all),
        Operation(RECEIVER, "GET", TARIFF),
        Operation(
            RECEIVER,
            "PUT",
            TARIFF,
            body=ObjectKind.TARIFF,
            id_field="id",
            broadcast=True,
            store=store.put,
        ),
        Operation(RECEIVER, "DELETE", TARIFF, broadcast=True, store=store.delete),
    ),
)
