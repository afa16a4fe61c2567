"""Status changes of one test CPO's EVSEs, as the shared-subscription tests make them: each
EVSE cycles through statuses of its own (a PATCH that leaves the status as it was publishes
no change), each change a second later than the one before."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from incar.runtime import Runtime
from subgraphs.locations import service as locations

CYCLE = ("CHARGING", "AVAILABLE", "OUTOFORDER", "AVAILABLE")


class EvseChanges:
    def __init__(self, cpo: tuple[str, str], *, day: str) -> None:
        self.cpo = cpo
        self.statuses: dict[str, Iterator[str]] = {}
        self.moments = (f"{day}T08:{n // 60:02d}:{n % 60:02d}Z" for n in itertools.count(1))

    async def change(self, runtime: Runtime, location_id: str) -> str:
        """The next status of ``location_id``'s EVSE ``<location_id>-E1``, stored as its CPO's
        PATCH would be; the status it now has."""
        status = next(self.statuses.setdefault(location_id, itertools.cycle(CYCLE)))
        async with runtime.db.transaction(write=True) as tx:
            await locations.upsert_evse(
                tx,
                country_code=self.cpo[0],
                party_id=self.cpo[1],
                location_id=location_id,
                evse_uid=f"{location_id}-E1",
                evse={"status": status, "last_updated": next(self.moments)},
                replace=False,
            )
        return status
