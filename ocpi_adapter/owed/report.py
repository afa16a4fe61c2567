"""What an operator sees of the copies the hub owes, per receiver (``incar hub owed``, and the
figures a Prometheus endpoint exposes: ``samples``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar.columns import utcnow
from ocpi_adapter.context import Hub
from ocpi_adapter.owed import resync
from ocpi_adapter.owed.models import OwedCopy, State
from ocpi_adapter.owed.sender import Figures
from ocpi_adapter.platforms.models import Platform


@dataclass(frozen=True, slots=True)
class Receiver:
    platform_id: int
    name: str
    status: str
    #: Copies not delivered yet (waiting, being sent, or waiting for a retry) and the oldest's
    #: age in seconds.
    owed: int
    retrying: int
    oldest_age: float | None
    #: Owners it missed data of and is still to be cued for; failures recorded for them; the
    #: earliest date_from it will be cued with; cues queued for them so far.
    out_of_sync: int
    failures: int
    since: datetime | None
    cues_queued: int
    #: Since this process started (None where no hub serves in this process).
    delivered: int | None = None
    failed: int | None = None
    refused: int | None = None
    cues_sent: int | None = None
    last_failure: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        return data


async def receivers(
    tx: AsyncSession, *, live: dict[int, Figures] | None = None, now: datetime | None = None
) -> list[Receiver]:
    """Every platform that is owed copies, is out of sync, or (with ``live``) was sent any."""
    now = now or utcnow()
    owed = {
        row.receiver_platform_id: row
        for row in await tx.execute(
            select(
                col(OwedCopy.receiver_platform_id),
                func.count().label("owed"),
                func.sum(case((col(OwedCopy.state) == State.RETRY, 1), else_=0)).label("retrying"),
                func.min(col(OwedCopy.created_at)).label("oldest"),
            ).group_by(col(OwedCopy.receiver_platform_id))
        )
    }
    marks: dict[int, list[Any]] = {}
    for mark in await resync.marks(tx):
        marks.setdefault(mark.receiver_platform_id, []).append(mark)
    live = live or {}
    wanted = set(owed) | set(marks) | set(live)
    platforms = {
        p.id: p
        for p in (await tx.execute(select(Platform).order_by(col(Platform.id)))).scalars()
        if p.id in wanted
    }
    found = []
    for platform_id in sorted(wanted):
        platform = platforms.get(platform_id)
        row = owed.get(platform_id)
        oldest: datetime | None = row.oldest if row is not None else None
        its = marks.get(platform_id, [])
        figures = live.get(platform_id)
        found.append(
            Receiver(
                platform_id=platform_id,
                name=platform.name if platform else "(gone)",
                status=str(platform.status) if platform else "",
                owed=int(row.owed) if row is not None else 0,
                retrying=int(row.retrying or 0) if row is not None else 0,
                oldest_age=(now - oldest).total_seconds() if oldest is not None else None,
                out_of_sync=len(its),
                failures=sum(m.failures for m in its),
                since=min((m.since for m in its), default=None),
                cues_queued=sum(m.cues for m in its),
                delivered=figures.delivered if figures else None,
                failed=figures.failed if figures else None,
                refused=figures.refused if figures else None,
                cues_sent=figures.cues if figures else None,
                last_failure=(figures.last_failure or None) if figures else None,
            )
        )
    return found


async def of_hub(hub: Hub) -> list[Receiver]:
    """The figures of a serving hub: the tables plus its sender's counters (for /metrics)."""
    async with hub.db.transaction(snapshot=True) as tx:
        return await receivers(tx, live=hub.owed.figures if hub.owed is not None else None)


#: Metric name, help, and the Receiver field it reads (Prometheus text format names).
METRICS = (
    ("incar_hub_owed_copies", "copies owed to the receiver, not yet delivered", "owed"),
    ("incar_hub_owed_retrying", "owed copies waiting for a retry", "retrying"),
    ("incar_hub_owed_oldest_age_seconds", "age of the oldest owed copy", "oldest_age"),
    ("incar_hub_out_of_sync_owners", "owners the receiver is to be cued for", "out_of_sync"),
    ("incar_hub_copy_failures_recorded", "failed copies recorded in open marks", "failures"),
    ("incar_hub_copies_delivered_total", "copies delivered by this process", "delivered"),
    ("incar_hub_copies_failed_total", "copies failed in this process", "failed"),
    ("incar_hub_copies_refused_total", "copies refused (4xx, OCPI 2xxx)", "refused"),
    ("incar_hub_resync_cues_total", "resync cues queued by this process", "cues_sent"),
)


def samples(found: list[Receiver]) -> list[tuple[str, str, dict[str, str], float]]:
    """(name, help, labels, value) for each figure of each receiver, ready for a /metrics."""
    out = []
    for name, text, attribute in METRICS:
        for receiver in found:
            value = getattr(receiver, attribute)
            if value is None:
                continue
            labels = {"receiver": receiver.name, "platform_id": str(receiver.platform_id)}
            out.append((name, text, labels, float(value)))
    return out
