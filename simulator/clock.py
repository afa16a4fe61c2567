"""Simulated time: runs ``speed`` simulated seconds per real second from a start moment."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """All simulated back-offices share one clock, so their timestamps agree with each other.

    Object timestamps (``last_updated``, session start/end) are simulated time: with a speed
    above 1 they run ahead of the wall clock, which is what lets a demo show a day of charging
    (and the day-shaped arrival profile) in minutes.
    """

    def __init__(self, speed: float, start: datetime | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.start = (start or datetime.now(UTC)).astimezone(UTC)
        self._origin = time.monotonic()
        self._last = self.start

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._origin) * self.speed
        moment = self.start + timedelta(seconds=elapsed)
        # Successive readings never go backwards, so each object's last_updated only grows.
        self._last = max(self._last + timedelta(milliseconds=1), moment)
        return self._last

    def peek(self) -> datetime:
        """The simulated moment now, without moving the clock (the demo hub's own clock)."""
        return max(
            self._last,
            self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.speed),
        )

    def real_seconds(self, sim_seconds: float) -> float:
        return max(0.0, sim_seconds / self.speed)

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(self.real_seconds(sim_seconds))

    async def sleep_until(self, moment: datetime) -> None:
        await self.sleep((moment - self.now()).total_seconds())
