"""The hub under test: a real server on loopback over a fresh database."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from incar.server import hub_config
from incar.settings import Settings
from ocpi_adapter.app import create_app
from ocpi_adapter.context import Hub
from ocpi_adapter.headers import PartyRef
from ocpi_adapter.platforms import service as platforms
from ocpi_adapter.types import Role
from tests.support.databases import fresh_database
from tests.support.servers import serve

TEST_HUB_KEY = Path(tempfile.gettempdir()) / f"incar-test-hub-key-{os.getuid()}.pem"


@dataclass
class HubUnderTest:
    url: str
    app: Starlette
    settings: Settings

    @property
    def hub(self) -> Hub:
        hub: Hub = self.app.state.hub
        return hub

    @property
    def versions_url(self) -> str:
        return f"{self.url}/ocpi/versions"

    @property
    def details_url(self) -> str:
        return f"{self.url}/ocpi/2.2.1"

    def endpoint(self, module: str, interface: str) -> str:
        return f"{self.url}/ocpi/2.2.1/{module}/{interface.lower()}"

    @property
    def party(self) -> PartyRef:
        return PartyRef(self.settings.hub_country_code, self.settings.hub_party_id)

    async def onboard(
        self, role: str, country_code: str, party_id: str, *, legacy: bool = False
    ) -> str:
        async with self.hub.db.transaction() as tx:
            _, token = await platforms.onboard(
                tx,
                name=f"{role} {country_code}*{party_id}",
                role=Role(role),
                country_code=country_code,
                party_id=party_id,
                legacy_raw_token=legacy,
            )
        return token

    async def settle(self) -> None:
        """Waits until the hub's background work (fan-out, ClientInfo pushes) is done."""
        await self.hub.drain()


@contextlib.asynccontextmanager
async def running_hub(**overrides: Any) -> AsyncIterator[HubUnderTest]:
    async with fresh_database() as database_url, serving_hub(database_url, **overrides) as hub:
        yield hub


@contextlib.asynccontextmanager
async def serving_hub(
    database_url: str, *, port: int = 0, **overrides: Any
) -> AsyncIterator[HubUnderTest]:
    """A hub over ``database_url``; the same ``port`` again is a restart at the same URL."""
    settings = Settings(
        database_url=database_url,
        # One hub key for the suite, out of the work tree (made on the first CDR).
        ledger_key_file=TEST_HUB_KEY,
        forward_timeout=2.0,
        still_alive_check_period=3600.0,
        offline_probe_period=3600.0,
        command_grace=5.0,
    ).with_(**overrides)
    holder: dict[str, Any] = {}

    def make(url: str) -> Starlette:
        holder["settings"] = settings.with_(public_url=url)
        app = create_app(holder["settings"])
        holder["app"] = app
        return app

    def configure(app: ASGIApp) -> uvicorn.Config:
        # The hub's own server and limits, as `incar serve` runs them, on the test's loop.
        return hub_config(app, settings, lifespan="on", loop="none")

    async with serve(make, configure=configure, port=port) as running:
        yield HubUnderTest(url=running.url, app=holder["app"], settings=holder["settings"])
