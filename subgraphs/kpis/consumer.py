"""The KPI consumer: a durable consumer of the event log (``incar.events.consumer``) that adds
each event to its CPO's hour. The rows and the consumer's position are written in one
transaction, so every event counts exactly once across restarts and crashes.

Which process runs it: every process that serves the kpis subgraph starts it (``incar serve``
runs the subgraphs once, beside any number of hub workers). Should two run at once (two
``incar subgraph kpis``), the position guard lets one apply each batch; the other gets
ConsumerConflict, applies nothing, and starts again from the stored position.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from incar.events import log as event_log
from incar.events.consumer import Consumer, ConsumerConflict
from incar.events.event import Event
from incar.runtime import Runtime
from subgraphs.kpis.models import KpiHour

_log = logging.getLogger("incar.kpis")

NAME = "kpis"
TABLE = KpiHour.__table__  # type: ignore[attr-defined]

# The topics' names as their publishers spell them (subgraphs/*/service.py).
EVSE_STATUS = "locations.evse.status"
SESSION = "sessions.session"
CDR = "accounting.cdr"
TOPICS = (EVSE_STATUS, SESSION, CDR)

SESSIONS_STARTED = "sessions_started"
CDRS = "cdrs"
ENERGY_KWH = "energy_kwh"
STATUS_PREFIX = "evse_status:"

#: Seconds before starting again after a failure (a database hiccup, another instance).
RETRY = 1.0

type Key = tuple[str, str, datetime, str]


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def tally(events: Iterable[Event]) -> dict[Key, float]:
    """What ``events`` add, per CPO, hour and measure. Events without a CPO are skipped
    (every publisher sends one; the log keeps what it was given)."""
    added: defaultdict[Key, float] = defaultdict(float)
    for event in events:
        payload = event.payload
        cc, pid = payload.get("country_code"), payload.get("party_id")
        if not isinstance(cc, str) or not isinstance(pid, str):
            continue
        at = (cc.upper(), pid.upper(), hour_of(event.occurred_at))
        if event.topic == EVSE_STATUS and isinstance(payload.get("status"), str):
            added[(*at, STATUS_PREFIX + payload["status"])] += 1
        elif event.topic == SESSION and payload.get("change") == "created":
            added[(*at, SESSIONS_STARTED)] += 1
        elif event.topic == CDR:
            added[(*at, CDRS)] += 1
            energy = _number(payload.get("total_energy"))
            if energy is not None:
                added[(*at, ENERGY_KWH)] += energy
    return added


async def apply(tx: AsyncSession, events: Sequence[Event]) -> None:
    """Adds ``events`` to the rows, in the consumer's transaction (one upsert)."""
    added = tally(events)
    if not added:
        return
    dialect = postgresql if tx.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(TABLE).values(
        [
            {"country_code": cc, "party_id": pid, "hour": hour, "measure": measure, "value": n}
            for (cc, pid, hour, measure), n in sorted(added.items())
        ]
    )
    await tx.execute(
        insert.on_conflict_do_update(
            index_elements=["country_code", "party_id", "hour", "measure"],
            set_={"value": TABLE.c.value + insert.excluded.value},
        )
    )


def consumer(runtime: Runtime) -> Consumer:
    return Consumer(NAME, runtime.db, runtime.bus, apply, topics=TOPICS)


async def run(runtime: Runtime) -> None:
    """Keeps the KPI rows up to date until cancelled (the kpis subgraph's background work)."""
    while True:
        try:
            await consumer(runtime).run()
            return  # the bus closed: the platform is stopping
        except ConsumerConflict:
            _log.info("another KPI consumer moved first; resuming from its position")
        except event_log.CursorExpired:
            # What it missed is gone: carrying on would leave a gap in the numbers.
            _log.error("the KPI consumer fell behind the event log's retention; it stops")
            return
        except Exception:
            _log.exception("the KPI consumer failed; resuming from its position")
        await asyncio.sleep(RETRY)
