"""What each functional module declares: its operations, per interface, as data."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import QueryParams

from incar.documents import Outcome, Page
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.pagination import PageRequest
from ocpi_adapter.types import InterfaceRole, ModuleID
from ocpi_adapter.validation import ObjectKind


class OpenRoute(StrEnum):
    """How the hub finds the receiver of a request without OCPI-to headers (open routing).

    Only from an owner the request names (hub policy, docs/policies.md): OCPI ids are unique
    per owner only, so an id alone (a Location id, a token uid, another party's session id)
    never decides, however many owners the hub knows for it.
    """

    NONE = "none"  # nothing names the receiver: broadcast where allowed, otherwise 4001
    OWN_SESSION = "own_session"  # URL session_id of the sending CPO's own Session: its eMSP
    OWN_RESERVATION = "own_reservation"  # body reservation_id of the sender's own RESERVE_NOW
    CDR_TOKEN = "cdr_token"  # body cdr_token: its eMSP (session and CDR pushes)


@dataclass(frozen=True, slots=True)
class StoreInput:
    """What a store hook sees of a request that passed the hub's checks."""

    params: Mapping[str, str]
    query: QueryParams
    body: Any
    sender: PartyRef
    receiver: PartyRef | None
    callback_id: str | None = None


Store = Callable[[AsyncSession, StoreInput], Awaitable[Outcome]]
Observe = Callable[[AsyncSession, StoreInput, Any], Awaitable[None]]
GetAll = Callable[[AsyncSession, PartyRef, PageRequest], Awaitable[Page]]
# Headers the hub adds of its own (the CDR ledger's: docs/ledger-headers.md), never to a body.
StoredHeaders = Callable[[AsyncSession, StoreInput], Awaitable[Mapping[str, str]]]
PageHeaders = Callable[[AsyncSession, Page], Awaitable[Mapping[str, str]]]


@dataclass(frozen=True, slots=True)
class Operation:
    interface: InterfaceRole
    method: str
    pattern: str
    body: ObjectKind | None = None
    stored_at: int = 0  # levels inside the stored document the body is kept (an EVSE: 2)
    body_optional: bool = False  # e.g. an authorize without LocationReferences
    id_field: str | None = None  # body field that must equal the URL's last parameter
    broadcast: bool = False  # may be pushed with TO = hub
    get_all: GetAll | None = None  # a list the hub serves from its store (GET All via hub)
    response_url: Literal["body", "query"] | None = None
    callback: bool = False  # the last segment names a hub URL (response_url, CDR Location)
    location_header: bool = False  # the receiver's Location header is replaced by a hub URL
    open_route: OpenRoute = OpenRoute.NONE
    store: Store | None = None
    observe: Observe | None = None  # sees the receiver's success answer (command states)
    # Of what ``store`` stored, in its transaction: added to the forwarded request and to the
    # answer relayed to the sender.
    stored_headers: StoredHeaders | None = None
    page_headers: PageHeaders | None = None  # of a page ``get_all`` served, in its transaction
    # About a Session of the sender's customer (charging preferences): the hub must know the
    # Session at the receiving CPO, and its eMSP must be the sender.
    customer_session: bool = False
    segments: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(s for s in self.pattern.split("/") if s))

    @property
    def segments_params(self) -> frozenset[str]:
        """The names of the path's parameters ("token_uid", ...)."""
        return frozenset(s[1:-1] for s in self.segments if s.startswith("{"))

    @property
    def client_owned(self) -> bool:
        return self.segments[:2] == ("{country_code}", "{party_id}")

    def match(self, parts: tuple[str, ...]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for segment, part in zip(self.segments, parts, strict=True):
            if segment.startswith("{"):
                if not part:
                    return None
                params[segment[1:-1]] = part
            elif segment != part:
                return None
        return params


@dataclass(frozen=True, slots=True)
class ModuleRoutes:
    module: ModuleID
    operations: tuple[Operation, ...]

    def interfaces(self) -> list[InterfaceRole]:
        return [i for i in InterfaceRole if any(op.interface is i for op in self.operations)]
