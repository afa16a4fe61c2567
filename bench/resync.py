"""How long an eMSP that was down takes to be cued and back in sync, with nothing missing.

    .venv/bin/python -m bench.resync [--database sqlite|postgres|both] [--runs N]
        [--rate R] [--down S] [--quiet-after]

Issue 9's promise: every copy the hub owes after acknowledging a change is delivered, or its
receiver is told to resynchronise (docs/policies.md, "Owed copies and resynchronisation"). A
strict CPO sends a burst of Location changes through the hub at ``--rate`` changes a second;
at a random moment of the hub's still-alive cycle (``--seed``), the eMSP (a mirror that keeps
its own copy and GETs on the cue, as a real one does) stops serving for ``--down`` seconds,
then serves again at the same address. Each run prints, from the moment it serves again: when
the cue came (ClientInfo CONNECTED after OFFLINE), when its GET All from the cue's ``since``
was done, how many copies it missed, and whether its copy then equals the hub's (``missing``
must be 0).

The hub runs with its deployed defaults (``Settings``' still-alive check period and OFFLINE
probe, owed-copy poll, forward timeout), in this process on loopback: the figure of interest
is the policy's delay, not CPU. A connection error makes the eMSP OFFLINE, and an OFFLINE
party gets no copies, so its return is noticed by a ping: the probe of OFFLINE platforms
(every 5 s) or the still-alive round (every 30 s). The outage starts at a uniformly random
point of the round's cycle, else every run of a freshly started hub would see the same phase.
With ``--quiet-after`` the burst ends while the eMSP is down.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass

from bench.machine import describe
from incar.settings import Settings
from tests.conformance.support import register_all, serving_again
from tests.peers.strict.peer import running_peer
from tests.support.hub import running_hub
from tests.support.location_burst import Burst
from tests.support.mirror import Mirror, hub_locations

CPO = ("NL", "CPR")
EMSP = ("DE", "EMR")
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
LOCATIONS = 10
FIRST_DOWN = 3.0  # seconds into the burst, at the least
# The deployed defaults (the tests' hub turns the background checks off).
CHECK_PERIOD = Settings.still_alive_check_period
PROBE_PERIOD = Settings.offline_probe_period


@dataclass
class Run:
    cue_s: float  # from serving again to the CONNECTED cue
    resynced_s: float  # from serving again to the end of its GET All
    missed: int  # copies the hub owed it that it did not take
    missing: int  # Locations that differ from the hub's once it resynced
    changes: int


async def one_run(*, rate: float, down: float, quiet_after: bool, phase: float) -> Run:
    down_after = FIRST_DOWN + phase
    # The burst's length: through the outage and on for a while, or ending within it.
    seconds = down_after + (down / 2 if quiet_after else down + 5.0)
    patches = max(1, round(seconds * rate / LOCATIONS) - 1)
    async with (
        running_hub(
            still_alive_check_period=CHECK_PERIOD, offline_probe_period=PROBE_PERIOD
        ) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
    ):
        async with running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp:
            await register_all(hub, cpo, emsp)
            mirror = Mirror(emsp, hub.endpoint("locations", "sender")).attach()
            burst = Burst(
                cpo, hub.endpoint("locations", "receiver"), LOCATIONS, patches, rate, prefix="R"
            )
            running = asyncio.create_task(burst.run())
            await asyncio.sleep(down_after)
        await asyncio.sleep(down)
        async with serving_again(emsp):
            up = time.monotonic()
            cue = await _first_cue(mirror, within=120.0)
            await mirror.settled()
            resynced = time.monotonic()
            changes = await running
            await mirror.settled()  # a later cue's GET, if the burst went on failing
            hub_copy = await hub_locations(emsp, hub.endpoint("locations", "sender"))
    acknowledged = [c for c in changes if c.acknowledged]
    missed = sum(1 for c in acknowledged if not mirror.took(c.method, c.copy_path, c.body))
    missing = sum(1 for key, value in hub_copy.items() if mirror.locations.get(key) != value)
    missing += sum(1 for key in mirror.locations if key not in hub_copy)
    return Run(cue - up, resynced - up, missed, missing, len(acknowledged))


async def _first_cue(mirror: Mirror, *, within: float) -> float:
    deadline = time.monotonic() + within
    while not mirror.cues:
        if time.monotonic() > deadline:
            raise SystemExit(f"bench.resync: no cue within {within:.0f} s of the eMSP's return")
        await asyncio.sleep(0.005)
    return time.monotonic()


def _summary(runs: list[Run]) -> str:
    cue = [r.cue_s for r in runs]
    done = [r.resynced_s for r in runs]
    return (
        f"cue p50 {statistics.median(cue):.2f} s max {max(cue):.2f} s; "
        f"in sync p50 {statistics.median(done):.2f} s max {max(done):.2f} s; "
        f"missed copies {sum(r.missed for r in runs)} of {sum(r.changes for r in runs)}; "
        f"missing after resync {sum(r.missing for r in runs)}"
    )


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.resync", description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second")
    parser.add_argument("--down", type=float, default=10.0, help="seconds the eMSP is down")
    parser.add_argument("--quiet-after", action="store_true", help="the burst ends while down")
    parser.add_argument("--seed", type=int, default=1, help="of the outages' phases")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args(argv)
    if args.runs < 1 or args.rate <= 0 or args.down <= 0:
        parser.error("--runs, --rate and --down must be positive")
    print(f"machine: {describe()}", flush=True)
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    phases = random.Random(args.seed)
    missing = 0
    for database in databases:
        os.environ["INCAR_DATABASE_URL"] = "" if database == "sqlite" else args.postgres_url
        runs = []
        for n in range(args.runs):
            phase = phases.uniform(0.0, CHECK_PERIOD)
            run = await one_run(
                rate=args.rate, down=args.down, quiet_after=args.quiet_after, phase=phase
            )
            print(
                f"{database} run {n + 1} (down {FIRST_DOWN + phase:.1f} s in): "
                f"cue {run.cue_s:.2f} s, in sync {run.resynced_s:.2f} s after the eMSP's "
                f"return; missed {run.missed} of {run.changes}, missing {run.missing}",
                flush=True,
            )
            runs.append(run)
            missing += run.missing
        print(f"{database}: {_summary(runs)}", flush=True)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
