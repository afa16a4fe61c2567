"""What the figures were measured on, and how busy each process was (from /proc)."""

from __future__ import annotations

import os
import platform
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TICKS = os.sysconf("SC_CLK_TCK")


def _first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def describe() -> dict[str, Any]:
    memory_kb = _first("/proc/meminfo", "MemTotal")
    try:
        loadavg = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        loadavg = []
    return {
        "cpu": _first("/proc/cpuinfo", "model name"),
        "nproc": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(memory_kb.split()[0]) / 1024 / 1024, 1)
        if memory_kb[:1].isdigit()
        else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "loadavg_at_start": loadavg,
    }


def process_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree_seconds(pid: int) -> float:
    """CPU seconds of a process and of every live descendant (a server's worker processes)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [pid]
    for _ in range(10_000):
        if not todo:
            break
        current = todo.pop()
        total += process_seconds(current)
        todo.extend(parents.get(current, []))
    return total


def backends(database: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving ``database`` (found by process title)."""
    found: dict[int, float] = {}
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if title.startswith(b"postgres: ") and marker in title:
            found[int(entry.name)] = process_seconds(int(entry.name))
    return found


class BackendTracker:
    """PostgreSQL backends come and go (pool overflow); sampling often catches their CPU."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.started = False

    def sample(self) -> None:
        for pid, seconds in backends(self.database).items():
            self.first.setdefault(pid, seconds if not self.started else 0.0)
            self.last[pid] = seconds
        self.started = True

    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)

    def opened(self) -> int:
        """Backends that appeared after the first sample: connections opened meanwhile."""
        return sum(1 for value in self.first.values() if value == 0.0)


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores together."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / TICKS, sum(fields) / TICKS


@dataclass
class CpuSample:
    processes: dict[str, float]
    busy: float

    @classmethod
    def take(cls, pids: dict[str, int], postgres: BackendTracker | None = None) -> CpuSample:
        processes = {name: tree_seconds(pid) for name, pid in pids.items()}
        if postgres is not None:
            postgres.sample()
            processes["postgres"] = postgres.seconds()
        return cls(processes, machine_busy()[0])

    def cores_until(self, later: CpuSample, seconds: float) -> dict[str, float]:
        """Average cores each process used between the two samples, and the machine's."""
        # A process that ended before the second sample (0 seconds) is left out.
        used = {
            name: round((later.processes[name] - value) / seconds, 2)
            for name, value in self.processes.items()
            if later.processes.get(name, 0.0) > 0.0
        }
        used["machine"] = round((later.busy - self.busy) / seconds, 2)
        return used
