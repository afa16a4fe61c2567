"""Retries of failed copies, an operator's option (INCAR_OWED_RETRY_FOR; off by default, so
checks 34 and 58 hold): the latest copy of an object is attempted again with a pause, a later
copy supersedes a waiting one, and after the retention the receiver is cued as without it."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from starlette.responses import Response

from ocpi_adapter.owed.models import OwedCopy, ResyncMark
from ocpi_adapter.types import ConnectionStatus
from tests.conformance.support import location, register_all, status_of
from tests.conformance.test_j_hubclientinfo import eventually
from tests.peers.strict.peer import Received, StrictPeer, ocpi, running_peer
from tests.support.hub import HubUnderTest, running_hub

CPO = ("NL", "CPT")
EMSP = ("DE", "EMT")
PATH = f"/locations/receiver/{CPO[0]}/{CPO[1]}/L1"


class Flaky:
    """Answers the eMSP's Location copies with HTTP 500 while ``failing``."""

    def __init__(self, peer: StrictPeer) -> None:
        self.failing = True
        peer.on("PUT", "/locations/", self.answer)

    def answer(self, received: Received) -> Response:
        if self.failing:
            return Response(b'{"status_code":3000}', status_code=500)
        return ocpi()


async def push(hub: HubUnderTest, cpo: StrictPeer, body: dict[str, Any]) -> None:
    url = f"{hub.endpoint('locations', 'receiver')}/{CPO[0]}/{CPO[1]}/L1"
    answer = await cpo.call("PUT", url, to=cpo.hub_party, json=body)
    assert answer.json()["status_code"] == 1000, answer.text


def versions(emsp: StrictPeer) -> list[str]:
    return [r.json()["last_updated"] for r in emsp.requests("PUT", PATH)]


async def counts(hub: HubUnderTest) -> tuple[int, int]:
    async with hub.hub.db.transaction() as tx:
        rows = (await tx.execute(select(func.count()).select_from(OwedCopy))).scalar_one()
        marks = (await tx.execute(select(func.count()).select_from(ResyncMark))).scalar_one()
    return int(rows), int(marks)


async def test_a_failed_copy_is_retried_and_later_copies_supersede_waiting_ones() -> None:
    async with (
        running_hub(owed_retry_for=60.0) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        flaky = Flaky(emsp)
        v1, v2, v3 = (f"2026-03-01T00:00:0{n}Z" for n in (1, 2, 3))
        await push(hub, cpo, location(*CPO, "L1", last_updated=v1))
        await eventually(lambda: versions(emsp) == [v1], "the first attempt")
        # The eMSP saw the attempt before the hub read its 500: pushed at once, v2 could be in
        # the lane before the sender looks, and supersede v1 with no retry. A second in, the
        # sender is in v1's 2 s pause.
        await asyncio.sleep(1.0)
        # While the first copy waits for its retry, two newer versions of the object come.
        await push(hub, cpo, location(*CPO, "L1", last_updated=v2))
        await push(hub, cpo, location(*CPO, "L1", last_updated=v3))
        await eventually(lambda: versions(emsp).count(v3) >= 2, "v3 retried")
        flaky.failing = False
        await hub.settle()
        got = versions(emsp)
        # v1 was retried once before the newer copies superseded it; v2 went once (it failed
        # with v3 behind it); v3 was retried until it arrived, and nothing came after it.
        assert got.count(v1) == 2, got
        assert got.count(v2) == 1, got
        assert got[-1] == v3 and got.index(v2) > got.index(v1, 1) and got.index(v3) > got.index(v2)
        assert await counts(hub) == (0, 0)
        assert await status_of(hub, EMSP) is ConnectionStatus.CONNECTED


async def test_retries_end_after_the_retention_and_the_receiver_is_cued() -> None:
    async with (
        running_hub(owed_retry_for=1.5, owed_poll=0.2, still_alive_check_period=0.3) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        flaky = Flaky(emsp)
        stamp = "2026-03-01T00:00:01Z"
        # The cue is held back while the copy fails: versions answers, so the still-alive
        # check would cue at once; the eMSP refuses ClientInfo until it recovers.
        emsp.on("PUT", "/hubclientinfo/", lambda r: Response(b"down", status_code=503))
        await push(hub, cpo, location(*CPO, "L1", last_updated=stamp))
        await hub.settle()
        # Attempts at 0 s and 2 s: the second is past the 1.5 s retention, so it is the last.
        assert versions(emsp) == [stamp, stamp]
        emsp.handlers = [h for h in emsp.handlers if h[1] != "/hubclientinfo/"]
        flaky.failing = False

        def cued() -> list[Any]:
            return [
                r.json()
                for r in emsp.requests("PUT", f"/hubclientinfo/receiver/{CPO[0]}/{CPO[1]}")
                if r.json()["status"] in ("OFFLINE", "CONNECTED")
            ]

        await eventually(
            lambda: [c["status"] for c in cued()][-2:] == ["OFFLINE", "CONNECTED"], "cue"
        )
        await hub.settle()
        offline = [c for c in cued() if c["status"] == "OFFLINE"][-1]
        assert offline["last_updated"] <= stamp.replace("Z", ".000Z")
        assert versions(emsp) == [stamp, stamp], "retried past the retention"
        assert await counts(hub) == (0, 0)
