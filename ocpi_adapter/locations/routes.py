"""Locations (mod_locations): Sender interface at the CPO, Receiver interface at the eMSP."""

from __future__ import annotations

from ocpi_adapter.locations import store
from ocpi_adapter.routing.operations import ModuleRoutes, Operation
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.validation import ObjectKind

SENDER, RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER
LOCATION = "{country_code}/{party_id}/{location_id}"
EVSE = LOCATION + "/{evse_uid}"
CONNECTOR = EVSE + "/{connector_id}"
# Where a child is kept in its Location document: location.evses[i] is 2 levels inside it,
# location.evses[i].connectors[j] 4 (each list and object a level).
EVSE_LEVEL, CONNECTOR_LEVEL = 2, 4

ROUTES = ModuleRoutes(
    module=ModuleID.LOCATIONS,
    operations=(
        Operation(SENDER, "GET", "", get_all=store.get_all),
        Operation(SENDER, "GET", "{location_id}"),
        Operation(SENDER, "GET", "{location_id}/{evse_uid}"),
        Operation(SENDER, "GET", "{location_id}/{evse_uid}/{connector_id}"),
        Operation(RECEIVER, "GET", LOCATION),
        Operation(RECEIVER, "GET", EVSE),
        Operation(RECEIVER, "GET", CONNECTOR),
        Operation(
            RECEIVER,
            "PUT",
            LOCATION,
            body=ObjectKind.LOCATION,
            id_field="id",
            broadcast=True,
            store=store.put,
        ),
        Operation(
            RECEIVER,
            "PUT",
            EVSE,
            body=ObjectKind.EVSE,
            stored_at=EVSE_LEVEL,
            id_field="uid",
            broadcast=True,
            store=store.put_evse,
        ),
        Operation(
            RECEIVER,
            "PUT",
            CONNECTOR,
            body=ObjectKind.CONNECTOR,
            stored_at=CONNECTOR_LEVEL,
            id_field="id",
            broadcast=True,
            store=store.put_connector,
        ),
        Operation(
            RECEIVER,
            "PATCH",
            LOCATION,
            body=ObjectKind.LOCATION_PATCH,
            id_field="id",
            broadcast=True,
            store=store.patch,
        ),
        Operation(
            RECEIVER,
            "PATCH",
            EVSE,
            body=ObjectKind.EVSE_PATCH,
            stored_at=EVSE_LEVEL,
            id_field="uid",
            broadcast=True,
            store=store.patch_evse,
        ),
        Operation(
            RECEIVER,
            "PATCH",
            CONNECTOR,
            body=ObjectKind.CONNECTOR_PATCH,
            stored_at=CONNECTOR_LEVEL,
            id_field="id",
            broadcast=True,
            store=store.patch_connector,
        ),
    ),
)
