"""Tokens (mod_tokens): Sender interface at the eMSP, Receiver interface at the CPO."""

from __future__ import annotations

from ocpi_adapter.routing.operations import ModuleRoutes, Operation
from ocpi_adapter.tokens import store
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.validation import ObjectKind

SENDER, RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER
TOKEN = "{country_code}/{party_id}/{token_uid}"

ROUTES = ModuleRoutes(
    module=ModuleID.TOKENS,
    operations=(
        Operation(SENDER, "GET", "", get_all=store.get_all),
        Operation(
            SENDER,
            "POST",
            "{token_uid}/authorize",
            body=ObjectKind.LOCATION_REFERENCES,
            body_optional=True,
        ),
        Operation(RECEIVER, "GET", TOKEN),
        Operation(
            RECEIVER,
            "PUT",
            TOKEN,
            body=ObjectKind.TOKEN,
            id_field="uid",
            broadcast=True,
            store=store.put,
        ),
        Operation(
            RECEIVER,
            "PATCH",
            TOKEN,
            body=ObjectKind.TOKEN_PATCH,
            id_field="uid",
            broadcast=True,
            store=store.patch,
        ),
    ),
)
