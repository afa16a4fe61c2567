"""``incar serve`` as an operator runs it, on a fresh data directory: the first route through
the gateway starts the default map's build (ROUTING_NOT_READY meanwhile), whose phases the
server's output shows, and the next ones are answered."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.gateway.clients import post
from tests.routing.graph import codes
from tests.support.serve import platform

HELSINKI = """{ routes(from: {coordinates: {latitude: 60.1699, longitude: 24.9384}},
                       to: {coordinates: {latitude: 60.1750, longitude: 24.9500}}) {
  map routes { durationSeconds } } }"""


async def test_incar_serve_builds_the_default_map_on_the_first_route(tmp_path: Path) -> None:
    async with platform(tmp_path) as running:
        first = await post(running.gateway, HELSINKI)
        assert codes(first) == ["ROUTING_NOT_READY"], first
        for _ in range(1800):
            result = await post(running.gateway, HELSINKI)
            if not result.get("errors"):
                break
            assert codes(result) == ["ROUTING_NOT_READY"], result
            await asyncio.sleep(0.1)
        assert result["data"]["routes"]["map"] == "helsinki", result
        output = running.output()
    assert "building the map of helsinki" in output
    assert "checking a test route ..." in output
    assert "active map: helsinki" in output
