"""What every simulated back-office has: its server, its token, its registration, its tasks."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from simulator.clock import SimClock
from simulator.ocpi_client import HubClient, Registration, call, next_link, register
from simulator.protocol import PartyRef
from simulator.server import VERSIONS_PATH, HttpServer, Interface, PartyIdentity, build_app

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SimParty:
    """A party to simulate, as onboarded at the hub (``token_a`` is its registration token)."""

    role: Literal["CPO", "EMSP"]
    country_code: str
    party_id: str
    name: str
    token_a: str

    @property
    def ref(self) -> PartyRef:
        return PartyRef.of(self.country_code, self.party_id)


class Platform:
    """Base of SimCpo and SimEmsp; subclasses provide ``interfaces`` and their behaviour."""

    def __init__(self, party: SimParty, *, clock: SimClock, host: str = "127.0.0.1") -> None:
        self.party = party
        self.me = party.ref
        self.clock = clock
        self.identity = PartyIdentity(self.me, party.role, party.name, clock)
        self.token_b = secrets.token_urlsafe(32)
        self.identity.accepted_tokens.add(self.token_b)
        self.server = HttpServer(host)
        self.http = httpx.AsyncClient(timeout=10.0)
        self.hub: HubClient | None = None
        self.stats: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def versions_url(self) -> str:
        return self.server.base_url + VERSIONS_PATH

    def interfaces(self) -> list[Interface]:
        raise NotImplementedError

    async def publish(self) -> None:
        """Push the party's own objects to the hub once registered."""

    def start_behaviour(self) -> None:
        """Start the party's background behaviour."""

    async def start_server(self) -> None:
        self.server.bind()
        app = build_app(self.identity, self.interfaces(), self.server.base_url)
        await self.server.start(app)

    async def register(self, hub_versions_url: str) -> Registration:
        registration = await register(
            self.http,
            hub_versions_url,
            self.party.token_a,
            self.versions_url,
            [
                {
                    "role": self.party.role,
                    "business_details": {"name": self.party.name},
                    "party_id": self.me.party_id,
                    "country_code": self.me.country_code,
                }
            ],
            token_b=self.token_b,
        )
        self.attach(registration)
        log.info("%s %s registered; hub is %s", self.party.role, self.me, registration.hub_party)
        return registration

    async def sync_client_info(self) -> int:
        """GET the hub's ClientInfo list (all pages), as a newly registered party would.

        ClientInfo pushes only tell about changes after registering; the list tells who was
        there before. A hub without a hubclientinfo Sender endpoint is skipped.
        """
        if self.hub is None:
            return 0
        url = self.hub.registration.endpoints.any("hubclientinfo")
        count = 0
        while url:
            reply = await call(self.http, "GET", url, self.hub.registration.token_c)
            if not reply.ok or not isinstance(reply.data, list):
                break
            for info in reply.data:
                if isinstance(info, dict) and {"country_code", "party_id", "role"} <= info.keys():
                    key = (info["country_code"], info["party_id"], info["role"])
                    self.identity.client_info.put(key, info)
                    count += 1
            url = next_link(reply.headers.get("link"))
        return count

    def attach(self, registration: Registration) -> None:
        self.hub = HubClient(self.http, me=self.me, clock=self.clock, registration=registration)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s task failed", self.me, exc_info=task.exception())

    async def stop(self) -> None:
        await self._cancel_tasks()
        await self.server.stop()
        # A request answered while the tasks were being cancelled may have spawned one (a
        # START_SESSION's lifecycle): it must end before the HTTP client it pushes with.
        await self._cancel_tasks()
        await self.http.aclose()

    async def _cancel_tasks(self) -> None:
        while self._tasks:
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
