"""The bookings service: a driver holds an EVSE from the moment they book it until the booking
ends, fails or expires; the CPO's answers to RESERVE_NOW and CANCEL_RESERVATION decide what
becomes of it. Expiry is the platform's own (``expire_overdue`` runs without any request)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from incar import events
from subgraphs.bookings.models import HOLDING, Booking, BookingState
from subgraphs.common.commands import CommandSent, Delivery
from subgraphs.common.errors import Code
from subgraphs.locations import service as locations
from subgraphs.locations.rows import derive
from subgraphs.locations.service import child
from subgraphs.sessions import service as sessions

TOPIC_BOOKING = "bookings.booking"
MIN_MINUTES, MAX_MINUTES = 1, 120
#: Statuses in which a CPO's EVSE cannot be booked whatever the bookings say.
UNBOOKABLE = frozenset({"OUTOFORDER", "INOPERATIVE", "REMOVED", "PLANNED"})
OCCUPIED = frozenset({"CHARGING", "BLOCKED", "RESERVED"})
#: How long a result is awaited when the CPO's CommandResponse gives no timeout.
DEFAULT_RESULT_WAIT = timedelta(seconds=60)


class BookingRefused(Exception):
    """A booking request or change the platform will not make; nothing was changed."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Driver:
    emsp: tuple[str, str]  # upper-cased
    token_uid: str  # upper-cased
    subject: str | None = None


@dataclass(frozen=True, slots=True)
class EvseRef:
    cpo: tuple[str, str]
    location_id: str
    evse_uid: str

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (
            self.cpo[0].upper(),
            self.cpo[1].upper(),
            self.location_id.upper(),
            self.evse_uid.upper(),
        )


async def _publish(tx: AsyncSession, booking: Booking, location: Mapping[str, Any] | None) -> None:
    """Watchers of an area learn that an EVSE is held or free again, before the CPO's own
    status update (if any) comes through the hub."""
    where = None
    if location is not None:
        where = next((f for f in derive(location) if f.evse_key == booking.evse_key), None)
    await events.publish(
        tx,
        TOPIC_BOOKING,
        {
            "booking_id": booking.id,
            "state": booking.state.value,
            "holds": booking.holds,
            "country_code": booking.cpo_country_code,
            "party_id": booking.cpo_party_id,
            "location_id": booking.location_id,
            "evse_uid": booking.evse_uid,
            "expires_at": booking.expires_at.isoformat(),
            "latitude": where.latitude if where else None,
            "longitude": where.longitude if where else None,
            "emsp_country_code": booking.emsp_country_code,
            "emsp_party_id": booking.emsp_party_id,
            "token_uid": booking.token_uid,
        },
    )


async def _location(tx: AsyncSession, booking: Booking) -> Mapping[str, Any] | None:
    return await locations.get_location(
        tx,
        country_code=booking.cpo_country_code,
        party_id=booking.cpo_party_id,
        location_id=booking.location_key,
    )


async def _change(
    tx: AsyncSession, booking: Booking, state: BookingState, now: datetime, reason: str | None
) -> Booking:
    booking.state = state
    booking.updated_at = now
    if reason is not None:
        booking.reason = reason
    await tx.flush()
    await _publish(tx, booking, await _location(tx, booking))
    return booking


async def _expire_evse(tx: AsyncSession, evse: EvseRef, now: datetime) -> None:
    """Ends this EVSE's holding bookings whose time is up, so a new one may be made."""
    cc, pid, loc, uid = evse.key
    overdue = (
        await tx.execute(
            select(Booking).where(
                col(Booking.cpo_country_code) == cc,
                col(Booking.cpo_party_id) == pid,
                col(Booking.location_key) == loc,
                col(Booking.evse_key) == uid,
                col(Booking.state).in_(HOLDING),
                col(Booking.expires_at) <= now,
            )
        )
    ).scalars()
    for booking in overdue:
        await _change(tx, booking, BookingState.EXPIRED, now, "its time ran out")


