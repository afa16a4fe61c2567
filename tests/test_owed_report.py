"""Operators see what is owed: per receiver, copies owed and the oldest's age, owners it is
out of sync with, failures, cues (``incar hub owed`` and the figures for a /metrics)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from incar.timestamps import parse_timestamp
from ocpi_adapter.owed import report
from tests.conformance.test_j_hubclientinfo import eventually
from tests.support.hub_process import free_port, incar_env, run_incar
from tests.support.owed_scene import owed_scene

CPO = ("NL", "CPR")
V1, V2 = "2026-03-01T00:00:01Z", "2026-03-01T00:00:02Z"


async def test_owed_copies_and_receivers_out_of_sync_are_reported() -> None:
    async with owed_scene(CPO, (V1, V2)) as scene:
        hub, failing = scene.hub, scene.failing
        try:
            await eventually(
                lambda: len(failing.requests("PUT", "/locations/")) == 2, "both copies failed"
            )
            figures = await _settled_figures(hub.hub, "EMSP DE*EMF")
            stalled = figures["EMSP DE*EMW"]
            # v1 in flight, v2 behind it (one object: one at a time).
            assert (stalled.owed, stalled.out_of_sync) == (2, 0)
            assert stalled.oldest_age is not None and stalled.oldest_age >= 0
            broken = figures["EMSP DE*EMF"]
            assert (broken.owed, broken.out_of_sync, broken.failures) == (0, 1, 2)
            assert broken.since is not None and broken.since <= parse_timestamp(V1)
            assert broken.failed == 2 and broken.last_failure == "failed: HTTP 502"
            metrics = report.samples(list(figures.values()))
            assert ("incar_hub_owed_copies", 2.0) in [
                (name, value)
                for name, _, labels, value in metrics
                if labels["receiver"] == "EMSP DE*EMW"
            ]

            # The command line reads the same figures from the database.
            with tempfile.TemporaryDirectory() as folder:
                env = incar_env(hub.settings.database_url, Path(folder), free_port())
                done = await run_incar("hub", "owed", "--json", env=env)
            assert done.returncode == 0, done.stderr
            listed = {r["name"]: r for r in json.loads(done.stdout)}
            assert listed["EMSP DE*EMW"]["owed"] == 2
            assert listed["EMSP DE*EMF"]["out_of_sync"] == 1
            assert listed["EMSP DE*EMF"]["failures"] == 2
        finally:
            scene.release.set()
        await hub.settle()
        after = {r.name: r for r in await report.of_hub(hub.hub)}
        assert after["EMSP DE*EMW"].owed == 0
        delivered = (after["EMSP DE*EMW"].delivered or 0) - (stalled.delivered or 0)
        assert delivered == 2, "the two Location copies"


async def _settled_figures(hub: object, name: str) -> dict[str, report.Receiver]:
    """The figures once the failing receiver's two failures are written (batched writes)."""
    for _ in range(200):
        figures = {r.name: r for r in await report.of_hub(hub)}  # type: ignore[arg-type]
        if name in figures and figures[name].failures == 2:
            return figures
        await asyncio.sleep(0.05)
    raise AssertionError(f"the failures of {name} were never recorded: {figures}")
