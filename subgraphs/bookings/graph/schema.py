"""The bookings subgraph: a driver books an EVSE, cancels, and sees their bookings; every
EVSE shows whether it is booked."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Self

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from incar.timestamps import format_timestamp
from subgraphs.bookings import service
from subgraphs.bookings.models import Booking as BookingRow
from subgraphs.bookings.models import BookingState as State
from subgraphs.common import roots
from subgraphs.common.app import federation_schema
from subgraphs.common.arguments import First
from subgraphs.common.commands import CommandSent, CommandType, Delivery
from subgraphs.common.context import GraphContext, Viewer, ViewerKind
from subgraphs.common.errors import Code, error

EvseKey = tuple[str, str, str, str]
log = logging.getLogger("incar.bookings")


BookingId = Annotated[strawberry.ID, strawberry.argument(description="The booking's id.")]


@strawberry.enum(
    description="Where a booking stands; REQUESTED, CONFIRMED and CANCELLING hold the EVSE."
)
class BookingState(Enum):
    REQUESTED = strawberry.enum_value("REQUESTED", description="Sent; the CPO decides.")
    CONFIRMED = strawberry.enum_value("CONFIRMED", description="The charge point holds it.")
    CANCELLING = strawberry.enum_value(
        "CANCELLING", description="Cancellation sent; held until confirmed."
    )
    CANCELLED = strawberry.enum_value("CANCELLED", description="Cancelled by its driver.")
    REJECTED = strawberry.enum_value("REJECTED", description="Refused by the CPO.")
    FAILED = strawberry.enum_value("FAILED", description="No answer or result in time.")
    EXPIRED = strawberry.enum_value("EXPIRED", description="Its time ran out unused.")
    USED = strawberry.enum_value("USED", description="Its driver charged on it.")


def _driver(viewer: Viewer) -> service.Driver:
    assert viewer.party is not None and viewer.token_uid is not None
    return service.Driver(emsp=viewer.party, token_uid=viewer.token_uid, subject=viewer.subject)


def _may_see(viewer: Viewer, row: BookingRow) -> bool:
    """Its driver, its driver's eMSP and the EVSE's CPO see a booking; nobody else."""
    if viewer.kind is ViewerKind.DRIVER:
        return viewer.party == (row.emsp_country_code, row.emsp_party_id) and (
            viewer.token_uid == row.token_uid
        )
    if viewer.kind is ViewerKind.PARTY:
        return viewer.party in (
            (row.emsp_country_code, row.emsp_party_id),
            (row.cpo_country_code, row.cpo_party_id),
        )
    return False


@strawberry.federation.type(
    keys=["countryCode partyId locationId uid"],
    description="An EVSE (of the locations subgraph), with what the bookings say of it.",
)
class Evse:
    country_code: str = strawberry.field(description="Country of the CPO that operates it.")
    party_id: str = strawberry.field(description="Party id of the CPO that operates it.")
    location_id: str = strawberry.field(description="Its Location's id.")
    uid: str = strawberry.field(description="The EVSE's uid.")

    @classmethod
    def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self:
        return cls(
            country_code=key["countryCode"],
            party_id=key["partyId"],
            location_id=key["locationId"],
            uid=key["uid"],
        )

    @property
    def key(self) -> EvseKey:
        return (
            self.country_code.upper(),
            self.party_id.upper(),
            self.location_id.upper(),
            self.uid.upper(),
        )

    async def _holding(self, info: Info[GraphContext, None]) -> BookingRow | None:
        return await _holding_loader(info.context).load(self.key)

    @strawberry.field(description="Whether a booking holds it now (shown to everyone at once).")
    async def booked(self, info: Info[GraphContext, None]) -> bool:
        return await self._holding(info) is not None

    @strawberry.field(description="Until when the booking that holds it lasts, if any.")
    async def booked_until(self, info: Info[GraphContext, None]) -> datetime | None:
        row = await self._holding(info)
        return row.expires_at if row else None

    @strawberry.field(
        description="The booking that holds it now, if the viewer may see it (its driver, "
        "their eMSP, the EVSE's CPO); null otherwise."
    )
    async def current_booking(self, info: Info[GraphContext, None]) -> Booking | None:
        row = await self._holding(info)
        return Booking.of(row) if row and _may_see(info.context.viewer, row) else None


def _holding_loader(context: GraphContext) -> DataLoader[EvseKey, BookingRow | None]:
    def make(c: GraphContext) -> DataLoader[EvseKey, BookingRow | None]:
        async def load(keys: list[EvseKey]) -> list[BookingRow | None]:
            async with c.runtime.db.transaction() as tx:
                found = await service.holding_for(tx, keys, c.now())
            return [found.get(key) for key in keys]

        return DataLoader(load)

    return context.loader("bookings.holding", make)


@strawberry.federation.type(keys=["id"], description="A driver's booking of one EVSE.")
class Booking:
    id: strawberry.ID = strawberry.field(description="The booking's id.")
    row: strawberry.Private[BookingRow]

    @classmethod
    def of(cls, row: BookingRow) -> Booking:
        return cls(id=strawberry.ID(row.id), row=row)

    @classmethod
    async def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self | None:
        async with info.context.runtime.db.transaction() as tx:
            row = await service.get(tx, str(key["id"]))
        if row is None or not _may_see(info.context.viewer, row):
            return None
        return cls(id=strawberry.ID(row.id), row=row)

    @strawberry.field(description="Where it stands.")
    def state(self) -> BookingState:
        return BookingState(self.row.state.value)

    @strawberry.field(description="Whether it holds its EVSE now.")
    def holds(self) -> bool:
        return self.row.holds

    @strawberry.field(description="The EVSE booked.")
    def evse(self) -> Evse:
        r = self.row
        return Evse(
            country_code=r.cpo_country_code,
            party_id=r.cpo_party_id,
            location_id=r.location_id,
            uid=r.evse_uid,
        )

    @strawberry.field(description="The OCPI reservation_id sent to the CPO.")
    def reservation_id(self) -> str:
        return self.row.reservation_id

    @strawberry.field(description="When it was made (the platform's clock).")
    def starts_at(self) -> datetime:
        return self.row.starts_at

    @strawberry.field(description="When it ends unless used or cancelled first.")
    def expires_at(self) -> datetime:
        return self.row.expires_at

    @strawberry.field(description="Why it was rejected, failed, cancelled or expired.")
    def reason(self) -> str | None:
        return self.row.reason


@strawberry.input(description="An EVSE by its CPO, Location and uid.")
class EvseInput:
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    location_id: str = strawberry.field(description="The Location's id.")
    uid: str = strawberry.field(description="The EVSE's uid.")


def _refused(problem: service.BookingRefused) -> Exception:
    return error(problem.code, problem.message)


def _command_error(row: BookingRow) -> Exception:
    code = Code.COMMAND_REJECTED if row.state is State.REJECTED else Code.COMMAND_TIMEOUT
    return error(code, row.reason or row.state.value, bookingId=row.id, state=row.state.value)


async def _send(
    context: GraphContext, command: CommandType, row: BookingRow, body: dict[str, Any]
) -> CommandSent:
    """Sends a booking's command; a failure to send is no answer, never an unknown state."""
    try:
        return await context.command_port().send(
            command=command,
            emsp=(row.emsp_country_code, row.emsp_party_id),
            cpo=(row.cpo_country_code, row.cpo_party_id),
            body=body,
        )
    except Exception as problem:  # the booking must end, whatever went wrong on the way
        log.exception("sending %s for booking %s failed", command.value, row.id)
        return CommandSent(command_id="", delivery=Delivery.NO_ANSWER, message=str(problem))


