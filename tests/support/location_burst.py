"""A CPO's burst of Location changes broadcast through the hub: a PUT of each Location, then
EVSE status PATCHes, at a steady rate, each change of a Location after the previous one's
answer (a CPO's order per object), until done or the hub is gone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from incar.timestamps import format_timestamp, parse_timestamp
from tests.conformance.support import location
from tests.peers.strict.peer import StrictPeer

STATUSES = ("CHARGING", "AVAILABLE", "BLOCKED", "OUTOFORDER")


@dataclass
class Change:
    location_id: str
    method: str
    path: str  # after the module endpoint: CC/PID/LOCATION[/EVSE]
    body: dict[str, Any]
    acknowledged: bool = False

    @property
    def last_updated(self) -> datetime:
        return parse_timestamp(self.body["last_updated"])

    @property
    def copy_path(self) -> str:
        """Where the copy arrives at an eMSP (the strict peer's Locations Receiver)."""
        return f"/locations/receiver/{self.path}"


@dataclass
class Burst:
    cpo: StrictPeer
    receiver_url: str  # the hub's Locations Receiver endpoint
    locations: int
    patches: int
    rate: float  # changes per second
    prefix: str = "B"
    on_ack: Callable[[int], None] | None = None
    changes: list[Change] = field(default_factory=list)
    gone: asyncio.Event = field(default_factory=asyncio.Event)

    def plan(self) -> list[Change]:
        """Every Location's PUT first, then its PATCHes; stamps rise per Location."""
        base = datetime.now(UTC).replace(microsecond=0)
        cc, pid = self.cpo.country_code, self.cpo.party_id
        planned: list[Change] = []
        for step in range(self.patches + 1):
            stamp = format_timestamp(base + timedelta(seconds=step))
            for index in range(self.locations):
                location_id = f"{self.prefix}{index}"
                if step == 0:
                    body = location(cc, pid, location_id, last_updated=stamp)
                    path = f"{cc}/{pid}/{location_id}"
                    planned.append(Change(location_id, "PUT", path, body))
                else:
                    body = {"status": STATUSES[step % len(STATUSES)], "last_updated": stamp}
                    path = f"{cc}/{pid}/{location_id}/{location_id}-E1"
                    planned.append(Change(location_id, "PATCH", path, body))
        return planned

    async def run(self) -> list[Change]:
        self.changes = self.plan()
        previous: dict[str, asyncio.Task[bool]] = {}
        tasks = []
        start = asyncio.get_running_loop().time()
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            for index, change in enumerate(self.changes):
                await asyncio.sleep(
                    max(0.0, start + index / self.rate - asyncio.get_running_loop().time())
                )
                if self.gone.is_set():
                    break
                task = asyncio.create_task(
                    self._send(client, change, previous.get(change.location_id))
                )
                previous[change.location_id] = task
                tasks.append(task)
            await asyncio.gather(*tasks)
        return self.changes

    async def _send(
        self, client: httpx.AsyncClient, change: Change, after: asyncio.Task[bool] | None
    ) -> bool:
        if after is not None and not await after:
            return False
        if self.gone.is_set():
            return False
        headers = {
            **self.cpo.routing(self.cpo.hub_party),
            **self.cpo.auth(),
            "Content-Type": "application/json",
        }
        try:
            answer = await client.request(
                change.method,
                f"{self.receiver_url}/{change.path}",
                headers=headers,
                json=change.body,
            )
            code = answer.json().get("status_code")
        except (httpx.TransportError, ValueError):
            self.gone.set()
            return False
        assert code == 1000, answer.text
        change.acknowledged = True
        if self.on_ack is not None:
            self.on_ack(sum(1 for c in self.changes if c.acknowledged))
        return True
