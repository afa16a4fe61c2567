"""``incar demo`` as a user runs it: the hub and simulated parties on the Helsinki map.

Its simulated clock runs far ahead of the wall clock (speed 3600: an hour a second), and the
hub bounds the last_updated it accepts by its own clock: the demo's hub keeps the simulated
time, so nothing the parties push is refused. Its probe cars report where they drove, and
the demo says what the live traffic store holds and what the route through its jam takes.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.databases import fresh_database
from tests.support.hub_process import free_port, incar_env, run_incar


async def test_the_demo_runs_ahead_of_the_wall_clock_and_nothing_is_refused(
    tmp_path: Path,
) -> None:
    async with fresh_database() as database_url:
        env = incar_env(
            database_url,
            tmp_path,
            free_port(),
            INCAR_MAX_CLOCK_SKEW="60",
            INCAR_SUBGRAPHS_PORT=str(free_port()),
            INCAR_GATEWAY_PORT=str(free_port()),
        )
        done = await run_incar(
            "demo", "--cpos", "1", "--emsps", "1", "--speed", "3600", "--duration", "21", env=env
        )
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr
    progress = re.findall(
        r"(\d+) EVSE status changes, (\d+) sessions, (\d+) CDRs, (\d+) command results, "
        r"(\d+) failed pushes",
        done.stdout,
    )
    assert progress, done.stdout
    changes, sessions, _, _, failed = (int(n) for n in progress[-1])
    assert failed == 0, done.stdout
    assert changes > 0 and sessions > 0, done.stdout
    # The graph runs beside it, with what a developer needs to try it.
    assert f"GraphiQL: http://127.0.0.1:{env['INCAR_GATEWAY_PORT']}/graphql" in done.stdout
    assert re.search(
        r"incar login http://127\.0\.0\.1:\d+/realms/emsp-fi-em1 --user driver1", done.stdout
    )
    # Live traffic from the probe cars: their traces accepted by the probe endpoint, none
    # refused, the store's contents and the route through the jam (at an hour a second a
    # speed's 15 minutes to live are a quarter of a real second: the store may be empty).
    traffic = re.findall(
        r"traffic at the end: (\d+) car trips, (\d+) traces accepted, (\d+) refused, "
        r"\d+ speeds kept; live now: (.+)",
        done.stdout,
    )
    assert traffic, done.stdout
    trips, accepted, refused, _ = traffic[-1]
    assert int(trips) > 0 and int(accepted) > 0 and int(refused) == 0, done.stdout
    assert re.search(r"route through the jam: \d+ s on live traffic, \d+ s usual", done.stdout)
    assert "{ routes(from: {coordinates: {latitude: 60.1679" in done.stdout
