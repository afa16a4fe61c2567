"""An eMSP that keeps its own copy of a CPO's Locations, as a real one does, and resyncs on
the hub's cue (docs/policies.md, "Owed copies and resynchronisation").

It applies each Location PUT and EVSE PATCH it receives unless it holds a newer version (by
``last_updated``); when the hub pushes the CPO's ClientInfo as OFFLINE and then CONNECTED,
it GETs the hub's Locations list with ``date_from`` = the OFFLINE object's ``last_updated``
and applies what it gets. ``failing`` makes it fail copies for a while ("garbage": a 200
answer that is not JSON; "stall": no answer within the hub's timeout); ``delay`` answers
every copy late (after applying it).
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response

from incar.timestamps import parse_timestamp
from tests.peers.strict.peer import Received, StrictPeer, ocpi

Party = tuple[str, str]


def newer_or_same(incoming: str, held: str | None) -> bool:
    return held is None or parse_timestamp(incoming) >= parse_timestamp(held)


def patched(document: dict[str, Any], evse_uid: str, patch: dict[str, Any]) -> dict[str, Any]:
    """The Location after an EVSE PATCH: the EVSE merged, the Location's last_updated moved."""
    result = copy.deepcopy(document)
    for evse in result["evses"]:
        if evse["uid"] == evse_uid:
            evse.update(patch)
    if "last_updated" in patch:
        result["last_updated"] = patch["last_updated"]
    return result


@dataclass
class Mirror:
    peer: StrictPeer
    locations_url: str  # the hub's Locations Sender list
    delay: float = 0.0
    failing: str | None = None  # None, "garbage" or "stall"
    stall: float = 0.0
    locations: dict[str, dict[str, Any]] = field(default_factory=dict)
    offline_since: dict[Party, str] = field(default_factory=dict)
    cues: list[tuple[Party, str]] = field(default_factory=list)
    #: The copies it took (method, path, body): not those it failed.
    taken: list[tuple[str, str, bytes]] = field(default_factory=list)
    resyncs: list[asyncio.Task[None]] = field(default_factory=list)

    def attach(self) -> Mirror:
        self.peer.on("PUT", "/locations/receiver/", self._copy)
        self.peer.on("PATCH", "/locations/receiver/", self._copy)
        self.peer.on("PUT", "/hubclientinfo/receiver/", self._client_info)
        return self

    # --- copies ------------------------------------------------------------------------------
    def apply(self, method: str, path: str, body: dict[str, Any]) -> None:
        parts = path.removeprefix("/locations/receiver/").split("/")
        location_id = parts[2]
        held = self.locations.get(location_id)
        if method == "PUT" and len(parts) == 3:
            if newer_or_same(body["last_updated"], held["last_updated"] if held else None):
                self.locations[location_id] = body
        elif method == "PATCH" and len(parts) == 4 and held is not None:
            if newer_or_same(body["last_updated"], held["last_updated"]):
                self.locations[location_id] = patched(held, parts[3], body)
        else:
            raise AssertionError(f"the mirror does not expect {method} {path}")

    async def _copy(self, received: Received) -> Response:
        if self.failing == "garbage":
            return Response(b"<html>Service Unavailable</html>", media_type="text/html")
        if self.failing == "stall":
            await asyncio.sleep(self.stall)
            return ocpi()
        self.apply(received.method, received.path, received.json())
        self.taken.append((received.method, received.path, received.body))
        if self.delay:
            await asyncio.sleep(self.delay)
        return ocpi()

    # --- the cue -------------------------------------------------------------------------------
    def _client_info(self, received: Received) -> Response:
        info = received.json()
        party = (info["country_code"], info["party_id"])
        if info["status"] == "OFFLINE":
            self.offline_since.setdefault(party, info["last_updated"])
        elif info["status"] == "CONNECTED" and party in self.offline_since:
            since = self.offline_since.pop(party)
            self.cues.append((party, since))
            self.resyncs.append(asyncio.create_task(self.resync(since)))
        return ocpi()

    async def resync(self, since: str) -> None:
        """GET All from ``since``, every page, each Location applied unless held newer."""
        for item in await hub_list(self.peer, f"{self.locations_url}?date_from={since}"):
            path = f"/locations/receiver/{item['country_code']}/{item['party_id']}/{item['id']}"
            self.apply("PUT", path, item)

    def took(self, method: str, path: str, body: dict[str, Any]) -> bool:
        return any((m, p) == (method, path) and orjson.loads(b) == body for m, p, b in self.taken)

    async def settled(self) -> None:
        await asyncio.gather(*self.resyncs)


async def hub_list(peer: StrictPeer, url: str) -> list[dict[str, Any]]:
    """A GET All through the hub as ``peer``, every page (by the Link headers)."""
    items: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        answer = await peer.call("GET", next_url, to=peer.hub_party)
        body = answer.json()
        assert body["status_code"] == 1000, answer.text
        items.extend(body["data"])
        link = answer.headers.get("link")
        next_url = link.split(">", 1)[0].lstrip("<") if link else None
    return items


async def hub_locations(peer: StrictPeer, url: str) -> dict[str, dict[str, Any]]:
    """The hub's Locations by id (what the mirror must end up equal to)."""
    return {item["id"]: item for item in await hub_list(peer, url)}
