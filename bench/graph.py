"""Benchmark of the graph: live EVSE status to many subscribers, and station search on a big
database, each through the Hive Gateway and straight to the locations subgraph.

    .venv/bin/python -m bench.graph [--quick] [--part status|search|both] [--subscribers N]
        [--connections N] [--rate R] [--duration S] [--evses N] [--clients K [K ...]]
        [--search-duration S] [--search-database FILE] [--json FILE]

1. status: ``incar serve`` on a fresh SQLite database; one CPO (this process, the pieces of
   ``bench.cpos``) registers through the credentials handshake and PUTs its Locations; the
   subscribers (``bench.graph_clients``, their own process) open N ``evseStatusChanged``
   subscriptions over graphql-transport-ws, first through the gateway, then straight to the
   subgraph; the CPO PATCHes statuses at a fixed rate and every event's delay from the PATCH's
   send time is measured (CLOCK_MONOTONIC, one clock for all processes).
2. search: a database filled directly through the locations service (no HTTP) with N EVSEs
   around Helsinki (or a copy of one filled before), then ``incar serve`` on it and, for each
   K, K clients sending ``stations`` queries for S seconds through the gateway, then straight
   to the subgraph (one client: latency without queueing).

See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

from bench.common import (
    LOOPBACK,
    bind,
    free_port,
    latency_summary,
    now_ns,
    register,
    require_loopback,
    serving,
    timestamp,
    token_header,
)
from bench.cpos import COUNTRY, Cpo, CpoServer, location
from bench.evse_status import BIN, ROOT, BenchError, Child, onboard
from bench.machine import describe, machine_busy, process_seconds

CPO_PARTY = "CGR"
STATUS_CYCLE = ("CHARGING", "AVAILABLE", "RESERVED", "AVAILABLE", "OUTOFORDER", "AVAILABLE")
# Every Location of bench.cpos.location lies in this box (60.1.. N, 24.9.. E).
BOX = {"south": 59.9, "west": 24.5, "north": 60.6, "east": 25.5}
SUBSCRIPTION = (
    "subscription($box: BoxInput) { evseStatusChanged(box: $box) "
    "{ status evseUid locationId changedAt } }"
)
SEARCH = """query($near: NearInput!) {
  stations(near: $near,
           filter: {connectorStandards: ["IEC_62196_T2_COMBO"], minPowerKw: 50,
                    availableNow: true},
           first: 20) {
    totalCount
    edges { distanceMeters node { id name } matchingEvses { uid status } }
  }
}"""
HELSINKI = (60.1699, 24.9384)
PROBE = "{ stations(box: {south: 0, west: 0, north: 1, east: 1}, first: 1) { totalCount } }"


@dataclass
class Options:
    part: str
    subscribers: int
    connections: int
    locations: int
    rate: float
    duration: float
    evses: int
    clients: list[int]
    search_duration: float
    search_database: Path | None
    json: Path | None
    keep_logs: Path | None


# --- processes ---------------------------------------------------------------------------------
async def spawn(
    name: str, args: Sequence[str], env: dict[str, str], folder: Path, *, stdin: bool = False
) -> Child:
    log = folder / f"{name}.log"
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
        stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
    )
    return Child(name, process, log)


@dataclass
class Platform:
    """``incar serve``: the hub, the subgraphs (one process) and the gateway (its child)."""

    child: Child
    env: dict[str, str]
    hub_url: str
    subgraph_url: str
    gateway_url: str

    def descendants(self) -> list[int]:
        """The gateway's processes (node, maybe under a launcher): children of the serve."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    parents[int(entry.name)] = int(stat[1])
        found: list[int] = []
        frontier = [self.child.pid]
        for _ in range(10):  # a launcher chain is a few levels deep at most
            frontier = [pid for pid, parent in parents.items() if parent in frontier]
            if not frontier:
                break
            found.extend(frontier)
        return found


