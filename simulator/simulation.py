"""A whole simulation: CPOs and eMSPs as separate OCPI servers, registered at the hub."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from simulator.clock import SimClock
from simulator.cpo import SimCpo
from simulator.distributions import Distributions
from simulator.emsp import SimEmsp
from simulator.fleet import assign_sites
from simulator.map import load_sites
from simulator.platform import Platform, SimParty
from simulator.protocol import authorization
from simulator.traffic import Owner, ProbeFleet, TrafficOptions

log = logging.getLogger(__name__)

__all__ = ["SimParty", "Simulation"]


class Simulation:
    """Start, run, stop. ``speed`` is simulated seconds per real second.

    ``start`` brings every party's server up, registers each party at the hub (credentials
    handshake), fetches the hub's ClientInfo list, pushes tariffs, locations and tokens, and
    then starts the behaviour: driver arrivals, EVSE faults, remote starts and stops.
    """

    def __init__(
        self,
        hub_versions_url: str,
        parties: list[SimParty],
        *,
        seed: int,
        speed: float,
        stations_per_cpo: int,
        host: str = "127.0.0.1",
        data_dir: Path | None = None,
        sessions_per_evse_per_day: float = 3.0,
        tokens_per_emsp: int = 25,
        remote_starts_per_day: float = 8.0,
        start_time: datetime | None = None,
        traffic: TrafficOptions | None = None,
    ) -> None:
        if stations_per_cpo < 0:
            raise ValueError("stations_per_cpo must not be negative")
        self.hub_versions_url = hub_versions_url
        self.parties = list(parties)
        self.seed = seed
        self.clock = SimClock(speed, start_time)
        self.stations_per_cpo = stations_per_cpo
        self.host = host
        self.data_dir = data_dir if data_dir is not None else _default_data_dir()
        self.sessions_per_evse_per_day = sessions_per_evse_per_day
        self.tokens_per_emsp = tokens_per_emsp
        self.remote_starts_per_day = remote_starts_per_day
        self.traffic = traffic if traffic is not None and traffic.cars > 0 else None
        self.cpos: list[SimCpo] = []
        self.emsps: list[SimEmsp] = []
        self.fleet: ProbeFleet | None = None
        self._places: list[tuple[float, float]] = []
        self._started = False
        self._stopped = False

    @property
    def platforms(self) -> list[Platform]:
        return [*self.cpos, *self.emsps]

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        try:
            await self._build()
            for platform in self.platforms:
                await platform.start_server()
            for platform in self.platforms:
                await platform.register(self.hub_versions_url)
            for platform in self.platforms:
                await platform.sync_client_info()
            for emsp in self.emsps:
                await emsp.publish()
            for cpo in self.cpos:
                await cpo.publish()
            for platform in self.platforms:
                platform.start_behaviour()
            self._start_traffic()
        except BaseException:
            await self.stop()
            raise

    async def _build(self) -> None:
        sites = await asyncio.to_thread(load_sites, self.data_dir)
        self._places = [(site.lat, site.lon) for site in sites]
        distributions = await asyncio.to_thread(Distributions.load)
        cpo_parties = [p for p in self.parties if p.role == "CPO"]
        placed = assign_sites(sites, [p.ref for p in cpo_parties], self.stations_per_cpo, self.seed)
        for party in cpo_parties:
            if len(placed[party.ref]) < self.stations_per_cpo:
                log.warning("%s: only %d sites on the map", party.ref, len(placed[party.ref]))
            self.cpos.append(
                SimCpo(
                    party,
                    clock=self.clock,
                    seed=self.seed,
                    sites=placed[party.ref],
                    distributions=distributions,
                    sessions_per_evse_per_day=self.sessions_per_evse_per_day,
                    host=self.host,
                )
            )
        for party in self.parties:
            if party.role == "EMSP":
                self.emsps.append(
                    SimEmsp(
                        party,
                        clock=self.clock,
                        seed=self.seed,
                        tokens=self.tokens_per_emsp,
                        remote_starts_per_day=self.remote_starts_per_day,
                        host=self.host,
                    )
                )

    def _start_traffic(self) -> None:
        """Probe cars, the eMSPs' customers', when asked for (and only then)."""
        if self.traffic is None:
            return
        owners = [
            Owner(
                f"{emsp.me.country_code}{emsp.me.party_id}",
                authorization(emsp.hub.registration.token_c),
            )
            for emsp in self.emsps
            if emsp.hub is not None
        ]
        if not owners or not self._places:
            log.warning("no probe cars: they need an eMSP and places on the map")
            return
        self.fleet = ProbeFleet(
            self.traffic, clock=self.clock, places=self._places, owners=owners, seed=self.seed
        )
        self.fleet.start()

    async def run_for(self, seconds: float) -> None:
        """Run for ``seconds`` of real (wall-clock) time; starts first if needed."""
        await self.start()
        await asyncio.sleep(seconds)

    async def run_forever(self) -> None:
        await self.start()
        await asyncio.Event().wait()

    async def stop(self) -> None:
        """Stops every party's tasks and server; a stopped simulation is not started again."""
        if self._stopped:
            return
        self._stopped = True
        if self.fleet is not None:
            await self.fleet.stop()
        for platform in self.platforms:
            await platform.stop()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Counters per party (pushes, sessions, CDRs, commands...) for logs and summaries."""
        stats = {f"{p.party.role} {p.me}": dict(sorted(p.stats.items())) for p in self.platforms}
        if self.fleet is not None:
            stats["probe cars"] = dict(sorted(self.fleet.stats.items()))
        return stats


def _default_data_dir() -> Path:
    from incar.settings import Settings

    return Settings.from_env().data_dir
