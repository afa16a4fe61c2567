"""The load generator: simulated CPOs that register, push their Locations, then PATCH EVSEs.

``python -m bench.cpos CONFIG.json`` serves every CPO's OCPI side (versions, credentials, the
locations Sender, the hubclientinfo Receiver) on one loopback uvicorn server, registers each
CPO at the hub through the credentials handshake, broadcasts its Locations once (PUT, TO = the
hub), and then runs ``concurrency`` workers that each own a disjoint set of Locations and PATCH
their EVSEs' status (TO = the hub) back to back over keep-alive connections, one httpx client
per CPO. Owning whole Locations keeps every Location's ``last_updated`` increasing, so no PATCH
is stale. Warm-up first, then the measured phase; results go to stdout as JSON lines.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.common import (
    bind,
    correlation_id,
    emit,
    envelope,
    latency_summary,
    now_ns,
    register,
    require_loopback,
    serving,
    timestamp,
    token_header,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

COUNTRY = "NL"
STATUSES = ("AVAILABLE", "CHARGING", "AVAILABLE", "RESERVED", "CHARGING", "OUTOFORDER")
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MAX_REQUESTS_PER_SECOND_PER_WORKER = 10_000  # bounds each worker's loop in count as well


@dataclass
class Cpo:
    index: int
    party_id: str
    token_a: str
    base: str = ""
    token_b: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token_c: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def versions_url(self) -> str:
        return f"{self.base}/versions"

    def roles(self) -> list[dict[str, Any]]:
        return [
            {
                "role": "CPO",
                "business_details": {"name": f"Bench CPO {COUNTRY}*{self.party_id}"},
                "party_id": self.party_id,
                "country_code": COUNTRY,
            }
        ]

    def endpoints(self) -> list[dict[str, str]]:
        return [
            {"identifier": "credentials", "role": "SENDER", "url": f"{self.base}/credentials"},
            {"identifier": "locations", "role": "SENDER", "url": f"{self.base}/locations"},
            {"identifier": "hubclientinfo", "role": "RECEIVER", "url": f"{self.base}/clientinfo"},
        ]


def location(cpo: Cpo, number: int, evses: int) -> dict[str, Any]:
    """A valid Location with ``evses`` EVSEs of one AC connector each."""
    stamp = timestamp(EPOCH)
    location_id = f"L{number:05d}"
    return {
        "country_code": COUNTRY,
        "party_id": cpo.party_id,
        "id": location_id,
        "publish": True,
        "name": f"Bench site {cpo.party_id} {number}",
        "address": f"Mannerheimintie {number + 1}",
        "city": "Helsinki",
        "country": "FIN",
        "coordinates": {
            "latitude": f"{60.1 + number * 1e-4:.6f}",
            "longitude": f"{24.9 + cpo.index * 1e-3:.6f}",
        },
        "time_zone": "Europe/Helsinki",
        "evses": [
            {
                "uid": f"{location_id}-E{e + 1}",
                "evse_id": f"NL*{cpo.party_id}*E{number:05d}{e + 1}",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "last_updated": stamp,
                    }
                ],
                "last_updated": stamp,
            }
            for e in range(evses)
        ],
        "last_updated": stamp,
    }


class CpoServer:
    """The CPOs' own OCPI endpoints, under /cpo/{index}: what the hub reads at registration."""

    def __init__(self, cpos: list[Cpo]) -> None:
        self.cpos = cpos
        self.requests = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        for _ in range(10_000):
            message = await receive()
            if not message.get("more_body", False):
                break
        self.requests += 1
        parts = scope["path"].strip("/").split("/")
        cpo = self.cpos[int(parts[1])] if len(parts) > 1 and parts[1].isdigit() else None
        auth = dict(scope["headers"]).get(b"authorization", b"").decode()
        status, extra = 200, []
        data: Any = None
        if cpo is None or cpo.index >= len(self.cpos) or auth != token_header(cpo.token_b):
            status, body = 401, envelope(status_code=2000)
        else:
            rest = "/".join(parts[2:])
            if rest == "versions":
                data = [{"version": "2.2.1", "url": f"{cpo.base}/2.2.1"}]
            elif rest == "2.2.1":
                data = {"version": "2.2.1", "endpoints": cpo.endpoints()}
            elif rest.startswith("credentials"):
                data = {"token": cpo.token_b, "url": cpo.versions_url, "roles": cpo.roles()}
            elif rest.startswith("locations") and scope["method"] == "GET":
                data = []
                extra = [(b"x-total-count", b"0"), (b"x-limit", b"100")]
            body = envelope(data)
        headers = [(b"content-type", b"application/json"), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@dataclass
class Site:
    cpo: Cpo
    location_id: str
    evse_uids: list[str]
    url: str
    last_ms: int = 0
    turn: int = 0


@dataclass
class Tally:
    """What one phase saw: latencies of acknowledged PATCHes and the errors by kind."""

    sent: int = 0
    acked: int = 0
    latency_ns: array[int] = field(default_factory=lambda: array("q"))
    errors: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def error(self, kind: str, example: str) -> None:
        self.errors[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(example[:300])


@dataclass
class Load:
    clients: dict[int, httpx.AsyncClient]
    measure_from: int
    measure_to: int
    warmup: Tally = field(default_factory=Tally)
    measured: Tally = field(default_factory=Tally)


def _next_patch(site: Site) -> tuple[str, bytes]:
    """The next EVSE of the site and its PATCH body; ``last_updated`` strictly increases."""
    uid = site.evse_uids[site.turn % len(site.evse_uids)]
    status = STATUSES[(site.turn // len(site.evse_uids)) % len(STATUSES)]
    site.turn += 1
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    site.last_ms = max(now_ms, site.last_ms + 1)
    stamp = timestamp(datetime.fromtimestamp(site.last_ms / 1000, UTC))
    return f"{site.url}/{uid}", orjson.dumps({"status": status, "last_updated": stamp})


async def worker(number: int, sites: list[Site], load: Load) -> None:
    limit = int((load.measure_to - now_ns()) / 1e9 * MAX_REQUESTS_PER_SECOND_PER_WORKER) + 1
    for seq in range(limit):
        started = now_ns()
        if started >= load.measure_to:
            return
        tally = load.measured if started >= load.measure_from else load.warmup
        site = sites[seq % len(sites)]
        url, body = _next_patch(site)
        headers = {
            **site.cpo.headers,
            "X-Request-ID": f"bench-r-{number}-{seq}",
            "X-Correlation-ID": correlation_id(started, number, seq),
        }
        tally.sent += 1
        try:
            response = await load.clients[site.cpo.index].patch(url, headers=headers, content=body)
        except httpx.HTTPError as error:
            tally.error(type(error).__name__, f"{type(error).__name__}: {error}")
            continue
        elapsed = now_ns() - started
        if response.status_code != 200:
            tally.error(f"HTTP {response.status_code}", response.text)
            continue
        try:
            code = orjson.loads(response.content).get("status_code")
        except orjson.JSONDecodeError:
            tally.error("not JSON", response.text)
            continue
        if code != 1000:
            tally.error(f"OCPI {code}", response.text)
            continue
        tally.acked += 1
        tally.latency_ns.append(elapsed)


async def _put_locations(
    clients: dict[int, httpx.AsyncClient], sites: list[Site], bodies: list[dict[str, Any]]
) -> None:
    gate = asyncio.Semaphore(8)

    async def put(site: Site, body: dict[str, Any]) -> None:
        async with gate:
            answer = await clients[site.cpo.index].put(
                site.url,
                headers={**site.cpo.headers, "X-Request-ID": f"put-{site.location_id}"},
                content=orjson.dumps(body),
            )
        if answer.status_code != 200 or answer.json().get("status_code") != 1000:
            raise RuntimeError(f"PUT {site.url} refused: {answer.text[:300]}")

    await asyncio.gather(*(put(s, b) for s, b in zip(sites, bodies, strict=True)))


async def main(config: dict[str, Any]) -> None:
    cpos = [Cpo(i, party, token) for i, (party, token) in enumerate(config["cpos"])]
    concurrency = int(config["concurrency"])
    server = CpoServer(cpos)
    sock = bind()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for cpo in cpos:
        cpo.base = f"{base}/cpo/{cpo.index}"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    clients = {
        cpo.index: httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) for cpo in cpos
    }
    try:
        async with serving(server, sock):
            receiver = ""
            for cpo in cpos:
                credentials, endpoints = await register(
                    clients[cpo.index],
                    hub_versions_url=config["hub_versions_url"],
                    token_a=cpo.token_a,
                    token_b=cpo.token_b,
                    versions_url=cpo.versions_url,
                    roles=cpo.roles(),
                )
                cpo.token_c = credentials["token"]
                hub = credentials["roles"][0]
                receiver = require_loopback(endpoints["locations:RECEIVER"])
                cpo.headers = {
                    "Authorization": token_header(cpo.token_c),
                    "Content-Type": "application/json",
                    "OCPI-from-country-code": COUNTRY,
                    "OCPI-from-party-id": cpo.party_id,
                    "OCPI-to-country-code": hub["country_code"],
                    "OCPI-to-party-id": hub["party_id"],
                }
            sites: list[Site] = []
            bodies: list[dict[str, Any]] = []
            for cpo in cpos:
                for number in range(int(config["locations_per_cpo"])):
                    body = location(cpo, number, int(config["evses_per_location"]))
                    url = f"{receiver}/{COUNTRY}/{cpo.party_id}/{body['id']}"
                    uids = [e["uid"] for e in body["evses"]]
                    sites.append(Site(cpo, body["id"], uids, url))
                    bodies.append(body)
            if len(sites) < concurrency:
                raise SystemExit(f"{len(sites)} locations cannot keep {concurrency} workers apart")
            await _put_locations(clients, sites, bodies)
            await asyncio.sleep(1.0)  # lets the hub finish the Locations' fan-out
            emit("ready", cpos=len(cpos), locations=len(sites), evses=len(sites) * len(uids))
            start = now_ns()
            load = Load(
                clients=clients,
                measure_from=start + int(float(config["warmup"]) * 1e9),
                measure_to=start + int((float(config["warmup"]) + float(config["duration"])) * 1e9),
            )
            announce = asyncio.create_task(_announce(load))
            await asyncio.gather(
                *(worker(w, sites[w::concurrency], load) for w in range(concurrency))
            )
            await announce
            emit(
                "result",
                measure_from_ns=load.measure_from,
                measure_to_ns=load.measure_to,
                warmup={"sent": load.warmup.sent, "acked": load.warmup.acked},
                sent=load.measured.sent,
                acked=load.measured.acked,
                latency=latency_summary(load.measured.latency_ns),
                errors=dict(load.measured.errors + load.warmup.errors),
                error_examples=load.measured.examples or load.warmup.examples,
                cpo_server_requests=server.requests,
            )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients.values()))


async def _announce(load: Load) -> None:
    """Tells the orchestrator when the measured phase begins, so it can sample the hub."""
    await asyncio.sleep(max(0.0, (load.measure_from - now_ns()) / 1e9))
    emit("measuring", measure_from_ns=load.measure_from, measure_to_ns=load.measure_to)


if __name__ == "__main__":
    import uvloop

    configuration = orjson.loads(Path(sys.argv[1]).read_bytes())
    uvloop.run(asyncio.wait_for(main(configuration), timeout=float(configuration["max_seconds"])))
