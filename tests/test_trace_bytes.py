"""Trace ids pass through the hub byte for byte (docs/policies.md, Peers' answers, trace ids
and loops).

Servers read header bytes as latin-1, aiohttp sends header strings as UTF-8: a UTF-8 id read
one way and sent the other would reach the next hop double-encoded. Over real HTTP, with the
ids sent as raw bytes: a UTF-8 X-Correlation-ID reaches the receiver (and every broadcast copy)
as the very bytes the requester sent, and the hub's answer echoes both ids byte for byte. An
id the hub could not pass on exactly is refused with 2001 (HTTP 200) and nothing is forwarded.
"""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest

from tests.conformance.support import (
    Party,
    assert_envelope,
    exactly,
    hub_party,
    location,
    register_all,
    token,
)
from tests.peers.strict.peer import Received, StrictPeer, running_peer
from tests.support.hub import HubUnderTest

CPO: Party = ("NL", "CPT")
EMSP: Party = ("DE", "EMT")
OTHER_EMSP: Party = ("DE", "EMU")

Headers = list[tuple[bytes, bytes]]

CORRELATION = "Zürich-€-1".encode()
REQUEST = "Größe-№-7-日本".encode()


def raw_headers(peer: StrictPeer, to: Party, **ids: bytes) -> Headers:
    """The peer's token and routing headers, and trace ids as the raw bytes given."""
    headers: Headers = [
        (b"Authorization", peer.auth()["Authorization"].encode()),
        (b"OCPI-from-country-code", peer.country_code.encode()),
        (b"OCPI-from-party-id", peer.party_id.encode()),
        (b"OCPI-to-country-code", to[0].encode()),
        (b"OCPI-to-party-id", to[1].encode()),
        (b"Content-Type", b"application/json"),
    ]
    for name, value in ids.items():
        headers.append((name.replace("_", "-").encode(), value))
    return headers


def as_received(received: Received, name: str) -> bytes:
    """A header's bytes as they reached the peer (Starlette read them as latin-1)."""
    return received.headers[name].encode("latin-1")


def echoed(answer: httpx.Response, name: bytes) -> list[bytes]:
    return [value for key, value in answer.headers.raw if key.lower() == name]


async def send(
    method: str, url: str, headers: Headers, body: bytes | None = None
) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.request(method, url, headers=headers, content=body)


async def test_utf8_ids_reach_the_receiver_and_come_back_byte_for_byte(hub: HubUnderTest) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        answer = await send(
            "GET",
            hub.endpoint("locations", "sender") + "/L1",
            raw_headers(emsp, CPO, X_Request_ID=REQUEST, X_Correlation_ID=CORRELATION),
        )
    assert answer.json()["status_code"] == 1000, answer.text
    (hop,) = exactly(cpo, "GET", "/locations/sender/L1")
    assert as_received(hop, "x-correlation-id") == CORRELATION
    assert as_received(hop, "x-request-id") != REQUEST  # a hop has a request id of its own
    assert echoed(answer, b"x-correlation-id") == [CORRELATION]
    assert echoed(answer, b"x-request-id") == [REQUEST]


async def test_utf8_correlation_id_reaches_every_broadcast_copy_byte_for_byte(
    hub: HubUnderTest,
) -> None:
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
        running_peer(role="EMSP", country_code=OTHER_EMSP[0], party_id=OTHER_EMSP[1]) as other,
    ):
        await register_all(hub, cpo, emsp, other)
        answer = await send(
            "PUT",
            hub.endpoint("locations", "receiver") + "/NL/CPT/L1",
            raw_headers(cpo, hub_party(hub), X_Request_ID=REQUEST, X_Correlation_ID=CORRELATION),
            orjson.dumps(location(*CPO, "L1")),
        )
        await hub.settle()
    assert answer.json()["status_code"] == 1000, answer.text
    assert echoed(answer, b"x-correlation-id") == [CORRELATION]
    assert echoed(answer, b"x-request-id") == [REQUEST]
    copies = [c for p in (emsp, other) for c in exactly(p, "PUT", "/locations/receiver/NL/CPT/L1")]
    assert len(copies) == 2
    assert [as_received(c, "x-correlation-id") for c in copies] == [CORRELATION, CORRELATION]


