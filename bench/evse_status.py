"""Benchmark of the hub's hottest path: EVSE status PATCHes broadcast to three eMSPs.

    .venv/bin/python -m bench.evse_status [--database sqlite|postgres|both] [--duration S]
        [--warmup S] [--concurrency N [N ...]] [--cpos N] [--json FILE] [--py-spy PATH]

For every database and concurrency level: a fresh database, the hub as deployed
(``incar serve`` in its own process), three eMSPs (``bench.emsps``, one process) and the CPOs'
load generator (``bench.cpos``, one process), all on loopback. Platforms are onboarded with
``incar platform add`` and register through the real credentials handshake. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy.engine.url import make_url

from bench.common import LOOPBACK, free_port, now_ns, require_loopback
from bench.machine import BackendTracker, CpuSample, describe

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
EMSP_PARTIES = ("EMA", "EMB", "EMC")
Platform = tuple[str, str, str]  # role, country code, party id
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


class BenchError(RuntimeError):
    """A step of the run failed; the message says which."""


@dataclass
class Options:
    database: str
    duration: float
    warmup: float
    concurrency: list[int]
    cpos: int
    locations_per_cpo: int
    evses_per_location: int
    postgres_url: str
    json: Path | None
    py_spy: Path | None
    profile_dir: Path
    keep_logs: bool
    targets: list[str]
    rounds: int
    workers: list[int]


# --- databases -------------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def database(kind: str, folder: Path, admin_url: str) -> AsyncIterator[tuple[str, str]]:
    """A fresh database: (SQLAlchemy URL, the server's version); a PostgreSQL one is dropped."""
    if kind == "sqlite":
        import sqlite3

        yield f"sqlite+aiosqlite:///{folder / 'incar.db'}", f"SQLite {sqlite3.sqlite_version}"
        return
    parsed = make_url(admin_url)
    require_loopback(f"http://{parsed.host or LOOPBACK}")
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"incar_bench_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin)
    try:
        version = await connection.fetchval("SHOW server_version")
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield (
            parsed.set(database=name).render_as_string(hide_password=False),
            f"PostgreSQL {version}",
        )
    finally:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


# --- child processes -------------------------------------------------------------------------
@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def event(self, wanted: str, within: float) -> dict[str, Any]:
        """The next JSON line announcing ``wanted`` on the child's stdout."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + within
        for _ in range(10_000):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = await asyncio.wait_for(self.process.stdout.readline(), remaining)
            except TimeoutError:
                break
            if not line:
                raise BenchError(f"{self.name} ended early:\n{self.tail()}")
            with contextlib.suppress(orjson.JSONDecodeError):
                message = orjson.loads(line)
                if isinstance(message, dict) and message.get("event") == wanted:
                    return message
        raise BenchError(f"{self.name} did not report {wanted!r} in {within:g} s:\n{self.tail()}")

    def tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self, grace: float = 15.0) -> None:
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


async def spawn(name: str, args: Sequence[str], env: dict[str, str], folder: Path) -> Child:
    log = folder / f"{name}.log"
    process = await asyncio.create_subprocess_exec(
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=log.open("wb"),
        stdin=asyncio.subprocess.DEVNULL,
    )
    return Child(name, process, log)


def hub_environment(database_url: str, port: int, folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INCAR_")}
    env.update(
        INCAR_DATABASE_URL=database_url,
        INCAR_HOST=LOOPBACK,
        INCAR_PORT=str(port),
        INCAR_DATA_DIR=str(folder / "data"),
        PYTHONUNBUFFERED="1",
    )
    return env


async def wait_until_up(url: str, hub: Child, within: float = 90.0) -> None:
    """Any HTTP answer on the versions URL (401 without a token) means the hub is serving."""
    async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
        for _ in range(int(within / 0.2)):
            if hub.process.returncode is not None:
                raise BenchError(f"the hub exited:\n{hub.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                await client.get(url)
                return
            await asyncio.sleep(0.2)
    raise BenchError(f"the hub did not answer within {within:g} s:\n{hub.tail()}")


async def onboard(env: dict[str, str], role: str, country: str, party: str) -> str:
    """``incar platform add``: the platform's registration token A."""
    process = await asyncio.create_subprocess_exec(
        str(BIN / "incar"),
        "platform",
        "add",
        "--role",
        role,
        "--country",
        country,
        "--party",
        party,
        "--name",
        f"Bench {role} {country}*{party}",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    if process.returncode != 0:
        raise BenchError(f"incar platform add {party} failed: {err.decode()[-500:]}")
    return str(json.loads(out)["token"])


async def onboard_all(env: dict[str, str], platforms: list[tuple[str, str, str]]) -> list[str]:
    gate = asyncio.Semaphore(4)

    async def one(role: str, country: str, party: str) -> str:
        async with gate:
            return await onboard(env, role, country, party)

    return list(await asyncio.gather(*(one(*p) for p in platforms)))


# --- one run ---------------------------------------------------------------------------------
async def emsp_stats(control_url: str, window: tuple[int, int]) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        answer = await client.get(
            f"{require_loopback(control_url)}/stats",
            params={"from_ns": window[0], "to_ns": window[1]},
        )
    stats: list[dict[str, Any]] = answer.json()
    return stats


async def settled_stats(control_url: str, window: tuple[int, int]) -> list[dict[str, Any]]:
    """eMSP counts once the fan-out has caught up (no new copies for 2 s, at most 30 s)."""
    last: list[int] = []
    stats: list[dict[str, Any]] = []
    steady = 0
    for _ in range(60):
        stats = await emsp_stats(control_url, window)
        counts = [s["copies_total"] for s in stats]
        steady = steady + 1 if counts == last else 0
        if steady >= 4:
            break
        last = counts
        await asyncio.sleep(0.5)
    return stats


async def emsp_last_copy(control_url: str, window: tuple[int, int]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        answer = await client.get(
            f"{require_loopback(control_url)}/last-copy",
            params={"from_ns": window[0], "to_ns": window[1]},
        )
    found: dict[str, Any] = answer.json()
    return found


def cpo_parties(count: int) -> list[str]:
    if not 1 <= count <= 100:
        raise BenchError("--cpos must be between 1 and 100")
    return [f"C{n:02d}" for n in range(count)]


async def start_hub(
    env: dict[str, str], folder: Path, versions_url: str, workers: int, platforms: list[Platform]
) -> tuple[Child, list[str]]:
    """``incar serve`` as deployed, and the platforms onboarded with ``incar platform add``."""
    args = [str(BIN / "incar"), "serve", "--hub-only"]
    if workers > 1:
        args += ["--workers", str(workers)]
    hub = await spawn("hub", args, env, folder)
    await wait_until_up(versions_url, hub)
    return hub, await onboard_all(env, platforms)


async def spawn_child(
    module: str, folder: Path, env: dict[str, str], config: dict[str, Any]
) -> Child:
    """``python -m bench.MODULE CONFIG.json``, its log in ``folder``."""
    path = folder / f"{module}.json"
    path.write_bytes(orjson.dumps(config))
    return await spawn(module, [sys.executable, "-m", f"bench.{module}", str(path)], env, folder)


async def start_floor(
    env: dict[str, str],
    folder: Path,
    *,
    port: int,
    database_url: str,
    options: Options,
    workers: int,
    platforms: list[Platform],
) -> tuple[Child, list[str]]:
    """``bench.floor`` on the same port and database, with tokens A issued here."""
    tokens = [secrets.token_urlsafe(24) for _ in platforms]
    floor = await spawn_child(
        "floor",
        folder,
        env,
        {
            "url": f"http://{LOOPBACK}:{port}",
            "port": port,
            "database_url": database_url,
            "tokens_a": dict(zip(tokens, platforms, strict=True)),
            "workers": workers,
            "max_seconds": options.warmup + options.duration + 900,
        },
    )
    await floor.event("ready", 60)
    return floor, tokens


async def run_one(
    options: Options, kind: str, concurrency: int, target: str = "hub", workers: int = 1
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="incar-bench-") as tmp:
        folder = Path(tmp)
        async with database(kind, folder, options.postgres_url) as (url, version):
            port = free_port()
            env = hub_environment(url, port, folder)
            hub_url = f"http://{LOOPBACK}:{port}"
            versions_url = f"{hub_url}/ocpi/versions"
            children: list[Child] = []
            try:
                cpos = cpo_parties(options.cpos)
                platforms: list[Platform] = [("EMSP", "DE", p) for p in EMSP_PARTIES] + [
                    ("CPO", "NL", p) for p in cpos
                ]
                if target == "hub":
                    hub, tokens = await start_hub(env, folder, versions_url, workers, platforms)
                else:
                    hub, tokens = await start_floor(
                        env,
                        folder,
                        port=port,
                        database_url=url,
                        options=options,
                        workers=workers,
                        platforms=platforms,
                    )
                children.append(hub)
                emsps = await spawn_child(
                    "emsps",
                    folder,
                    env,
                    {
                        "hub_versions_url": versions_url,
                        "parties": list(EMSP_PARTIES),
                        "tokens": tokens[: len(EMSP_PARTIES)],
                        "max_seconds": options.warmup + options.duration + 600,
                    },
                )
                children.append(emsps)
                control_url = (await emsps.event("ready", 60))["control_url"]
                load = await spawn_child(
                    "cpos",
                    folder,
                    env,
                    {
                        "hub_versions_url": versions_url,
                        "cpos": list(zip(cpos, tokens[len(EMSP_PARTIES) :], strict=True)),
                        "locations_per_cpo": options.locations_per_cpo,
                        "evses_per_location": options.evses_per_location,
                        "concurrency": concurrency,
                        "warmup": options.warmup,
                        "duration": options.duration,
                        "max_seconds": options.warmup + options.duration + 300,
                    },
                )
                children.append(load)
                ready = await load.event("ready", 180)
                measuring = await load.event("measuring", options.warmup + 60)
                pids = {target: hub.pid, "load generator": load.pid, "emsps": emsps.pid}
                pg_name = make_url(url).database if kind == "postgres" else None
                tracker = BackendTracker(pg_name) if pg_name else None
                before = CpuSample.take(pids, tracker)
                profiler = await start_profiler(options, hub.pid, f"{target}-{kind}", concurrency)
                end_ns = int(measuring["measure_to_ns"])
                for _ in range(int(options.duration / 0.5) + 2):
                    remaining = (end_ns - now_ns()) / 1e9
                    if remaining <= 0:
                        break
                    await asyncio.sleep(min(0.5, remaining))
                    if tracker is not None:
                        tracker.sample()
                after = CpuSample.take(pids, tracker)
                opened = tracker.opened() if tracker is not None else None
                result = await load.event("result", 120)
                if profiler is not None:
                    await asyncio.wait_for(profiler.wait(), 60)
                window = (int(result["measure_from_ns"]), int(result["measure_to_ns"]))
                copies = await settled_stats(control_url, window)
                last_copy = await emsp_last_copy(control_url, window)
            finally:
                for child in reversed(children):
                    await child.stop()
                log_file = folder / f"{target}.log"
                hub_log = log_file.read_text(errors="replace") if log_file.exists() else ""
                if options.keep_logs:
                    keep_logs(folder, options.profile_dir / f"logs-{target}-{kind}-c{concurrency}")
    return summarize(
        options,
        target=target,
        workers=workers,
        last_copy=last_copy,
        kind=kind,
        version=version,
        concurrency=concurrency,
        ready=ready,
        result=result,
        copies=copies,
        cores=before.cores_until(after, options.duration),
        hub_log=hub_log,
        pg_connections_opened=opened,
    )


def keep_logs(folder: Path, keep: Path) -> None:
    keep.mkdir(parents=True, exist_ok=True)
    for log in folder.glob("*.log"):
        (keep / log.name).write_bytes(log.read_bytes())


async def start_profiler(
    options: Options, pid: int, kind: str, concurrency: int
) -> asyncio.subprocess.Process | None:
    if options.py_spy is None:
        return None
    options.profile_dir.mkdir(parents=True, exist_ok=True)
    out = options.profile_dir / f"hub-{kind}-c{concurrency}.txt"
    return await asyncio.create_subprocess_exec(
        str(options.py_spy),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, int(options.duration) - 1)),
        "--rate",
        "100",
        "--format",
        "raw",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


def summarize(
    options: Options,
    *,
    target: str,
    workers: int,
    last_copy: dict[str, Any],
    kind: str,
    version: str,
    concurrency: int,
    ready: dict[str, Any],
    result: dict[str, Any],
    copies: list[dict[str, Any]],
    cores: dict[str, float],
    hub_log: str,
    pg_connections_opened: int | None,
) -> dict[str, Any]:
    sent = int(result["sent"])
    log_problems = [
        line for line in hub_log.splitlines() if " ERROR " in line or " WARNING " in line
    ]
    acked = int(result["acked"])
    per_patch = 1000 * options.duration / acked if acked else None
    return {
        "target": target,
        "workers": workers,
        "database": version,
        "concurrency": concurrency,
        "cpos": ready["cpos"],
        "locations": ready["locations"],
        "evses": ready["evses"],
        "warmup_s": options.warmup,
        "duration_s": options.duration,
        "patches_sent": sent,
        "patches_acked": int(result["acked"]),
        "patches_per_s": round(int(result["acked"]) / options.duration, 1),
        "latency_ms": result["latency"],
        "errors": result["errors"],
        "error_examples": result["error_examples"],
        "emsps": [
            {
                "party": c["party"],
                "copies": c["copies"],
                "delivered": round(c["copies"] / sent, 4) if sent else 0.0,
                "lag_ms": c["lag"],
                "unauthorized": c["unauthorized"],
            }
            for c in copies
        ],
        "cpu_cores": cores,
        # CPU ms of the server's process (all its workers) and of PostgreSQL's backends per
        # acknowledged PATCH, its three copies included.
        "cpu_ms_per_patch": round(cores.get(target, 0.0) * per_patch, 2) if per_patch else None,
        "postgres_ms_per_patch": round(cores["postgres"] * per_patch, 2)
        if per_patch and "postgres" in cores
        else None,
        # From the CPO sending the PATCH to its copy reaching the last of the three eMSPs.
        "last_copy": last_copy,
        "pg_connections_opened": pg_connections_opened,
        "hub_log_problems": len(log_problems),
        "hub_log_examples": log_problems[:5],
        "profiled": options.py_spy is not None,
    }


# --- reporting -------------------------------------------------------------------------------
def report_machine(machine: dict[str, Any]) -> None:
    print(
        f"machine: {machine['cpu']}, {machine['nproc']} cores, {machine['memory_gib']} GiB, "
        f"Linux {machine['kernel']}, Python {machine['python']}, "
        f"load average at start {' '.join(machine['loadavg_at_start'])}"
    )
    print("databases: " + ", ".join(machine.get("databases", [])))


def report_run(run: dict[str, Any]) -> None:
    latency = run["latency_ms"]
    print(
        f"\n== {run['target']} ({run['workers']} worker{'s' if run['workers'] > 1 else ''}), "
        f"{run['database']}, concurrency {run['concurrency']}, {run['cpos']} CPOs, "
        f"{run['evses']} EVSEs, {run['duration_s']:g} s measured after {run['warmup_s']:g} s"
        f" warm-up{' (under py-spy)' if run['profiled'] else ''}"
    )
    print(
        f"  PATCH acknowledged with 1000: {run['patches_per_s']:.0f}/s "
        f"({run['patches_acked']} of {run['patches_sent']} sent)"
    )
    print(
        f"  PATCH latency at the CPO: p50 {latency['p50_ms']} ms, p90 {latency['p90_ms']} ms, "
        f"p99 {latency['p99_ms']} ms, max {latency['max_ms']} ms"
    )
    for emsp in run["emsps"]:
        lag = emsp["lag_ms"]
        print(
            f"  eMSP {emsp['party']}: {emsp['copies']} copies ({emsp['delivered']:.1%} of sent);"
            f" fan-out lag p50 {lag['p50_ms']} ms, p90 {lag['p90_ms']} ms, "
            f"p99 {lag['p99_ms']} ms, max {lag['max_ms']} ms"
        )
    errors = ", ".join(f"{k}: {v}" for k, v in run["errors"].items()) or "none"
    print(f"  errors: {errors}; hub log warnings/errors: {run['hub_log_problems']}")
    for example in run["error_examples"][:2] + run["hub_log_examples"][:2]:
        print(f"    e.g. {example}")
    cores = ", ".join(f"{k} {v}" for k, v in run["cpu_cores"].items())
    print(f"  CPU cores used: {cores}")
    last = run["last_copy"]
    postgres = run["postgres_ms_per_patch"]
    print(
        f"  CPU per PATCH: {run['target']} {run['cpu_ms_per_patch']} ms"
        + (f", PostgreSQL {postgres} ms" if postgres is not None else "")
        + f"; CPO request to last eMSP's copy: p50 {last['lag']['p50_ms']} ms, "
        f"p99 {last['lag']['p99_ms']} ms ({last['patches']} PATCHes reached all three, "
        f"{last['incomplete']} not)"
    )
    if run["pg_connections_opened"] is not None:
        print(f"  PostgreSQL connections opened while measuring: {run['pg_connections_opened']}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def comparisons(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per database, workers and concurrency: the hub's runs beside the floor's (means over the
    rounds), and the ratio of their CPU per PATCH."""
    groups: dict[tuple[str, int, int], dict[str, list[dict[str, Any]]]] = {}
    for run in runs:
        key = (run["database"], run["workers"], run["concurrency"])
        groups.setdefault(key, {}).setdefault(run["target"], []).append(run)
    found = []
    for (db, workers, concurrency), by_target in groups.items():
        row: dict[str, Any] = {"database": db, "workers": workers, "concurrency": concurrency}
        for target, its in by_target.items():
            row[target] = {
                "runs": len(its),
                "patches_per_s": round(_mean([r["patches_per_s"] for r in its]), 1),
                "cpu_ms_per_patch": round(_mean([r["cpu_ms_per_patch"] or 0 for r in its]), 2),
                "postgres_ms_per_patch": round(
                    _mean([r["postgres_ms_per_patch"] or 0 for r in its]), 2
                )
                if its[0]["postgres_ms_per_patch"] is not None
                else None,
                "last_copy_p50_ms": round(_mean([r["last_copy"]["lag"]["p50_ms"] for r in its]), 1),
                "last_copy_p99_ms": round(_mean([r["last_copy"]["lag"]["p99_ms"] for r in its]), 1),
            }
        if "hub" in row and "floor" in row and row["floor"]["cpu_ms_per_patch"]:
            row["ratio"] = round(
                row["hub"]["cpu_ms_per_patch"] / row["floor"]["cpu_ms_per_patch"], 2
            )
        found.append(row)
    return found


def report_comparisons(rows: list[dict[str, Any]]) -> None:
    print("\n== hub beside the floor (means over the rounds; ratio = hub / floor CPU per PATCH)")
    print(
        "database | workers | in flight | target | PATCH/s | CPU ms/PATCH | PostgreSQL ms/PATCH"
        " | last copy p50 / p99 ms | ratio"
    )
    for row in rows:
        for target in ("hub", "floor"):
            if target not in row:
                continue
            its = row[target]
            postgres = its["postgres_ms_per_patch"]
            print(
                f"{row['database']} | {row['workers']} | {row['concurrency']} | {target} | "
                f"{its['patches_per_s']:.0f} | {its['cpu_ms_per_patch']:.2f} | "
                f"{'-' if postgres is None else f'{postgres:.2f}'} | "
                f"{its['last_copy_p50_ms']} / {its['last_copy_p99_ms']} | "
                f"{row.get('ratio', '-') if target == 'hub' else ''}"
            )
    by_key = {(r["database"], r["concurrency"], r["workers"]): r for r in rows}
    for (db, concurrency, workers), row in by_key.items():
        one = by_key.get((db, concurrency, 1))
        if workers == 1 or one is None:
            continue
        for target in ("hub", "floor"):
            if target in row and target in one and one[target]["patches_per_s"]:
                scale = row[target]["patches_per_s"] / one[target]["patches_per_s"]
                print(f"{db}, {target}: {workers} workers give {scale:.2f}x the PATCH/s of one")


async def main_async(options: Options) -> int:
    machine = describe()
    kinds = ["sqlite", "postgres"] if options.database == "both" else [options.database]
    runs: list[dict[str, Any]] = []
    for kind in kinds:
        for workers in options.workers:
            for concurrency in options.concurrency:
                for _ in range(options.rounds):
                    for target in options.targets:
                        run = await run_one(options, kind, concurrency, target, workers)
                        runs.append(run)
                        machine.setdefault("databases", [])
                        if run["database"] not in machine["databases"]:
                            machine["databases"].append(run["database"])
                        if len(runs) == 1:
                            report_machine({**machine, "databases": []})
                        report_run(run)
    rows = comparisons(runs)
    report_comparisons(rows)
    machine["loadavg_at_end"] = [f"{value:.2f}" for value in os.getloadavg()]
    print("\ndatabases: " + ", ".join(machine.get("databases", [])))
    print(f"load average at end: {' '.join(machine['loadavg_at_end'])}")
    if options.json is not None:
        options.json.write_bytes(
            orjson.dumps(
                {"machine": machine, "runs": runs, "comparisons": rows},
                option=orjson.OPT_INDENT_2,
            )
        )
        print(f"results written to {options.json}")
    return 0


def parse(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.evse_status",
        description="EVSE status PATCHes from CPOs through the hub, broadcast to three eMSPs",
    )
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds (20)")
    parser.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds (5)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[32], help="PATCHes in flight (32)"
    )
    parser.add_argument("--cpos", type=int, default=10, help="simulated CPOs (10)")
    parser.add_argument("--locations-per-cpo", type=int, default=25)
    parser.add_argument("--evses-per-location", type=int, default=2)
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help=f"an admin URL on the server to create the database in ({DEFAULT_POSTGRES})",
    )
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument(
        "--py-spy", type=Path, help="py-spy executable: record the hub during the measured phase"
    )
    parser.add_argument("--profile-dir", type=Path, default=Path("var/bench"))
    parser.add_argument("--keep-logs", action="store_true", help="copy the processes' logs")
    parser.add_argument(
        "--target",
        choices=["hub", "floor", "both"],
        default="both",
        help="the hub, the floor (bench/floor.py), or both in alternating runs (both)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternations of hub and floor per setting (1)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="server processes (1); more than 1 needs `incar serve --workers`",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.duration <= 3600 or not 0 <= args.warmup <= 600:
        parser.error("--duration must be 1..3600 s and --warmup 0..600 s")
    if any(not 1 <= c <= 1000 for c in args.concurrency):
        parser.error("--concurrency must be 1..1000")
    if args.cpos * args.locations_per_cpo < max(args.concurrency):
        parser.error("need at least as many locations (cpos x locations-per-cpo) as concurrency")
    if not 1 <= args.rounds <= 20 or any(not 1 <= w <= 16 for w in args.workers):
        parser.error("--rounds must be 1..20 and --workers 1..16")
    if not 1 <= args.evses_per_location <= 50 or not 1 <= args.locations_per_cpo <= 1000:
        parser.error("--evses-per-location must be 1..50 and --locations-per-cpo 1..1000")
    return Options(
        database=args.database,
        duration=args.duration,
        warmup=args.warmup,
        concurrency=args.concurrency,
        cpos=args.cpos,
        locations_per_cpo=args.locations_per_cpo,
        evses_per_location=args.evses_per_location,
        postgres_url=args.postgres_url,
        json=args.json,
        py_spy=args.py_spy,
        profile_dir=args.profile_dir,
        keep_logs=args.keep_logs,
        targets=["hub", "floor"] if args.target == "both" else [args.target],
        rounds=args.rounds,
        workers=args.workers,
    )


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