@strawberry.type(description=roots.MUTATION)
class Mutation:
    @strawberry.mutation(
        description="Books an EVSE for the logged-in driver: it is held for them at once, "
        "and RESERVE_NOW goes to its CPO on behalf of their eMSP. The charge point's answer "
        "confirms or ends the booking (follow `booking(id)`); a refusal is an error with "
        "code COMMAND_REJECTED, no answer COMMAND_TIMEOUT, and the EVSE is free again."
    )
    async def reserve_evse(
        self,
        info: Info[GraphContext, None],
        evse: Annotated[EvseInput, strawberry.argument(description="The EVSE to book.")],
        minutes: Annotated[
            int,
            strawberry.argument(
                description=f"How long to hold it: from {service.MIN_MINUTES} to "
                f"{service.MAX_MINUTES} minutes."
            ),
        ] = 15,
    ) -> Booking:
        context = info.context
        driver = _driver(context.driver())
        ref = service.EvseRef((evse.country_code, evse.party_id), evse.location_id, evse.uid)
        try:
            async with context.runtime.db.transaction(write=True) as tx:
                row, token = await service.hold(
                    tx, driver=driver, evse=ref, minutes=minutes, now=context.now()
                )
        except service.BookingRefused as problem:
            raise _refused(problem) from None
        body = {
            "token": token,
            "expiry_date": format_timestamp(row.expires_at),
            "reservation_id": row.reservation_id,
            "location_id": row.location_id,
            "evse_uid": row.evse_uid,
        }
        sent = await _send(context, CommandType.RESERVE_NOW, row, body)
        async with context.runtime.db.transaction(write=True) as tx:
            row = await service.reserve_sent(
                tx,
                booking_id=row.id,
                sent=sent,
                now=context.now(),
                grace=context.runtime.settings.command_grace,
            )
        if row.state in (State.REJECTED, State.FAILED):
            raise _command_error(row)
        return Booking.of(row)

    @strawberry.mutation(
        description="Cancels one of the driver's bookings: CANCEL_RESERVATION goes to the "
        "CPO; the booking holds the EVSE until the charge point confirms."
    )
    async def cancel_booking(self, info: Info[GraphContext, None], id: BookingId) -> Booking:
        context = info.context
        driver = _driver(context.driver())
        try:
            async with context.runtime.db.transaction(write=True) as tx:
                row = await service.begin_cancel(
                    tx, booking_id=str(id), driver=driver, now=context.now()
                )
        except service.BookingRefused as problem:
            raise _refused(problem) from None
        sent = await _send(
            context, CommandType.CANCEL_RESERVATION, row, {"reservation_id": row.reservation_id}
        )
        async with context.runtime.db.transaction(write=True) as tx:
            row = await service.cancel_sent(
                tx,
                booking_id=row.id,
                sent=sent,
                now=context.now(),
                grace=context.runtime.settings.command_grace,
            )
        if row.state is State.CONFIRMED:
            raise error(
                Code.COMMAND_REJECTED if sent.response else Code.COMMAND_TIMEOUT,
                f"the booking stands: {row.reason}",
                bookingId=row.id,
            )
        return Booking.of(row)


@strawberry.type(description=roots.QUERY)
class Query:
    @strawberry.field(description="One booking, if the viewer may see it.")
    async def booking(self, info: Info[GraphContext, None], id: BookingId) -> Booking | None:
        return await Booking.resolve_reference(info, id=id)

    @strawberry.field(description="The logged-in driver's bookings, newest first.")
    async def my_bookings(self, info: Info[GraphContext, None], first: First = 20) -> list[Booking]:
        context = info.context
        driver = _driver(context.driver())
        if not 1 <= first <= 100:
            raise error(Code.BAD_USER_INPUT, "first: from 1 to 100")
        async with context.runtime.db.transaction() as tx:
            rows = await service.of_driver(tx, driver, limit=first)
        return [Booking.of(r) for r in rows]


schema = federation_schema(
    query=Query,
    mutation=Mutation,
    types=[Evse, Booking],
)
