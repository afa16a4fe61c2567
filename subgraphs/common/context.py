"""What a subgraph's resolvers see of a request: the running platform, who asks, and the
request's DataLoaders (one batch query per kind of row, however many rows a list needs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from strawberry.dataloader import DataLoader

from incar.runtime import Runtime
from subgraphs.common.commands import CommandPort
from subgraphs.common.errors import Code, error


class ViewerKind(StrEnum):
    ANONYMOUS = "anonymous"
    DRIVER = "driver"  # logged in at their eMSP's OpenID Connect provider
    PARTY = "party"  # a CPO's or eMSP's back-office, with its OCPI credentials token


@dataclass(frozen=True, slots=True)
class Viewer:
    kind: ViewerKind = ViewerKind.ANONYMOUS
    #: The party: a driver's eMSP, or the back-office's own party (upper-cased).
    country_code: str | None = None
    party_id: str | None = None
    role: str | None = None  # a party's OCPI role (CPO, EMSP, ...)
    token_uid: str | None = None  # a driver's OCPI token uid (upper-cased: a CiString)
    subject: str | None = None  # a driver's subject at their provider

    @property
    def party(self) -> tuple[str, str] | None:
        if self.country_code is None or self.party_id is None:
            return None
        return self.country_code, self.party_id


ANONYMOUS = Viewer()


@dataclass
class GraphContext:
    runtime: Runtime
    viewer: Viewer = ANONYMOUS
    #: How commands reach CPOs (the OCPI adapter's, in a process that runs the hub); None in
    #: a subgraph process that cannot send them.
    commands: CommandPort | None = None
    #: Strawberry's: the HTTP request or WebSocket, the response, and a WebSocket's
    #: connection_init payload (where a subscription's token comes).
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    #: Credentials that did not pass (``Authenticated`` refuses the request with their code).
    auth_problem: Exception | None = None
    _loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)

    def fresh(self) -> None:
        """Forgets what the loaders hold: a subscription's context lives as long as its
        connection, and each event must be read as stored now."""
        self._loaders.clear()

    def driver(self) -> Viewer:
        """The logged-in driver, or UNAUTHENTICATED."""
        if self.viewer.kind is not ViewerKind.DRIVER or self.viewer.token_uid is None:
            raise error(Code.UNAUTHENTICATED, "log in at your eMSP to do this")
        return self.viewer

    def command_port(self) -> CommandPort:
        if self.commands is None:
            raise error(Code.INTERNAL, "this process cannot send commands to CPOs")
        return self.commands

    def now(self) -> datetime:
        """The platform's clock (simulated in the demo)."""
        return self.runtime.clock()

    def loader[K, T](
        self,
        name: str,
        factory: Callable[[GraphContext], DataLoader[K, T]],
    ) -> DataLoader[K, T]:
        """The request's loader of this name, made on first use: a loader caches per request,
        so what one request loaded is never served to another."""
        found = self._loaders.get(name)
        if found is None:
            found = self._loaders[name] = factory(self)
        return cast(DataLoader[K, T], found)


def key_of(*parts: str) -> tuple[str, ...]:
    """A loader key of OCPI ids: upper-cased, since ids are CiStrings."""
    return tuple(part.upper() for part in parts)