# (the header, the values it is sent with)
UNUSABLE: dict[str, tuple[bytes, list[bytes]]] = {
    "latin-1, not UTF-8": (b"x-correlation-id", ["café-1".encode("latin-1")]),
    "not UTF-8 at all": (b"x-request-id", [b"\xff\xfe-1"]),
    "a tab inside": (b"x-correlation-id", [b"corr\tid"]),
    "a C1 control (NEL)": (b"x-correlation-id", ["line\u0085break".encode()]),
    "101 characters": (b"x-correlation-id", [("€" * 101).encode()]),
    "given twice": (b"x-correlation-id", [b"one", b"two"]),
}


@pytest.mark.parametrize("kind", list(UNUSABLE))
async def test_an_id_the_hub_cannot_pass_on_exactly_is_2001_and_nothing_is_forwarded(
    hub: HubUnderTest, kind: str
) -> None:
    refused_name, refused = UNUSABLE[kind]
    usable_name = b"x-request-id" if refused_name == b"x-correlation-id" else b"x-correlation-id"
    usable = str(uuid.uuid4()).encode()
    ids = [(refused_name, value) for value in refused] + [(usable_name, usable)]
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        cpo.received.clear()
        forward = hub.endpoint("locations", "sender") + "/L1"
        broadcast = hub.endpoint("tokens", "receiver") + "/DE/EMT/T1"
        answers = [
            await send("GET", forward, [*raw_headers(emsp, CPO), *ids]),
            await send(
                "PUT",
                broadcast,
                [*raw_headers(emsp, hub_party(hub)), *ids],
                orjson.dumps(token(*EMSP, "T1")),
            ),
            await send("GET", hub.versions_url, [raw_headers(emsp, CPO)[0], *ids]),
        ]
        await hub.settle()
        assert cpo.received == [], "nothing forwarded, nothing broadcast"
        # The same requests with usable ids do reach the CPO.
        fine = [(usable_name, usable)]
        assert (await send("GET", forward, [*raw_headers(emsp, CPO), *fine])).json()[
            "status_code"
        ] == 1000
        await send(
            "PUT",
            broadcast,
            [*raw_headers(emsp, hub_party(hub)), *fine],
            orjson.dumps(token(*EMSP, "T1")),
        )
        await hub.settle()
        assert [r.method for r in cpo.received] == ["GET", "PUT"]
    for answer in answers:
        assert answer.status_code == 200, answer.text
        body = assert_envelope(answer)
        assert body["status_code"] == 2001, body
        assert "data" not in body
        assert refused_name.decode() in body["status_message"].lower(), body
        assert "ocpi-to-country-code" not in answer.headers
        # The usable id is echoed; the refused one is not sent back, a generated one instead.
        assert echoed(answer, usable_name) == [usable]
        (generated,) = echoed(answer, refused_name)
        assert generated not in refused
        uuid.UUID(generated.decode())


async def test_an_id_of_100_characters_passes(hub: HubUnderTest) -> None:
    longest = ("€" * 100).encode()
    async with (
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await register_all(hub, cpo, emsp)
        answer = await send(
            "GET",
            hub.endpoint("locations", "sender") + "/L1",
            raw_headers(emsp, CPO, X_Correlation_ID=longest),
        )
    assert answer.json()["status_code"] == 1000, answer.text
    (hop,) = exactly(cpo, "GET", "/locations/sender/L1")
    assert as_received(hop, "x-correlation-id") == longest
    assert echoed(answer, b"x-correlation-id") == [longest]
