"""The bookings service on a real database: an EVSE is held from the booking on, by one
driver only (also when two book at once), refused when it cannot be booked, and what the CPO
answers or never answers decides the booking, with time enforced without a request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.bookings import service, sweeper
from subgraphs.bookings.models import BookingState
from subgraphs.common.commands import CommandSent, Delivery
from subgraphs.common.errors import Code
from subgraphs.locations import service as locations
from subgraphs.sessions import service as sessions
from tests.conformance.support import charging_session, location, token
from tests.support.databases import fresh_database

CPO = ("FI", "CPO")
EMSP = ("DE", "EMA")
ALICE = service.Driver(emsp=EMSP, token_uid="ALICE")
BOB = service.Driver(emsp=EMSP, token_uid="BOB")
T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def evse(location_id: str) -> service.EvseRef:
    return service.EvseRef(CPO, location_id, f"{location_id}-E1")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
async def runtime() -> AsyncIterator[tuple[Runtime, Clock]]:
    clock = Clock()
    async with fresh_database() as url:
        rt = Runtime.create(Settings(database_url=url), clock=clock)
        await rt.start()
        try:
            async with rt.db.transaction(write=True) as tx:
                for lid in ("B1", "B2", "B3", "B4", "B5", "B6", "B7"):
                    body = location(*CPO, lid)
                    body["evses"][0]["capabilities"] = ["RESERVABLE"]
                    await locations.put_location(tx, data=body)
                plain = location(*CPO, "PLAIN")
                await locations.put_location(tx, data=plain)
                broken = location(*CPO, "BROKEN")
                broken["evses"][0].update(capabilities=["RESERVABLE"], status="OUTOFORDER")
                await locations.put_location(tx, data=broken)
                for uid in ("alice", "bob"):
                    await sessions.put_token(tx, data=token(*EMSP, uid))
            yield rt, clock
        finally:
            await rt.close()


async def hold(rt: Runtime, driver: service.Driver, ref: service.EvseRef, minutes: int = 15) -> Any:
    async with rt.db.transaction(write=True) as tx:
        booking, body_token = await service.hold(
            tx, driver=driver, evse=ref, minutes=minutes, now=rt.clock()
        )
    return booking, body_token


async def refused(rt: Runtime, driver: service.Driver, ref: service.EvseRef, **kw: Any) -> Code:
    with pytest.raises(service.BookingRefused) as caught:
        await hold(rt, driver, ref, **kw)
    return caught.value.code


async def state(rt: Runtime, booking_id: str) -> BookingState:
    async with rt.db.transaction() as tx:
        booking = await service.get(tx, booking_id)
    assert booking is not None
    return booking.state


async def sent(
    rt: Runtime, booking_id: str, delivery: Delivery, response: str | None = None
) -> BookingState:
    async with rt.db.transaction(write=True) as tx:
        booking = await service.reserve_sent(
            tx,
            booking_id=booking_id,
            sent=CommandSent("cmd-" + booking_id[:8], delivery, response=response, timeout=30),
            now=rt.clock(),
            grace=10,
        )
    return booking.state


async def result(rt: Runtime, booking: Any, command: str, outcome: str) -> None:
    async with rt.db.transaction(write=True) as tx:
        await service.command_answered(
            tx,
            command=command,
            request={"reservation_id": booking.reservation_id},
            emsp=EMSP,
            result={"result": outcome},
            now=rt.clock(),
        )


async def test_a_booking_holds_the_evse_for_its_driver_only(
    runtime: tuple[Runtime, Clock],
) -> None:
    rt, _ = runtime
    booking, body_token = await hold(rt, ALICE, evse("B1"))
    assert booking.state is BookingState.REQUESTED
    assert body_token["uid"] == "alice"  # the token as the eMSP pushed it, for RESERVE_NOW
    assert await refused(rt, BOB, evse("b1")) is Code.CONFLICT  # CiStrings: one EVSE
    assert await refused(rt, ALICE, evse("B1")) is Code.CONFLICT
    async with rt.db.transaction() as tx:
        held = await service.holding(tx, evse("B1"), rt.clock())
    assert held is not None and held.id == booking.id


async def test_two_drivers_booking_at_once_cannot_both_win(runtime: tuple[Runtime, Clock]) -> None:
    rt, _ = runtime
    outcomes = await asyncio.gather(
        hold(rt, ALICE, evse("B2")), hold(rt, BOB, evse("B2")), return_exceptions=True
    )
    won = [o for o in outcomes if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, service.BookingRefused)]
    assert (len(won), len(lost)) == (1, 1), outcomes
    assert lost[0].code is Code.CONFLICT


@pytest.mark.parametrize(
    ("ref", "driver", "minutes", "code"),
    [
        (service.EvseRef(CPO, "NOPE", "X"), ALICE, 15, Code.NOT_FOUND),
        (service.EvseRef(("FI", "OTH"), "B3", "B3-E1"), ALICE, 15, Code.NOT_FOUND),
        (evse("PLAIN"), ALICE, 15, Code.BAD_USER_INPUT),  # not RESERVABLE
        (evse("BROKEN"), ALICE, 15, Code.CONFLICT),  # OUTOFORDER
        (evse("B3"), ALICE, 0, Code.BAD_USER_INPUT),
        (evse("B3"), ALICE, 121, Code.BAD_USER_INPUT),
        (evse("B3"), service.Driver(EMSP, "NOBODY"), 15, Code.FORBIDDEN),  # no token
    ],
)
async def test_what_cannot_be_booked_is_refused_and_nothing_stored(
    runtime: tuple[Runtime, Clock],
    ref: service.EvseRef,
    driver: service.Driver,
    minutes: int,
    code: Code,
) -> None:
    rt, _ = runtime
    assert await refused(rt, driver, ref, minutes=minutes) is code
    async with rt.db.transaction() as tx:
        assert await service.holding(tx, evse("B3"), rt.clock()) is None


async def test_an_evse_in_use_cannot_be_booked(runtime: tuple[Runtime, Clock]) -> None:
    rt, _ = runtime
    body = charging_session(CPO, "S-B4", EMSP)
    body.update(location_id="B4", evse_uid="B4-E1", status="ACTIVE")
    async with rt.db.transaction(write=True) as tx:
        await sessions.put_session(tx, data=body)
    assert await refused(rt, ALICE, evse("B4")) is Code.CONFLICT


async def test_the_cpo_and_its_charge_point_decide(runtime: tuple[Runtime, Clock]) -> None:
    rt, _ = runtime
    # Refused by the CPO at once: ended, the EVSE free again.
    booking, _ = await hold(rt, ALICE, evse("B5"))
    assert await sent(rt, booking.id, Delivery.ANSWERED, "REJECTED") is BookingState.REJECTED
    # No answer: failed, never a phantom.
    booking, _ = await hold(rt, ALICE, evse("B5"))
    assert await sent(rt, booking.id, Delivery.NO_ANSWER) is BookingState.FAILED
    # Accepted, then the charge point's result decides.
    booking, _ = await hold(rt, ALICE, evse("B5"))
    assert await sent(rt, booking.id, Delivery.ANSWERED, "ACCEPTED") is BookingState.REQUESTED
    await result(rt, booking, "RESERVE_NOW", "ACCEPTED")
    assert await state(rt, booking.id) is BookingState.CONFIRMED
    # Cancelled: held until the charge point confirms, then free.
    async with rt.db.transaction(write=True) as tx:
        await service.begin_cancel(tx, booking_id=booking.id, driver=ALICE, now=rt.clock())
    assert await state(rt, booking.id) is BookingState.CANCELLING
    assert await refused(rt, BOB, evse("B5")) is Code.CONFLICT
    await result(rt, booking, "CANCEL_RESERVATION", "ACCEPTED")
    assert await state(rt, booking.id) is BookingState.CANCELLED
    second, _ = await hold(rt, BOB, evse("B5"))
    assert second.state is BookingState.REQUESTED


async def test_a_result_that_comes_first_is_not_undone(runtime: tuple[Runtime, Clock]) -> None:
    rt, _ = runtime
    booking, _ = await hold(rt, ALICE, evse("B6"))
    await result(rt, booking, "RESERVE_NOW", "ACCEPTED")
    assert await sent(rt, booking.id, Delivery.ANSWERED, "ACCEPTED") is BookingState.CONFIRMED


async def test_time_ends_bookings_without_a_request(runtime: tuple[Runtime, Clock]) -> None:
    rt, clock = runtime
    booking, _ = await hold(rt, ALICE, evse("B7"), minutes=5)
    await sent(rt, booking.id, Delivery.ANSWERED, "ACCEPTED")
    # The charge point never sends its result: after the CPO's 30 s + 10 s grace, failed.
    clock.now = T0 + timedelta(seconds=41)
    assert await sweeper.sweep(rt) >= 1
    assert await state(rt, booking.id) is BookingState.FAILED
    confirmed, _ = await hold(rt, ALICE, evse("B7"), minutes=5)
    await sent(rt, confirmed.id, Delivery.ANSWERED, "ACCEPTED")
    await result(rt, confirmed, "RESERVE_NOW", "ACCEPTED")
    clock.now += timedelta(minutes=5)
    await sweeper.sweep(rt)
    assert await state(rt, confirmed.id) is BookingState.EXPIRED
    clock.now = T0


async def test_another_drivers_booking_cannot_be_cancelled(
    runtime: tuple[Runtime, Clock],
) -> None:
    rt, _ = runtime
    async with rt.db.transaction() as tx:
        mine = await service.of_driver(tx, ALICE)
    with pytest.raises(service.BookingRefused) as caught:
        async with rt.db.transaction(write=True) as tx:
            await service.begin_cancel(tx, booking_id=mine[0].id, driver=BOB, now=T0)
    assert caught.value.code is Code.NOT_FOUND


async def test_holding_for_answers_alike_with_few_or_many_bookings_holding() -> None:
    """A search asks for hundreds of EVSEs: fewer bookings holding than keys asked for are
    read whole and matched in Python, more are asked for by key; the answer is the same."""
    clock = Clock()
    async with fresh_database() as url:
        rt = Runtime.create(Settings(database_url=url), clock=clock)
        await rt.start()
        try:
            ids = [f"H{n}" for n in range(20)]
            async with rt.db.transaction(write=True) as tx:
                for lid in ids:
                    body = location(*CPO, lid)
                    body["evses"][0]["capabilities"] = ["RESERVABLE"]
                    await locations.put_location(tx, data=body)
                await sessions.put_token(tx, data=token(*EMSP, "alice"))
            held = ids[:10]
            for lid in held:
                await hold(rt, ALICE, evse(lid), minutes=5 if lid == "H9" else 15)
            clock.now = T0 + timedelta(minutes=10)  # H9's booking has run out
            keys = {lid: (*CPO, lid, f"{lid}-E1") for lid in ids}
            async with rt.db.transaction() as tx:
                # 9 keys, 9 bookings still holding: not fewer, so asked for by key.
                few = await service.holding_for(tx, [keys[lid] for lid in ids[6:15]], clock.now)
                # 20 keys, 9 holding: all of them read, matched here.
                many = await service.holding_for(tx, list(keys.values()), clock.now)
                one = await service.holding_for(tx, [keys["H0"]], clock.now)
        finally:
            await rt.close()
    assert set(few) == {keys[lid] for lid in ("H6", "H7", "H8")}
    assert set(many) == {keys[lid] for lid in held if lid != "H9"}
    assert set(one) == {keys["H0"]}