def environment(database_url: str, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCAR_")}
    env.update(
        INCAR_DATABASE_URL=database_url,
        INCAR_HOST=LOOPBACK,
        INCAR_PORT=str(free_port()),
        INCAR_SUBGRAPHS_PORT=str(free_port()),
        INCAR_GATEWAY_PORT=str(free_port()),
        INCAR_DATA_DIR=str(folder / "data"),
        INCAR_STILL_ALIVE_CHECK_PERIOD="3600",
        PYTHONUNBUFFERED="1",
    )
    return env


async def start_platform(env: dict[str, str], folder: Path, within: float = 120) -> Platform:
    child = await spawn("serve", [str(BIN / "incar"), "serve"], env, folder)
    platform = Platform(
        child=child,
        env=env,
        hub_url=f"http://{LOOPBACK}:{env['INCAR_PORT']}",
        subgraph_url=f"http://{LOOPBACK}:{env['INCAR_SUBGRAPHS_PORT']}/graphql/locations",
        gateway_url=f"http://{LOOPBACK}:{env['INCAR_GATEWAY_PORT']}/graphql",
    )
    # Up once the gateway answers a query through to a subgraph (it starts last).
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        for _ in range(int(within / 0.5)):
            if child.process.returncode is not None:
                raise BenchError(f"incar serve exited:\n{child.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                answer = await client.post(platform.gateway_url, json={"query": PROBE})
                if answer.status_code == 200 and "errors" not in answer.json():
                    return platform
            await asyncio.sleep(0.5)
    await child.stop()
    raise BenchError(f"the gateway did not answer within {within:g} s:\n{child.tail()}")


class Cpu:
    """CPU seconds of the named processes and of the machine, between start() and cores()."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.before = self._take()

    def _take(self) -> tuple[dict[str, float], float, float]:
        return (
            {name: sum(process_seconds(p) for p in pids) for name, pids in self.pids.items()},
            machine_busy()[0],
            time.monotonic(),
        )

    def cores(self) -> dict[str, float]:
        after = self._take()
        seconds = max(after[2] - self.before[2], 1e-3)
        used = {
            name: round((after[0][name] - value) / seconds, 2)
            for name, value in self.before[0].items()
        }
        used["machine"] = round((after[1] - self.before[1]) / seconds, 2)
        return used


# --- part 1: status to subscribers -------------------------------------------------------------
@dataclass
class Patch:
    key: str
    sent_ns: int
    acked_ns: int = 0
    ok: bool = False


class StatusCpo:
    """One CPO of ``bench.cpos`` run in this process: registers, PUTs, PATCHes at a rate."""

    def __init__(self, token_a: str, locations: int, hub_versions_url: str) -> None:
        self.cpo = Cpo(0, CPO_PARTY, token_a)
        self.locations = locations
        self.hub_versions_url = hub_versions_url
        self.client = httpx.AsyncClient(timeout=30, trust_env=False)
        self.receiver = ""
        self.bodies = [location(self.cpo, n, 2) for n in range(locations)]
        self.last_ms = 0
        self.turn = 0

    async def setup(self) -> None:
        credentials, endpoints = await register(
            self.client,
            hub_versions_url=self.hub_versions_url,
            token_a=self.cpo.token_a,
            token_b=self.cpo.token_b,
            versions_url=self.cpo.versions_url,
            roles=self.cpo.roles(),
        )
        hub = credentials["roles"][0]
        self.receiver = require_loopback(endpoints["locations:RECEIVER"])
        self.cpo.headers = {
            "Authorization": token_header(credentials["token"]),
            "Content-Type": "application/json",
            "OCPI-from-country-code": COUNTRY,
            "OCPI-from-party-id": self.cpo.party_id,
            "OCPI-to-country-code": hub["country_code"],
            "OCPI-to-party-id": hub["party_id"],
        }
        for body in self.bodies:
            answer = await self.client.put(
                f"{self.receiver}/{COUNTRY}/{CPO_PARTY}/{body['id']}",
                headers={**self.cpo.headers, "X-Request-ID": f"put-{body['id']}"},
                content=orjson.dumps(body),
            )
            if answer.status_code != 200 or answer.json().get("status_code") != 1000:
                raise BenchError(f"PUT {body['id']} refused: {answer.text[:300]}")

    async def patch(self) -> Patch:
        """The next EVSE's next status; ``last_updated`` strictly increases (never stale)."""
        body = self.bodies[self.turn % len(self.bodies)]
        evse = body["evses"][(self.turn // len(self.bodies)) % len(body["evses"])]
        status = STATUS_CYCLE[(self.turn // (2 * len(self.bodies))) % len(STATUS_CYCLE)]
        self.turn += 1
        self.last_ms = max(int(datetime.now(UTC).timestamp() * 1000), self.last_ms + 1)
        moment = datetime.fromtimestamp(self.last_ms / 1000, UTC)
        # The key the subscribers file the event under (changedAt as the graph writes it).
        key = normal_key("|".join((body["id"], evse["uid"], status, moment.isoformat())))
        record = Patch(key=key, sent_ns=now_ns())
        with contextlib.suppress(httpx.HTTPError):
            answer = await self.client.patch(
                f"{self.receiver}/{COUNTRY}/{CPO_PARTY}/{body['id']}/{evse['uid']}",
                headers={**self.cpo.headers, "X-Request-ID": f"bench-{self.turn}"},
                content=orjson.dumps({"status": status, "last_updated": timestamp(moment)}),
            )
            record.acked_ns = now_ns()
            record.ok = answer.status_code == 200 and answer.json().get("status_code") == 1000
        return record

    async def close(self) -> None:
        await self.client.aclose()


async def subscribers_phase(
    options: Options, platform: Platform, cpo: StatusCpo, target: str, folder: Path
) -> dict[str, Any]:
    url = platform.gateway_url if target == "gateway" else platform.subgraph_url
    out = folder / f"arrivals-{target}.json"
    config = folder / f"clients-{target}.json"
    max_seconds = options.duration + 240
    config.write_bytes(
        orjson.dumps(
            {
                "url": url.replace("http://", "ws://"),
                "subscribers": options.subscribers,
                "connections": options.connections,
                "query": SUBSCRIPTION,
                "variables": {"box": BOX},
                "out": str(out),
                "max_seconds": max_seconds,
            }
        )
    )
    clients = await spawn(
        f"clients-{target}",
        [sys.executable, "-m", "bench.graph_clients", str(config)],
        platform.env,
        folder,
        stdin=True,
    )
    try:
        await clients.event("ready", 120)
        # Priming: PATCH once a second until every subscription has seen an event, so the
        # measured phase does not count subscriptions still being set up (gateway upstream).
        primed_at = asyncio.ensure_future(clients.event("primed", 120))
        for _ in range(120):
            await cpo.patch()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(primed_at), 1.0)
            if primed_at.done():
                break
        primed = await primed_at
        if not primed["primed"]:
            raise BenchError(f"{target}: only {primed['subscriptions_seen']} subscriptions primed")
        await asyncio.sleep(2.0)  # the priming events drain
        cpu = Cpu(
            {
                "serve (hub + subgraphs)": [platform.child.pid],
                "gateway": platform.descendants(),
                "subscribers": [clients.pid],
                "bench (CPO)": [os.getpid()],
            }
        )
        patches: list[Patch] = []
        interval = 1.0 / options.rate
        start = time.monotonic()
        pending: list[asyncio.Task[Patch]] = []
        for n in range(int(options.duration * options.rate)):
            # Fixed schedule (open loop): a slow answer does not slow the rate down.
            await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
            pending.append(asyncio.create_task(cpo.patch()))
        patches = list(await asyncio.wait_for(asyncio.gather(*pending), 60))
        cores = cpu.cores()
        await asyncio.sleep(5.0)  # late events arrive (they count, with their delay)
        assert clients.process.stdin is not None
        clients.process.stdin.write(b"stop\n")
        await clients.process.stdin.drain()
        summary = await clients.event("result", 60)
    finally:
        await clients.stop()
    received = orjson.loads(out.read_bytes())
    return summarize_status(
        options, target=target, patches=patches, received=received, summary=summary, cores=cores
    )


def normal_key(key: str) -> str:
    """An event key with changedAt as epoch milliseconds, however the graph formats it."""
    head, _, changed = key.rpartition("|")
    with contextlib.suppress(ValueError):
        moment = datetime.fromisoformat(changed)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return f"{head}|{round(moment.timestamp() * 1000)}"
    return key


def summarize_status(
    options: Options,
    *,
    target: str,
    patches: list[Patch],
    received: dict[str, Any],
    summary: dict[str, Any],
    cores: dict[str, float],
) -> dict[str, Any]:
    arrivals: dict[str, list[int]] = {}
    for key, times in received["arrivals"].items():
        arrivals.setdefault(normal_key(key), []).extend(times)
    from_sent: list[int] = []
    from_acked: list[int] = []
    got = duplicates = 0
    accepted = [p for p in patches if p.ok]
    for patch in accepted:
        times = arrivals.get(patch.key, [])
        got += min(len(times), options.subscribers)
        duplicates += max(0, len(times) - options.subscribers)
        from_sent.extend(t - patch.sent_ns for t in times)
        from_acked.extend(t - patch.acked_ns for t in times)
    expected = len(accepted) * options.subscribers
    return {
        "target": target,
        "subscribers": options.subscribers,
        "connections": min(options.connections, options.subscribers),
        "patches_sent": len(patches),
        "patches_accepted": len(accepted),
        "patch_latency": latency_summary([p.acked_ns - p.sent_ns for p in accepted]),
        "events_expected": expected,
        "events_received": got,
        "events_lost": expected - got,
        "duplicates": duplicates,
        "delay_from_sent": latency_summary(from_sent),
        "delay_from_accepted": latency_summary([max(0, d) for d in from_acked]),
        "events_before_answer": sum(1 for d in from_acked if d < 0),
        "client_errors": received["errors"][:5],
        "client_errors_total": summary["errors"],
        "cpu_cores": cores,
    }


async def status_part(options: Options) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="incar-graph-") as tmp:
        folder = Path(tmp)
        env = environment(f"sqlite+aiosqlite:///{folder / 'incar.db'}", folder)
        platform = await start_platform(env, folder)
        runs: list[dict[str, Any]] = []
        try:
            token = await onboard(env, "CPO", COUNTRY, CPO_PARTY)
            cpo = StatusCpo(token, options.locations, f"{platform.hub_url}/ocpi/versions")
            server = CpoServer([cpo.cpo])
            sock = bind()
            cpo.cpo.base = f"http://{LOOPBACK}:{sock.getsockname()[1]}/cpo/0"
            try:
                async with serving(server, sock):
                    await cpo.setup()
                    for target in ("gateway", "direct"):
                        runs.append(await subscribers_phase(options, platform, cpo, target, folder))
                        report_status(runs[-1])
            finally:
                await cpo.close()
        finally:
            await platform.child.stop()
            keep(options, folder, "status")
    return runs


# --- part 2: station search --------------------------------------------------------------------
CONNECTORS = (
    # standard, format, power type, volts, amps, max_electric_power (W) or None
    ("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 16, None),
    ("IEC_62196_T2", "SOCKET", "AC_3_PHASE", 230, 32, None),
    ("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 125, 50_000),
    ("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 250, 150_000),
    ("IEC_62196_T2_COMBO", "CABLE", "DC", 920, 500, 350_000),
    ("CHADEMO", "CABLE", "DC", 500, 125, 50_000),
)
FILL_STATUSES = ("AVAILABLE", "AVAILABLE", "CHARGING", "OUTOFORDER", "RESERVED")


def random_point(rng: random.Random, radius_m: float = 20_000) -> tuple[float, float]:
    """A point uniform in a disc of ``radius_m`` around Helsinki centre."""
    r = radius_m * rng.random() ** 0.5
    bearing = rng.random() * 2 * math.pi
    lat = HELSINKI[0] + r * math.cos(bearing) / 111_320
    lon = HELSINKI[1] + r * math.sin(bearing) / (111_320 * math.cos(math.radians(HELSINKI[0])))
    return lat, lon


def fill_location(rng: random.Random, party: str, number: int) -> dict[str, Any]:
    stamp = "2026-01-01T00:00:00.000Z"
    lat, lon = random_point(rng)
    location_id = f"S{number:06d}"
    evses = []
    for e in range(4):
        standard, fmt, power, volts, amps, watts = rng.choice(CONNECTORS)
        connector: dict[str, Any] = {
            "id": "1",
            "standard": standard,
            "format": fmt,
            "power_type": power,
            "max_voltage": volts,
            "max_amperage": amps,
            "last_updated": stamp,
        }
        if watts is not None:
            connector["max_electric_power"] = watts
        evses.append(
            {
                "uid": f"{location_id}-E{e + 1}",
                "evse_id": f"FI*{party}*E{number:06d}{e + 1}",
                "status": rng.choice(FILL_STATUSES),
                "connectors": [connector],
                "last_updated": stamp,
            }
        )
    return {
        "country_code": "FI",
        "party_id": party,
        "id": location_id,
        "publish": True,
        "name": f"Bench station {number}",
        "address": f"Benchkatu {number % 300 + 1}",
        "city": "Helsinki",
        "country": "FIN",
        "coordinates": {"latitude": f"{lat:.6f}", "longitude": f"{lon:.6f}"},
        "time_zone": "Europe/Helsinki",
        "evses": evses,
        "last_updated": stamp,
    }


async def fill(database_url: str, evses: int, seed: int = 7) -> dict[str, Any]:
    """Locations of 4 EVSEs straight through the locations service, in batches (no HTTP)."""
    from incar.db import migrate_async
    from incar.runtime import Runtime
    from incar.settings import Settings
    from subgraphs.locations.service import put_location

    await migrate_async(database_url)
    runtime = Runtime.create(Settings(database_url=database_url))
    await runtime.start()
    rng = random.Random(seed)
    locations = max(1, evses // 4)
    started = time.monotonic()
    try:
        for first in range(0, locations, 500):
            async with runtime.db.transaction(write=True) as tx:
                for number in range(first, min(first + 500, locations)):
                    party = f"C{number % 10:02d}"  # ten CPOs' worth of ids
                    await put_location(tx, data=fill_location(rng, party, number))
    finally:
        await runtime.close()
    return {"locations": locations, "evses": locations * 4, "fill_s": time.monotonic() - started}


async def search_phase(
    options: Options, url: str, platform: Platform, target: str, seed: int, *, clients: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    latencies: list[int] = []
    errors: list[str] = []
    total_counts: list[int] = []
    deadline = time.monotonic() + options.search_duration
    timeout = aiohttp.ClientTimeout(total=30)

    async def client(session: aiohttp.ClientSession) -> None:
        for _ in range(int(options.search_duration * 10_000)):
            if time.monotonic() >= deadline:
                return
            lat, lon = random_point(rng)
            body = orjson.dumps(
                {
                    "query": SEARCH,
                    "variables": {
                        "near": {"latitude": lat, "longitude": lon, "radiusMeters": 2000}
                    },
                }
            )
            started = now_ns()
            try:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as answer:
                    raw = await answer.read()
                    status = answer.status
            except (aiohttp.ClientError, TimeoutError) as problem:
                errors.append(f"{type(problem).__name__}: {problem}")
                continue
            elapsed = now_ns() - started
            result = orjson.loads(raw) if raw[:1] == b"{" else {}
            if status != 200 or result.get("errors") or not result.get("data"):
                errors.append(f"HTTP {status}: {raw[:200]!r}")
                continue
            latencies.append(elapsed)
            total_counts.append(int(result["data"]["stations"]["totalCount"]))

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm-up: a second of the same load, not measured (connections, caches, JIT-less warm).
        cpu = Cpu(
            {
                "serve (hub + subgraphs)": [platform.child.pid],
                "gateway": platform.descendants(),
                "bench (clients)": [os.getpid()],
            }
        )
        began = time.monotonic()
        await asyncio.wait_for(
            asyncio.gather(*(client(session) for _ in range(clients))),
            options.search_duration + 60,
        )
        elapsed_s = time.monotonic() - began
        cores = cpu.cores()
    counts = sorted(total_counts)
    return {
        "target": target,
        "clients": clients,
        "duration_s": round(elapsed_s, 1),
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / elapsed_s, 1),
        "latency": latency_summary(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "median_total_count": counts[len(counts) // 2] if counts else 0,
        "cpu_cores": cores,
    }


async def filled_database(options: Options, folder: Path) -> tuple[str, dict[str, Any]]:
    """A fresh database of ``--evses`` EVSEs in ``folder``: filled there, or copied from
    ``--search-database`` (filled into that file first when it does not exist yet)."""
    target = folder / "incar.db"
    kept = options.search_database
    if kept is None:
        url = f"sqlite+aiosqlite:///{target}"
        return url, await fill(url, options.evses)
    if not kept.exists():
        kept.parent.mkdir(parents=True, exist_ok=True)
        filled = await fill(f"sqlite+aiosqlite:///{kept}", options.evses)
    else:
        filled = {"locations": None, "evses": None, "fill_s": 0.0, "copied_from": str(kept)}
    await asyncio.to_thread(shutil.copyfile, kept, target)
    return f"sqlite+aiosqlite:///{target}", filled


async def search_part(options: Options) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with tempfile.TemporaryDirectory(prefix="incar-graph-") as tmp:
        folder = Path(tmp)
        url, filled = await filled_database(options, folder)
        print(
            f"\n== search: {filled['evses'] or 'a copy of ' + str(options.search_database)} "
            f"EVSEs ({filled['locations']} Locations), filled in {filled['fill_s']:.0f} s",
            flush=True,
        )
        env = environment(url, folder)
        platform = await start_platform(env, folder)
        runs: list[dict[str, Any]] = []
        try:
            # A short unmeasured warm-up through both paths (first-query compilation, pools).
            warm = Options(**{**options.__dict__, "search_duration": 2.0})
            await search_phase(warm, platform.gateway_url, platform, "warm-up", 1, clients=4)
            await search_phase(warm, platform.subgraph_url, platform, "warm-up", 2, clients=4)
            # The same random points through both (one seed), one phase after the other.
            for clients in options.clients:
                for target, url_of in (
                    ("gateway", platform.gateway_url),
                    ("direct", platform.subgraph_url),
                ):
                    runs.append(
                        await search_phase(options, url_of, platform, target, 42, clients=clients)
                    )
                    report_search(runs[-1])
        finally:
            await platform.child.stop()
            keep(options, folder, "search")
    return filled, runs


# --- report ------------------------------------------------------------------------------------
def keep(options: Options, folder: Path, part: str) -> None:
    if options.keep_logs is None:
        return
    target = options.keep_logs / part
    target.mkdir(parents=True, exist_ok=True)
    for log in folder.glob("*.log"):
        (target / log.name).write_bytes(log.read_bytes())


def ms(summary: dict[str, float]) -> str:
    return (
        f"p50 {summary['p50_ms']:.1f} / p90 {summary['p90_ms']:.1f} / "
        f"p99 {summary['p99_ms']:.1f} / max {summary['max_ms']:.1f} ms"
    )


def report_status(run: dict[str, Any]) -> None:
    print(
        f"\n== status via {run['target']}: {run['subscribers']} subscriptions on "
        f"{run['connections']} WebSockets",
        flush=True,
    )
    print(
        f"  PATCHes accepted {run['patches_accepted']} of {run['patches_sent']}; "
        f"PATCH latency {ms(run['patch_latency'])}"
    )
    print(
        f"  events {run['events_received']} of {run['events_expected']} "
        f"(lost {run['events_lost']}, duplicates {run['duplicates']}); "
        f"client errors {run['client_errors_total']}"
    )
    print(f"  delay PATCH sent -> event:     {ms(run['delay_from_sent'])}")
    print(
        f"  delay PATCH answered -> event: {ms(run['delay_from_accepted'])} "
        f"({run['events_before_answer']} events arrived before the PATCH's answer, counted 0)"
    )
    print("  CPU cores: " + ", ".join(f"{k} {v}" for k, v in run["cpu_cores"].items()))
    for example in run["client_errors"][:2]:
        print(f"    e.g. {example}")


def report_search(run: dict[str, Any]) -> None:
    print(
        f"\n== search via {run['target']}: {run['clients']} clients, {run['duration_s']} s: "
        f"{run['requests']} requests, {run['requests_per_s']}/s, errors {run['errors']}",
        flush=True,
    )
    print(f"  latency {ms(run['latency'])}; median totalCount {run['median_total_count']}")
    print("  CPU cores: " + ", ".join(f"{k} {v}" for k, v in run["cpu_cores"].items()))
    for example in run["error_examples"][:2]:
        print(f"    e.g. {example}")


def ratios(runs: list[dict[str, Any]], field: str) -> dict[str, float]:
    """gateway/direct of one measurement (one client count, for the search)."""
    by = {r["target"]: r[field] for r in runs}
    if "gateway" not in by or "direct" not in by:
        return {}
    return {
        k: round(by["gateway"][k] / by["direct"][k], 2) if by["direct"][k] else 0.0
        for k in ("p50_ms", "p99_ms")
    }


def table(status: list[dict[str, Any]], search: list[dict[str, Any]]) -> None:
    print("\n| part | path | clients | p50 | p90 | p99 | max | volume | lost/errors |")
    print("|---|---|---|---|---|---|---|---|---|")
    for run in status:
        d = run["delay_from_sent"]
        print(
            f"| status | {run['target']} | — | {d['p50_ms']:.1f} | {d['p90_ms']:.1f} | "
            f"{d['p99_ms']:.1f} | {d['max_ms']:.1f} | {run['events_received']} events | "
            f"{run['events_lost']} |"
        )
    for run in search:
        d = run["latency"]
        print(
            f"| search | {run['target']} | {run['clients']} | {d['p50_ms']:.1f} | "
            f"{d['p90_ms']:.1f} | "
            f"{d['p99_ms']:.1f} | {d['max_ms']:.1f} | {run['requests_per_s']}/s | "
            f"{run['errors']} |"
        )
    if status:
        r = ratios(status, "delay_from_sent")
        print(
            f"status gateway/direct: p50 x{r.get('p50_ms')}, p99 x{r.get('p99_ms')} "
            "(aim p99 < 100 ms)"
        )
    for clients in sorted({run["clients"] for run in search}):
        same = [run for run in search if run["clients"] == clients]
        r = ratios(same, "latency")
        by = {x["target"]: x for x in same}
        rps = (
            round(by["gateway"]["requests_per_s"] / by["direct"]["requests_per_s"], 2)
            if by.get("direct", {}).get("requests_per_s") and "gateway" in by
            else None
        )
        print(
            f"search, {clients} clients, gateway/direct: p50 x{r.get('p50_ms')}, "
            f"p99 x{r.get('p99_ms')}, requests/s x{rps} (aim p99 < 20 ms)"
        )


async def main_async(options: Options) -> int:
    machine = describe()
    print(
        f"machine: {machine['cpu']}, {machine['nproc']} cores, {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, SQLite {machine['sqlite']}; load average "
        f"{' '.join(machine['loadavg_at_start'])}",
        flush=True,
    )
    status: list[dict[str, Any]] = []
    search: list[dict[str, Any]] = []
    filled: dict[str, Any] = {}
    if options.part in ("status", "both"):
        status = await status_part(options)
    if options.part in ("search", "both"):
        filled, search = await search_part(options)
    machine["loadavg_at_end"] = describe()["loadavg_at_start"]
    table(status, search)
    print(
        f"load average at start {' '.join(machine['loadavg_at_start'])}, "
        f"at end {' '.join(machine['loadavg_at_end'])}"
    )
    if options.json is not None:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_bytes(
            orjson.dumps(
                {
                    "machine": machine,
                    "options": {k: str(v) for k, v in options.__dict__.items()},
                    "status": status,
                    "search": {"filled": filled, "runs": search},
                },
                option=orjson.OPT_INDENT_2,
            )
        )
        print(f"results written to {options.json}")
    return 0


def parse(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.graph",
        description="live EVSE status to many subscribers, and station search on many EVSEs, "
        "through the gateway and straight to the locations subgraph",
    )
    parser.add_argument("--part", choices=["status", "search", "both"], default="both")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a run of about two minutes"
    )
    parser.add_argument("--subscribers", type=int, help="subscriptions per path (500; quick 200)")
    parser.add_argument("--connections", type=int, default=25, help="WebSockets per path (25)")
    parser.add_argument("--locations", type=int, default=20, help="the CPO's Locations (20)")
    parser.add_argument("--rate", type=float, default=5.0, help="status PATCHes per second (5)")
    parser.add_argument("--duration", type=float, help="seconds of PATCHes per path (20; quick 8)")
    parser.add_argument("--evses", type=int, help="EVSEs for the search (100000; quick 8000)")
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[1, 4],
        help="concurrent search clients, one run per value (1 4)",
    )
    parser.add_argument(
        "--search-duration", type=float, help="seconds of search per path (20; quick 8)"
    )
    parser.add_argument(
        "--search-database",
        type=Path,
        help="a SQLite file of the search's EVSEs, filled once and copied for each run",
    )
    parser.add_argument("--json", type=Path, help="write machine and results to this file")
    parser.add_argument("--keep-logs", type=Path, help="copy the processes' logs here")
    args = parser.parse_args(argv)
    quick = args.quick
    options = Options(
        part=args.part,
        subscribers=args.subscribers or (200 if quick else 500),
        connections=args.connections,
        locations=args.locations,
        rate=args.rate,
        duration=args.duration or (8.0 if quick else 20.0),
        evses=args.evses or (8_000 if quick else 100_000),
        clients=args.clients,
        search_duration=args.search_duration or (8.0 if quick else 20.0),
        search_database=args.search_database,
        json=args.json,
        keep_logs=args.keep_logs,
    )
    if not 1 <= options.subscribers <= 10_000 or not 1 <= options.connections <= 1000:
        parser.error("--subscribers must be 1..10000 and --connections 1..1000")
    if not 0.1 <= options.rate <= 200 or not 1 <= options.duration <= 600:
        parser.error("--rate must be 0.1..200 and --duration 1..600 s")
    if not 4 <= options.evses <= 1_000_000 or not all(1 <= c <= 64 for c in options.clients):
        parser.error("--evses must be 4..1000000 and --clients 1..64")
    if not 1 <= options.search_duration <= 600 or not 1 <= options.locations <= 1000:
        parser.error("--search-duration must be 1..600 s and --locations 1..1000")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse(argv)
    try:
        return asyncio.run(main_async(options))
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
