"""The still-alive check (mod_hub_client_info): silent platforms get a GET on their versions.

A failure makes the platform OFFLINE, a later success CONNECTED again; either change is pushed
to the other parties as ClientInfo. Between rounds, OFFLINE platforms alone are pinged every
``offline_probe_period``: an OFFLINE party gets no copies, so nothing else would notice its
return before the next round, and it is cued to resynchronise only then. Where several hub
processes share the database, only the leader of the still-alive task checks (membership.py);
another takes over when it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from incar.columns import utcnow
from ocpi_adapter.client import PeerAuth
from ocpi_adapter.context import Hub
from ocpi_adapter.errors import OcpiError
from ocpi_adapter.hubclientinfo import push as clientinfo
from ocpi_adapter.membership import STILL_ALIVE
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.types import ConnectionStatus
from ocpi_adapter.versions.discovery import ping

log = logging.getLogger("incar.hub.still_alive")


class StillAlive:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="still-alive")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        settings = self.hub.settings
        loop = asyncio.get_running_loop()
        period = settings.still_alive_check_period
        probe = min(settings.offline_probe_period, period)
        next_round = loop.time() + period
        while True:
            # A full round every period; in between, a probe of the OFFLINE ones.
            await asyncio.sleep(max(0.0, min(next_round, loop.time() + probe) - loop.time()))
            full = loop.time() >= next_round
            if full:
                next_round = loop.time() + period
            try:
                # One process at a time checks (several hub processes share the database).
                if await self.hub.membership.lead(STILL_ALIVE):
                    await self.check_once(offline_only=not full)
            except Exception:
                log.exception("still-alive round failed")

    async def check_once(self, *, offline_only: bool = False) -> None:
        settings = self.hub.settings
        silent_since = (utcnow() - timedelta(seconds=settings.still_alive_interval)).timestamp()
        wanted = (
            (ConnectionStatus.OFFLINE,)
            if offline_only
            else (ConnectionStatus.CONNECTED, ConnectionStatus.OFFLINE)
        )
        async with self.hub.db.transaction() as tx:
            candidates = [
                p
                for p, _ in await platforms.list_all(tx)
                if p.status in wanted and p.outgoing_token and p.versions_url
            ]
        await asyncio.gather(*(self._check(p, silent_since) for p in candidates))

    def _last_heard(self, platform: Platform) -> float:
        assert platform.id is not None
        stored = platform.last_seen_at.timestamp() if platform.last_seen_at else 0.0
        return max(stored, self.hub.callers.last_seen.get(platform.id, 0.0))

    async def _check(self, platform: Platform, silent_since: float) -> None:
        assert platform.id is not None and platform.outgoing_token and platform.versions_url
        # An OFFLINE platform is pinged every round until it answers again, and so is one
        # that missed copies (it is cued as soon as it answers).
        out_of_sync = self.hub.owed is not None and platform.id in self.hub.owed.out_of_sync
        if (
            platform.status is ConnectionStatus.CONNECTED
            and not out_of_sync
            and self._last_heard(platform) >= silent_since
        ):
            return
        try:
            await ping(
                self.hub.client,
                versions_url=platform.versions_url,
                auth=PeerAuth(platform.outgoing_token, platform.legacy_raw_token),
            )
            status = ConnectionStatus.CONNECTED
        except OcpiError as error:
            log.info("still-alive check of %s failed: %s", platform.name, error.message)
            status = ConnectionStatus.OFFLINE
        async with self.hub.db.transaction() as tx:
            stored = await tx.get(Platform, platform.id)
            if stored is None or stored.status not in (
                ConnectionStatus.CONNECTED,
                ConnectionStatus.OFFLINE,
            ):
                return
            if status is ConnectionStatus.CONNECTED:
                stored.last_seen_at = utcnow()
            changed = await platforms.set_status(tx, platform=stored, status=status)
            await clientinfo.push(self.hub, tx, changed)
        if changed:
            await self.hub.callers.changed()
        if status is ConnectionStatus.CONNECTED and self.hub.owed is not None:
            # Reached again: a receiver that missed copies is cued now (owed/resync.py).
            self.hub.owed.recovered(platform.id)