async def holding(tx: AsyncSession, evse: EvseRef, now: datetime) -> Booking | None:
    """The booking that holds this EVSE now, if any."""
    found = await holding_for(tx, [evse.key], now)
    return found.get(evse.key)


async def holding_for(
    tx: AsyncSession, keys: Sequence[tuple[str, str, str, str]], now: datetime
) -> dict[tuple[str, str, str, str], Booking]:
    """The bookings holding these EVSEs (upper-cased keys) at ``now``, in one query (two when
    more bookings hold EVSEs than keys are asked for)."""
    wanted = set(keys)
    if not wanted:
        return {}
    holding = [col(Booking.state).in_(HOLDING), col(Booking.expires_at) > now]
    # A search asks for hundreds of EVSEs, of which few or none are booked: all the holding
    # bookings (while they are fewer than the keys) cost less than sending every key as a
    # bound parameter, which was half of a search's Python time at 100,000 EVSEs.
    if len(wanted) > 8:
        rows = list(
            (await tx.execute(select(Booking).where(*holding).limit(len(wanted)))).scalars()
        )
        if len(rows) < len(wanted):
            return {key: b for b in rows if (key := _held_key(b)) in wanted}
    rows = list(
        (
            await tx.execute(
                select(Booking).where(
                    tuple_(
                        col(Booking.cpo_country_code),
                        col(Booking.cpo_party_id),
                        col(Booking.location_key),
                        col(Booking.evse_key),
                    ).in_(list(wanted)),
                    *holding,
                )
            )
        ).scalars()
    )
    return {_held_key(b): b for b in rows}


def _held_key(booking: Booking) -> tuple[str, str, str, str]:
    return (
        booking.cpo_country_code,
        booking.cpo_party_id,
        booking.location_key,
        booking.evse_key,
    )


async def hold(
    tx: AsyncSession, *, driver: Driver, evse: EvseRef, minutes: int, now: datetime
) -> tuple[Booking, dict[str, Any]]:
    """A new booking in REQUESTED, holding the EVSE at once, and the driver's Token for the
    RESERVE_NOW. Refused (nothing stored) when the EVSE is unknown, not reservable, out of
    service, in use or held, or when the driver's eMSP has not published their token."""
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise BookingRefused(Code.BAD_USER_INPUT, f"minutes: from {MIN_MINUTES} to {MAX_MINUTES}")
    location = await locations.get_location(
        tx, country_code=evse.cpo[0], party_id=evse.cpo[1], location_id=evse.location_id
    )
    found = child((location or {}).get("evses"), "uid", evse.evse_uid)
    if location is None or found is None or location.get("publish") is False:
        raise BookingRefused(Code.NOT_FOUND, "no such EVSE")
    if "RESERVABLE" not in (found.get("capabilities") or []):
        raise BookingRefused(Code.BAD_USER_INPUT, "this EVSE cannot be booked (not RESERVABLE)")
    status = str(found.get("status"))
    if status in UNBOOKABLE:
        raise BookingRefused(Code.CONFLICT, f"this EVSE is {status}")
    await _expire_evse(tx, evse, now)
    if await holding(tx, evse, now) is not None:
        raise BookingRefused(Code.CONFLICT, "this EVSE is booked")
    if status in OCCUPIED or await sessions.active_on(
        tx, cpo=evse.cpo, location_id=evse.location_id, evse_uid=evse.evse_uid
    ):
        raise BookingRefused(Code.CONFLICT, "this EVSE is in use")
    token = await sessions.find_token(tx, emsp=driver.emsp, uid=driver.token_uid)
    if token is None or token.get("valid") is False:
        raise BookingRefused(
            Code.FORBIDDEN, "your eMSP has not published a valid token for you to the hub"
        )
    booking = Booking(
        id=str(uuid.uuid4()),
        reservation_id=uuid.uuid4().hex[:36],
        state=BookingState.REQUESTED,
        emsp_country_code=driver.emsp[0],
        emsp_party_id=driver.emsp[1],
        token_uid=driver.token_uid,
        subject=driver.subject,
        cpo_country_code=evse.key[0],
        cpo_party_id=evse.key[1],
        location_key=evse.key[2],
        evse_key=evse.key[3],
        location_id=str(location["id"]),
        evse_uid=str(found["uid"]),
        starts_at=now,
        expires_at=now + timedelta(minutes=minutes),
        created_at=now,
        updated_at=now,
    )
    tx.add(booking)
    try:
        async with tx.begin_nested():
            await tx.flush()
    except IntegrityError:
        # Another driver's booking of this EVSE committed first (the partial unique index).
        raise BookingRefused(Code.CONFLICT, "this EVSE is booked") from None
    await _publish(tx, booking, location)
    return booking, token


