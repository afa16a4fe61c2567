"""Registry changes made by CLI commands reach a serving hub at once, not when its cache
expires: the serving hub here keeps cached reads for an hour (INCAR_REGISTRY_CACHE_TTL), so
only the announcement can make it see the change."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tests.conformance.support import location, register_all
from tests.conformance.test_j_hubclientinfo import eventually
from tests.peers.strict.peer import running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.hub_process import free_port, incar_env, run_incar

HOUR = 3600.0


def _cli_env(hub: HubUnderTest, folder: str) -> dict[str, str]:
    return incar_env(hub.settings.database_url, Path(folder), free_port(), INCAR_PUBLIC_URL=hub.url)


async def _registered(hub: HubUnderTest) -> set[str]:
    return {platform.name for platform, _ in await hub.hub.callers.registry()}


async def _until(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    """Polls the serving hub's cache; far below its ttl, so only an announcement passes."""
    deadline = time.monotonic() + 10.0
    while not await probe():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_platform_added_by_the_cli_is_in_the_serving_hubs_registry() -> None:
    async with running_hub(registry_cache_ttl=HOUR) as hub:
        before = await _registered(hub)  # cached from here on
        with tempfile.TemporaryDirectory() as folder:
            done = await run_incar(
                "platform",
                "add",
                "--name",
                "Added Later",
                "--role",
                "CPO",
                "--country",
                "NL",
                "--party",
                "ADL",
                env=_cli_env(hub, folder),
            )
        assert done.returncode == 0, done.stderr
        assert "Added Later" not in before

        async def seen() -> bool:
            return "Added Later" in await _registered(hub)

        await _until(seen, "the added platform in the serving hub's registry")


async def test_a_platform_the_cli_connects_gets_the_next_broadcast() -> None:
    async with (
        running_hub(registry_cache_ttl=HOUR) as hub,
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DK", party_id="CNX") as emsp,
    ):
        await register_all(hub, cpo)
        await hub.hub.callers.registry()  # cached from here on
        with tempfile.TemporaryDirectory() as folder:
            done = await run_incar(
                "platform",
                "connect",
                "--versions-url",
                emsp.versions_url,
                f"--token={emsp.token_b}",
                env=_cli_env(hub, folder),
            )
        assert done.returncode == 0, (done.stdout, done.stderr)

        async def known() -> bool:
            return any(
                party.party_id == "CNX"
                for _, parties in await hub.hub.callers.registry()
                for party in parties
            )

        await _until(known, "the connected eMSP in the serving hub's registry")
        url = f"{hub.endpoint('locations', 'receiver')}/NL/CPA/L1"
        answer = await cpo.call("PUT", url, to=cpo.hub_party, json=location("NL", "CPA", "L1"))
        assert answer.json()["status_code"] == 1000, answer.text
        await eventually(
            lambda: len(emsp.requests("PUT", "/locations/")) == 1, "the copy at the new eMSP"
        )
