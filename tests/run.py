"""The project's one test command (``./dev test``): lint, types, then the suite twice.

The suite runs once on SQLite (the embedded default) and once on PostgreSQL
(``INCAR_TEST_POSTGRES_URL``, default the local server). Extra arguments go to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

POSTGRES = os.environ.get(
    "INCAR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)


def step(title: str, command: list[str], env: dict[str, str] | None = None) -> None:
    started = time.monotonic()
    print(f"\n=== {title}: {' '.join(command)}", flush=True)
    code = subprocess.call(command, env={**os.environ, **(env or {})})
    print(f"=== {title}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
    if code != 0:
        sys.exit(code)


def main() -> None:
    extra = sys.argv[1:]
    python = sys.executable
    step("ruff", [python, "-m", "ruff", "check", "."])
    step("ruff format", [python, "-m", "ruff", "format", "--check", "."])
    step("mypy", [python, "-m", "mypy", "."])
    # Two workers (the machines have two cores), each taking whole modules: a module's shared
    # servers stay in one process. INCAR_TEST_WORKERS=0 runs the suite in one process.
    workers = os.environ.get("INCAR_TEST_WORKERS", "2")
    parallel = ["-n", workers, "--dist", "loadfile"] if workers != "0" else []
    pytest = [python, "-m", "pytest", "-q", *parallel, *extra]
    step("pytest on SQLite", pytest, {"INCAR_DATABASE_URL": ""})
    step("pytest on PostgreSQL", pytest, {"INCAR_DATABASE_URL": POSTGRES})


if __name__ == "__main__":
    main()
