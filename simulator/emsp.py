"""A simulated eMSP back-office: its drivers' tokens, authorizations, remote starts and stops."""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta
from typing import Any

from simulator.clock import SimClock
from simulator.platform import Platform, SimParty
from simulator.protocol import RECEIVER, PartyRef, timestamp
from simulator.server import DETAILS_PATH, Interface
from simulator.store import ObjectStore

log = logging.getLogger(__name__)

REMOTE_STARTS_PER_DAY = 8.0
REMOTE_STOP_SHARE = 0.3


class SimEmsp(Platform):
    def __init__(
        self,
        party: SimParty,
        *,
        clock: SimClock,
        seed: int,
        tokens: int = 25,
        remote_starts_per_day: float = REMOTE_STARTS_PER_DAY,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(party, clock=clock, host=host)
        self.rng = random.Random(f"{seed}:{self.me}")
        self.remote_starts_per_day = remote_starts_per_day
        self.tokens: dict[str, dict[str, Any]] = {}
        created = timestamp(clock.start)  # issued when the simulation begins: reproducible
        for number in range(1, tokens + 1):
            token = self._make_token(number, created)
            self.tokens[token["uid"]] = token
        self.locations = ObjectStore()
        self.tariffs = ObjectStore()
        self.sessions = ObjectStore()
        self.cdrs = ObjectStore()
        self.command_results: dict[str, dict[str, Any]] = {}
        self.pending_commands: dict[str, dict[str, Any]] = {}

    def interfaces(self) -> list[Interface]:
        from simulator.emsp_api import emsp_interfaces

        return emsp_interfaces(self)

    def _make_token(self, number: int, created: str) -> dict[str, Any]:
        draw = self.rng.random()
        kind, whitelist, valid = "RFID", "ALLOWED", True
        if draw < 0.2:
            kind, whitelist = "APP_USER", "NEVER"
        elif draw > 0.9:
            valid = False
        uid = f"{self.rng.getrandbits(56):014X}"
        return {
            "country_code": self.me.country_code,
            "party_id": self.me.party_id,
            "uid": uid,
            "type": kind,
            "contract_id": f"{self.me.country_code}-{self.me.party_id}-C{number:08d}",
            "visual_number": f"{self.me.party_id}-{number:06d}",
            "issuer": self.party.name[:64],
            "valid": valid,
            "whitelist": whitelist,
            "language": "fi",
            "last_updated": created,
        }

    def authorize(self, uid: str, kind: str, where: dict[str, Any] | None) -> dict[str, Any] | None:
        """AuthorizationInfo for a real-time authorization request, or None if unknown."""
        token = self.tokens.get(uid)
        if token is None or token["type"] != kind:
            return None
        info: dict[str, Any] = {
            "allowed": "ALLOWED" if token["valid"] else "BLOCKED",
            "token": token,
        }
        if token["valid"]:
            info["authorization_reference"] = uuid.uuid4().hex[:36]
            if where:
                info["location"] = where
        self.stats[f"authorize_{info['allowed'].lower()}"] += 1
        return info

    async def publish(self) -> None:
        """Broadcast every token to the CPOs through the hub."""
        if self.hub is None:
            return
        for token in self.tokens.values():
            reply = await self.hub.send(
                "PUT",
                "tokens",
                RECEIVER,
                f"/{self.me.country_code}/{self.me.party_id}/{token['uid']}",
                to=self.hub.hub,
                params={"type": token["type"]},
                body=token,
            )
            self.stats["tokens_pushed" if reply.ok else "push_failed"] += 1

    def start_behaviour(self) -> None:
        if self.remote_starts_per_day > 0:
            self.spawn(self._remote_starts())

    async def _remote_starts(self) -> None:
        mean_gap_s = 86_400 / self.remote_starts_per_day
        while True:
            await self.clock.sleep(self.rng.expovariate(1 / mean_gap_s))
            pick_place, pick_token = self.rng.random(), self.rng.random()
            await self.remote_start(pick_place, pick_token)

    def _free_places(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        places = []
        for location in sorted(self.locations.values(), key=lambda loc: loc["id"]):
            owner = PartyRef.of(location["country_code"], location["party_id"])
            if not self.identity.usable(owner):
                continue
            for evse in location.get("evses", []):
                if evse.get("status") == "AVAILABLE":
                    places.append((location, evse))
        return places

    async def remote_start(self, pick_place: float, pick_token: float) -> str | None:
        """START_SESSION through the hub for an app user at a free EVSE; returns its result."""
        places = self._free_places()
        app_users = [t for t in self.tokens.values() if t["type"] == "APP_USER" and t["valid"]]
        if self.hub is None or not places or not app_users:
            return None
        location, evse = places[int(pick_place * len(places))]
        token = app_users[int(pick_token * len(app_users))]
        command_id = str(uuid.uuid4())
        own = self.server.base_url + DETAILS_PATH
        body = {
            "response_url": f"{own}/commands/START_SESSION/{command_id}",
            "token": token,
            "location_id": location["id"],
            "evse_uid": evse["uid"],
            "connector_id": evse["connectors"][0]["id"],
        }
        self.pending_commands[command_id] = body
        reply = await self.hub.send(
            "POST",
            "commands",
            RECEIVER,
            "/START_SESSION",
            to=PartyRef.of(location["country_code"], location["party_id"]),
            body=body,
        )
        result = reply.data.get("result") if isinstance(reply.data, dict) else None
        self.stats[f"remote_start_{str(result).lower()}"] += 1
        return result if isinstance(result, str) else None

    def on_new_session(self, session: dict[str, Any]) -> None:
        """A session of one of our app users may be stopped remotely before the car leaves."""
        token = self.tokens.get(session.get("cdr_token", {}).get("uid", ""))
        if token is None or token["type"] != "APP_USER" or session.get("status") != "ACTIVE":
            return
        if self.rng.random() < REMOTE_STOP_SHARE:
            after = timedelta(minutes=self.rng.uniform(10, 120))
            self.spawn(self._remote_stop(session, after))

    async def _remote_stop(self, session: dict[str, Any], after: timedelta) -> None:
        await self.clock.sleep(after.total_seconds())
        current = self.sessions.get((session["country_code"], session["party_id"], session["id"]))
        if self.hub is None or current is None or current.get("status") != "ACTIVE":
            return
        command_id = str(uuid.uuid4())
        own = self.server.base_url + DETAILS_PATH
        body = {
            "response_url": f"{own}/commands/STOP_SESSION/{command_id}",
            "session_id": session["id"],
        }
        self.pending_commands[command_id] = body
        reply = await self.hub.send(
            "POST",
            "commands",
            RECEIVER,
            "/STOP_SESSION",
            to=PartyRef.of(session["country_code"], session["party_id"]),
            body=body,
        )
        result = reply.data.get("result") if isinstance(reply.data, dict) else None
        self.stats[f"remote_stop_{str(result).lower()}"] += 1
