"""A functional-module request as one immutable value, parsed once at the door."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from ocpi_adapter.headers import PartyRef, Routing, Trace
from ocpi_adapter.platforms.service import Caller
from ocpi_adapter.roles import Use, use_of
from ocpi_adapter.routing.operations import ModuleRoutes, Operation, StoreInput
from ocpi_adapter.types import Role


@dataclass(frozen=True, slots=True)
class RoutedRequest:
    module: ModuleRoutes
    operation: Operation
    params: dict[str, str]
    method: str
    suffix: str  # the path after the hub's module endpoint, as received
    query_string: str  # as received, so encoded values survive untouched (check 57)
    query: QueryParams
    raw_body: bytes
    body: Any  # parsed JSON, or None for requests without a body
    body_valid: bool  # passed the object's validation (decides what the hub stores)
    caller: Caller
    sender: PartyRef  # the checked OCPI-from party
    roles: frozenset[Role]  # the sender's roles that may use this interface (never empty)
    routing: Routing  # the headers as sent
    trace: Trace
    via: str | None  # the Via it came with, kept in front of the hub's own on each hop

    @property
    def use(self) -> Use:
        return use_of(self.module.module, self.operation.interface, self.method)

    def store_input(
        self, *, receiver: PartyRef | None, callback_id: str | None = None
    ) -> StoreInput:
        return StoreInput(
            params=self.params,
            query=self.query,
            body=self.body,
            sender=self.sender,
            receiver=receiver,
            callback_id=callback_id,
        )
