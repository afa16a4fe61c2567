"""A hub owing copies two ways, for the tests of what operators see (``incar hub owed``,
``/metrics``): a CPO PUTs one Location twice; one eMSP (DE*EMW) holds the first copy
unanswered until released, so both copies stay owed; the other (DE*EMF) answers each with
HTTP 502, so both fail and it is out of sync."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.responses import Response

from tests.conformance.support import location, register_all
from tests.peers.strict.peer import Received, StrictPeer, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub


@dataclass
class OwedScene:
    hub: HubUnderTest
    cpo: StrictPeer
    waiting: StrictPeer
    failing: StrictPeer
    #: Set it to let the stalled eMSP answer (the scene sets it on leaving in any case).
    release: asyncio.Event


@contextlib.asynccontextmanager
async def owed_scene(
    cpo_party: tuple[str, str], stamps: tuple[str, str]
) -> AsyncIterator[OwedScene]:
    """The scene once both PUTs are acknowledged and the stalled eMSP holds the first copy."""
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def stall(received: Received) -> Response:
        arrived.set()
        await release.wait()
        return ocpi()

    async with (
        running_hub(forward_timeout=30.0) as hub,
        running_peer(role="CPO", country_code=cpo_party[0], party_id=cpo_party[1]) as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMW") as waiting,
        running_peer(role="EMSP", country_code="DE", party_id="EMF") as failing,
    ):
        await register_all(hub, cpo, waiting, failing)
        waiting.on("PUT", "/locations/", stall)
        failing.on("PUT", "/locations/", lambda r: Response(b"oops", status_code=502))
        url = f"{hub.endpoint('locations', 'receiver')}/{cpo_party[0]}/{cpo_party[1]}/L1"
        try:
            for stamp in stamps:
                answer = await cpo.call(
                    "PUT",
                    url,
                    to=cpo.hub_party,
                    json=location(*cpo_party, "L1", last_updated=stamp),
                )
                assert answer.json()["status_code"] == 1000
            await arrived.wait()
            yield OwedScene(hub, cpo, waiting, failing, release)
        finally:
            release.set()
