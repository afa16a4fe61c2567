"""Concurrent pushes that change one stored document: each acknowledged change is kept.

A Location keeps its EVSEs inside one document, and a Session its charging periods, so two
PATCHes of different EVSEs (or a PATCH and a PUT) race on one row. Every one of them was
answered 1000, so every one of them must be in what the hub serves afterwards.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conformance.support import get_all, location, register_all
from tests.peers.strict.peer import running_peer
from tests.support.hub import HubUnderTest

EVSES = 24


def many_evses(cc: str, pid: str, location_id: str) -> dict[str, Any]:
    body = location(cc, pid, location_id)
    template = body["evses"][0]
    body["evses"] = [{**template, "uid": f"E{n}"} for n in range(EVSES)]
    return body


async def test_concurrent_evse_patches_of_one_location_are_all_kept(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, emsp)
        receiver = hub.endpoint("locations", "receiver") + "/NL/CPA/L1"
        put = await cpo.call("PUT", receiver, to=cpo.hub_party, json=many_evses("NL", "CPA", "L1"))
        assert put.json()["status_code"] == 1000, put.text

        async def patch(n: int) -> int:
            answer = await cpo.call(
                "PATCH",
                f"{receiver}/E{n}",
                to=cpo.hub_party,
                json={"status": "CHARGING", "last_updated": f"2026-01-02T00:00:{n:02d}Z"},
            )
            code: int = answer.json()["status_code"]
            return code

        codes = await asyncio.gather(*(patch(n) for n in range(EVSES)))
        assert codes == [1000] * EVSES
        await hub.settle()
        (stored,), _ = await get_all(emsp, hub.endpoint("locations", "sender"), emsp.hub_party)
    statuses = {evse["uid"]: evse["status"] for evse in stored["evses"]}
    assert statuses == {f"E{n}": "CHARGING" for n in range(EVSES)}
    assert stored["last_updated"] == f"2026-01-02T00:00:{EVSES - 1:02d}Z"