def _result_due(sent: CommandSent, now: datetime, grace: float) -> datetime:
    wait = timedelta(seconds=sent.timeout) if sent.timeout else DEFAULT_RESULT_WAIT
    return now + wait + timedelta(seconds=grace)


async def get(tx: AsyncSession, booking_id: str, *, lock: bool = False) -> Booking | None:
    return await tx.get(Booking, booking_id, with_for_update=lock)


async def reserve_sent(
    tx: AsyncSession, *, booking_id: str, sent: CommandSent, now: datetime, grace: float
) -> Booking:
    """What the CPO said to the RESERVE_NOW: accepted, the booking waits for the charge
    point's result; anything else ends it at once (nothing held, no phantom)."""
    booking = await get(tx, booking_id, lock=True)
    assert booking is not None
    booking.reserve_command_id = sent.command_id or booking.reserve_command_id
    if booking.state is not BookingState.REQUESTED:
        return booking  # the result came first and decided already
    if sent.delivery is Delivery.ANSWERED and sent.response == "ACCEPTED":
        booking.result_due = _result_due(sent, now, grace)
        await tx.flush()
        return booking
    if sent.delivery is Delivery.ANSWERED:
        return await _change(
            tx, booking, BookingState.REJECTED, now, f"the CPO answered {sent.response}"
        )
    return await _change(tx, booking, BookingState.FAILED, now, sent.message or "no answer")


async def begin_cancel(
    tx: AsyncSession, *, booking_id: str, driver: Driver, now: datetime
) -> Booking:
    booking = await get(tx, booking_id, lock=True)
    if booking is None or not _owns(driver, booking):
        raise BookingRefused(Code.NOT_FOUND, "no such booking of yours")
    if booking.state is BookingState.REQUESTED and booking.result_due is None:
        raise BookingRefused(Code.CONFLICT, "this booking is still being sent; try again")
    if booking.state not in (BookingState.REQUESTED, BookingState.CONFIRMED):
        raise BookingRefused(Code.CONFLICT, f"this booking is {booking.state.value}")
    booking.state = BookingState.CANCELLING
    booking.updated_at = now
    await tx.flush()
    return booking


async def cancel_sent(
    tx: AsyncSession, *, booking_id: str, sent: CommandSent, now: datetime, grace: float
) -> Booking:
    booking = await get(tx, booking_id, lock=True)
    assert booking is not None
    booking.cancel_command_id = sent.command_id or booking.cancel_command_id
    if booking.state is not BookingState.CANCELLING:
        return booking
    if sent.delivery is Delivery.ANSWERED and sent.response == "ACCEPTED":
        booking.result_due = _result_due(sent, now, grace)
        await tx.flush()
        return booking
    # The CPO would not cancel (or could not be asked): the booking stands, and still ends
    # at its expiry.
    reason = f"the CPO answered {sent.response}" if sent.response else sent.message
    return await _change(tx, booking, BookingState.CONFIRMED, now, reason or "no answer")


