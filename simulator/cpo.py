"""A simulated CPO back-office: a fleet on the Helsinki map, drivers arriving, sessions, CDRs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from simulator import fleet
from simulator.charging import Charge
from simulator.clock import SimClock
from simulator.distributions import Distributions
from simulator.map import Site
from simulator.platform import Platform, SimParty
from simulator.protocol import RECEIVER, SENDER, PartyRef, timestamp
from simulator.server import Interface
from simulator.store import ObjectStore

log = logging.getLogger(__name__)

UPDATE_INTERVAL_S = 15 * 60  # simulated seconds between Session PATCHes
FAULTS_PER_EVSE_DAY = 0.05


@dataclass(frozen=True, slots=True)
class Arrival:
    """Everything random about one driver's visit, drawn when it is planned (determinism)."""

    at: datetime
    stay: timedelta
    energy_kwh: float
    evse_pick: float
    token_pick: float
    ask_realtime: bool


@dataclass
class Reservation:
    id: str
    location_id: str
    evse_uid: str
    token: dict[str, Any]
    expiry: datetime
    emsp: PartyRef | None


class SimCpo(Platform):
    def __init__(
        self,
        party: SimParty,
        *,
        clock: SimClock,
        seed: int,
        sites: list[Site],
        distributions: Distributions,
        sessions_per_evse_per_day: float = 3.0,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(party, clock=clock, host=host)
        self.rng = random.Random(f"{seed}:{self.me}")
        self.command_rng = random.Random(f"{seed}:{self.me}:commands")
        self.distributions = distributions
        self.sessions_per_evse_per_day = sessions_per_evse_per_day
        now = clock.start  # the fleet exists from the start: reproducible per seed
        self.tariffs = {t["id"]: t for t in fleet.build_tariffs(self.me, now)}
        self.locations: dict[str, dict[str, Any]] = {}
        for site in sites:
            location = fleet.build_location(self.me, party.name, site, self.rng, now)
            self.locations[location["id"]] = location
        self.charges: dict[str, Charge] = {}
        self.session_objects: dict[str, dict[str, Any]] = {}
        self.cdrs: dict[str, dict[str, Any]] = {}
        self.cdr_locations: dict[str, str] = {}
        self.tokens = ObjectStore()
        self.reservations: dict[str, Reservation] = {}
        self._stops: dict[str, asyncio.Event] = {}
        self._lifecycles: dict[str, asyncio.Task[None]] = {}
        self._claimed: set[str] = set()

    def interfaces(self) -> list[Interface]:
        from simulator.cpo_api import cpo_interfaces

        return cpo_interfaces(self)

    # -- the fleet ------------------------------------------------------------------------

    def evses(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(loc, evse) for loc in self.locations.values() for evse in loc["evses"]]

    def find_evse(
        self, location_id: str, evse_uid: str | None
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        location = self.locations.get(location_id)
        if location is None or evse_uid is None:
            return location, None
        evse = next((e for e in location["evses"] if e["uid"] == evse_uid), None)
        return location, evse

    def is_free(self, evse: dict[str, Any]) -> bool:
        return evse["status"] == "AVAILABLE" and evse["uid"] not in self._claimed

    async def publish(self) -> None:
        """Broadcast the tariffs, then the locations (tariff_ids refer to the tariffs)."""
        if self.hub is None:
            return
        for tariff in self.tariffs.values():
            reply = await self.hub.send(
                "PUT", "tariffs", RECEIVER, self._path(tariff["id"]), to=self.hub.hub, body=tariff
            )
            self.stats["tariffs_pushed" if reply.ok else "push_failed"] += 1
        for location in self.locations.values():
            reply = await self.hub.send(
                "PUT",
                "locations",
                RECEIVER,
                self._path(location["id"]),
                to=self.hub.hub,
                body=location,
            )
            self.stats["locations_pushed" if reply.ok else "push_failed"] += 1

    async def set_status(self, location: dict[str, Any], evse: dict[str, Any], status: str) -> None:
        stamp = timestamp(self.clock.now())
        evse["status"] = status
        evse["last_updated"] = stamp
        location["last_updated"] = stamp
        if self.hub is None:
            return
        reply = await self.hub.send(
            "PATCH",
            "locations",
            RECEIVER,
            self._path(location["id"], evse["uid"]),
            to=self.hub.hub,
            body={"status": status, "last_updated": stamp},
        )
        self.stats["status_patches" if reply.ok else "push_failed"] += 1

    def claim(self, evse_uid: str) -> None:
        """Hold an EVSE between accepting a command and acting on it."""
        self._claimed.add(evse_uid)

    def release(self, evse_uid: str) -> None:
        self._claimed.discard(evse_uid)

    # -- reservations ---------------------------------------------------------------------

    def reservation_for(self, evse_uid: str, token: dict[str, Any]) -> Reservation | None:
        return next(
            (
                r
                for r in self.reservations.values()
                if r.evse_uid == evse_uid and r.token.get("uid") == token.get("uid")
            ),
            None,
        )

    async def reserve(
        self,
        reservation_id: str,
        *,
        location: dict[str, Any],
        evse: dict[str, Any],
        token: dict[str, Any],
        expiry: datetime,
        emsp: PartyRef | None,
    ) -> None:
        previous = self.reservations.get(reservation_id)
        reservation = Reservation(reservation_id, location["id"], evse["uid"], token, expiry, emsp)
        self.reservations[reservation_id] = reservation
        if previous is not None and previous.evse_uid != evse["uid"]:
            await self._free_reserved(previous)
        if evse["status"] != "RESERVED":
            await self.set_status(location, evse, "RESERVED")
        self.spawn(self._expire(reservation))

    async def cancel_reservation(self, reservation_id: str) -> None:
        reservation = self.reservations.pop(reservation_id, None)
        if reservation is not None:
            await self._free_reserved(reservation)

    async def _expire(self, reservation: Reservation) -> None:
        await self.clock.sleep_until(reservation.expiry)
        if self.reservations.get(reservation.id) is reservation:
            del self.reservations[reservation.id]
            await self._free_reserved(reservation)

    async def _free_reserved(self, reservation: Reservation) -> None:
        location, evse = self.find_evse(reservation.location_id, reservation.evse_uid)
        still_held = any(r.evse_uid == reservation.evse_uid for r in self.reservations.values())
        if location and evse and evse["status"] == "RESERVED" and not still_held:
            await self.set_status(location, evse, "AVAILABLE")

    def _path(self, *ids: str) -> str:
        return "/" + "/".join([self.me.country_code, self.me.party_id, *ids])

    # -- behaviour ------------------------------------------------------------------------

    def start_behaviour(self) -> None:
        if self.evses():
            self.spawn(self._arrivals())
            self.spawn(self._faults())

    async def _arrivals(self) -> None:
        rate = self.sessions_per_evse_per_day * len(self.evses())
        moment = self.clock.now()
        while True:
            moment = self.distributions.next_arrival(moment, rate, self.rng)
            plan = Arrival(
                at=moment,
                stay=self.distributions.connection_time(self.rng),
                energy_kwh=self.distributions.energy_demand(self.rng),
                evse_pick=self.rng.random(),
                token_pick=self.rng.random(),
                ask_realtime=self.rng.random() < 0.3,
            )
            await self.clock.sleep_until(moment)
            self.spawn(self._arrive(plan))

    async def _arrive(self, plan: Arrival) -> None:
        free = [(loc, evse) for loc, evse in self.evses() if self.is_free(evse)]
        tokens = [
            t
            for t in sorted(self.tokens.values(), key=lambda t: (t["party_id"], t["uid"]))
            if self.identity.usable(PartyRef.of(t["country_code"], t["party_id"]))
        ]
        if not free:
            self.stats["drivers_turned_away"] += 1
            return
        if not tokens:
            self.stats["drivers_without_known_token"] += 1
            return
        location, evse = free[int(plan.evse_pick * len(free))]
        token = tokens[int(plan.token_pick * len(tokens))]
        self._claimed.add(evse["uid"])
        try:
            auth = await self._authorize(token, location, evse, plan.ask_realtime)
        finally:
            self._claimed.discard(evse["uid"])
        if auth is None or not self.is_free(evse):
            self.stats["authorizations_refused"] += 1
            return
        method, reference = auth
        await self.start_charge(
            location, evse, token, method, reference, stay=plan.stay, energy_kwh=plan.energy_kwh
        )

    async def _authorize(
        self,
        token: dict[str, Any],
        location: dict[str, Any],
        evse: dict[str, Any],
        ask_realtime: bool,
    ) -> tuple[str, str | None] | None:
        """WHITELIST when the token's whitelist type lets the CPO decide, else ask the eMSP."""
        whitelist = token.get("whitelist")
        if whitelist == "ALWAYS" or (whitelist == "ALLOWED" and not ask_realtime):
            return ("WHITELIST", None) if token.get("valid") else None
        if self.hub is None:
            return None
        reply = await self.hub.send(
            "POST",
            "tokens",
            SENDER,
            f"/{token['uid']}/authorize",
            to=PartyRef.of(token["country_code"], token["party_id"]),
            params={"type": token["type"]},
            body={"location_id": location["id"], "evse_uids": [evse["uid"]]},
        )
        self.stats["realtime_authorizations"] += 1
        info = reply.data if isinstance(reply.data, dict) else {}
        if not reply.ok or info.get("allowed") != "ALLOWED":
            return None
        return "AUTH_REQUEST", info.get("authorization_reference")

    async def _faults(self) -> None:
        """Now and then an EVSE goes out of order or inoperative for a while."""
        rate_per_s = FAULTS_PER_EVSE_DAY * len(self.evses()) / 86_400
        while True:
            await self.clock.sleep(self.rng.expovariate(rate_per_s))
            down_for = timedelta(minutes=self.rng.uniform(20, 180))
            status = "OUTOFORDER" if self.rng.random() < 0.5 else "INOPERATIVE"
            pick = self.rng.random()
            free = [(loc, evse) for loc, evse in self.evses() if self.is_free(evse)]
            if not free:
                continue
            location, evse = free[int(pick * len(free))]
            await self.set_status(location, evse, status)
            self.spawn(self._repair(location, evse, status, down_for))

    async def _repair(
        self, location: dict[str, Any], evse: dict[str, Any], status: str, after: timedelta
    ) -> None:
        await self.clock.sleep(after.total_seconds())
        if evse["status"] == status:
            await self.set_status(location, evse, "AVAILABLE")

    # -- sessions -------------------------------------------------------------------------

    async def start_charge(
        self,
        location: dict[str, Any],
        evse: dict[str, Any],
        token: dict[str, Any],
        auth_method: str,
        authorization_reference: str | None,
        *,
        stay: timedelta,
        energy_kwh: float,
    ) -> Charge:
        now = self.clock.now()
        spec = fleet.connector_spec(evse)
        charge = Charge(
            id=str(uuid.uuid4()),
            owner=self.me,
            location=location,
            evse=evse,
            spec=spec,
            tariff=self.tariffs[spec.tariff_id],
            token=token,
            auth_method=auth_method,
            authorization_reference=authorization_reference,
            start=now,
            departure=now + stay,
            energy_demand_kwh=energy_kwh,
        )
        self.charges[charge.id] = charge
        self._stops[charge.id] = asyncio.Event()
        evse["status"] = "CHARGING"  # taken at once; the PATCH follows in the lifecycle
        self.stats["sessions_started"] += 1
        self._lifecycles[charge.id] = self.spawn(self._lifecycle(charge))
        return charge

    async def finished(self, session_id: str) -> Charge:
        """Waits until the session's last push (its CDR) is done."""
        await asyncio.shield(self._lifecycles[session_id])
        return self.charges[session_id]

    def request_stop(self, session_id: str) -> bool:
        event = self._stops.get(session_id)
        if event is None or self.charges[session_id].status != "ACTIVE":
            return False
        event.set()
        return True

    async def _lifecycle(self, charge: Charge) -> None:
        await self.set_status(charge.location, charge.evse, "CHARGING")
        await self._push_session(charge, full=True)
        interval = max(UPDATE_INTERVAL_S, 2 * self.clock.speed)
        stop = self._stops[charge.id]
        stopped = False
        while not stopped:
            tick = min(self.clock.now() + timedelta(seconds=interval), charge.departure)
            real = self.clock.real_seconds((tick - self.clock.now()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=real)
            stopped = stop.is_set()
            if not stopped and self.clock.now() >= charge.departure:
                break
            if not stopped:
                await self._push_session(charge, full=False)
        charge.end = min(self.clock.now(), charge.departure)
        charge.advance(charge.end)
        charge.status = "COMPLETED"
        await self._push_session(charge, full=True)
        await self.set_status(charge.location, charge.evse, "AVAILABLE")
        await self._post_cdr(charge)
        self._stops.pop(charge.id, None)

    async def _push_session(self, charge: Charge, *, full: bool) -> None:
        now = self.clock.now()
        new_periods = [] if full else charge.advance(now)
        session = charge.session(now)
        self.session_objects[charge.id] = session
        if self.hub is None:
            return
        if full:
            body = session
        else:
            body = {
                "kwh": session["kwh"],
                "charging_periods": new_periods,
                "total_cost": session["total_cost"],
                "last_updated": session["last_updated"],
            }
        reply = await self.hub.send(
            "PUT" if full else "PATCH",
            "sessions",
            RECEIVER,
            self._path(charge.id),
            to=charge.emsp,
            body=body,
        )
        self.stats["session_pushes" if reply.ok else "push_failed"] += 1

    async def _post_cdr(self, charge: Charge) -> None:
        cdr = charge.cdr(self.clock.now())
        self.cdrs[cdr["id"]] = cdr
        self.stats["cdrs_created"] += 1
        if self.hub is None:
            return
        reply = await self.hub.send("POST", "cdrs", RECEIVER, to=charge.emsp, body=cdr)
        if reply.ok:
            self.stats["cdrs_posted"] += 1
            if reply.headers.get("location"):
                self.cdr_locations[cdr["id"]] = reply.headers["location"]
        else:
            self.stats["push_failed"] += 1