async def command_answered(
    tx: AsyncSession,
    *,
    command: str,
    request: Mapping[str, Any],
    emsp: tuple[str, str],
    result: Mapping[str, Any],
    now: datetime,
) -> None:
    """A charge point's CommandResult of a booking's command (found by its reservation id,
    since the result may arrive before the command's id is linked to the booking)."""
    reservation_id = request.get("reservation_id")
    if command not in ("RESERVE_NOW", "CANCEL_RESERVATION") or not isinstance(reservation_id, str):
        return
    booking = (
        (
            await tx.execute(
                select(Booking)
                .where(
                    col(Booking.reservation_id) == reservation_id,
                    col(Booking.emsp_country_code) == emsp[0],
                    col(Booking.emsp_party_id) == emsp[1],
                )
                .with_for_update()
            )
        )
        .scalars()
        .first()
    )
    if booking is None:
        return  # an eMSP's own reservation through OCPI, not a booking of the graph
    outcome = str(result.get("result", ""))
    if command == "RESERVE_NOW" and booking.state is BookingState.REQUESTED:
        if outcome == "ACCEPTED":
            await _change(tx, booking, BookingState.CONFIRMED, now, None)
        else:
            await _change(tx, booking, BookingState.REJECTED, now, f"charge point: {outcome}")
    elif command == "CANCEL_RESERVATION" and booking.state is BookingState.CANCELLING:
        if outcome == "ACCEPTED":
            await _change(tx, booking, BookingState.CANCELLED, now, "cancelled by its driver")
        else:
            await _change(tx, booking, BookingState.CONFIRMED, now, f"not cancelled: {outcome}")


def _overdue(now: datetime) -> list[Any]:
    return [
        col(Booking.state).in_(HOLDING),
        (col(Booking.expires_at) <= now) | (col(Booking.result_due) <= now),
    ]


async def any_overdue(tx: AsyncSession, now: datetime) -> bool:
    found = await tx.execute(select(col(Booking.id)).where(*_overdue(now)).limit(1))
    return found.first() is not None


async def expire_overdue(tx: AsyncSession, now: datetime) -> int:
    """Ends what time has ended: holding bookings past their expiry, requests whose result
    never came; a cancellation never confirmed leaves the booking as it was. Returns how many
    bookings changed."""
    changed = 0
    rows = (await tx.execute(select(Booking).where(*_overdue(now)).with_for_update())).scalars()
    for booking in list(rows):
        if booking.expires_at <= now:
            await _change(tx, booking, BookingState.EXPIRED, now, "its time ran out")
        elif booking.state is BookingState.REQUESTED:
            await _change(
                tx, booking, BookingState.FAILED, now, "no result from the charge point in time"
            )
        elif booking.state is BookingState.CANCELLING:
            booking.result_due = None
            await _change(tx, booking, BookingState.CONFIRMED, now, "cancellation not confirmed")
        else:
            booking.result_due = None
            await tx.flush()
            continue
        changed += 1
    return changed


async def used(tx: AsyncSession, *, booking_id: str, now: datetime) -> None:
    """Its driver started charging on it: the booking has served."""
    booking = await get(tx, booking_id, lock=True)
    if booking is not None and booking.holds:
        await _change(tx, booking, BookingState.USED, now, None)


def _owns(driver: Driver, booking: Booking) -> bool:
    return (booking.emsp_country_code, booking.emsp_party_id) == driver.emsp and (
        booking.token_uid == driver.token_uid
    )


async def of_driver(tx: AsyncSession, driver: Driver, *, limit: int = 50) -> list[Booking]:
    rows = await tx.execute(
        select(Booking)
        .where(
            col(Booking.emsp_country_code) == driver.emsp[0],
            col(Booking.emsp_party_id) == driver.emsp[1],
            col(Booking.token_uid) == driver.token_uid,
        )
        .order_by(col(Booking.created_at).desc())
        .limit(limit)
    )
    return list(rows.scalars())
