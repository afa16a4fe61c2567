"""Instants at which the Location's wall clock crosses a time of day, a date or a UTC offset.

Restrictions on time, date and day of week change only at such instants, so a session is cut
there and priced slice by slice: a few cuts a day instead of a loop over every minute. Every
instant is given as exact seconds since the phase's origin.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo


def seconds_between(earlier: datetime, later: datetime) -> Fraction:
    """Exact seconds from one aware instant to another (timedelta.total_seconds is a float).

    Both go to UTC first: Python subtracts two datetimes of the same tzinfo by wall clock."""
    return seconds_of(later.astimezone(UTC) - earlier.astimezone(UTC))


def seconds_of(delta: timedelta) -> Fraction:
    """A timedelta's exact seconds: elapsed time, never wall-clock arithmetic."""
    return Fraction(delta.days * 86_400 + delta.seconds) + Fraction(delta.microseconds, 10**6)


def instant(origin: datetime, seconds: Fraction) -> datetime:
    """The UTC instant ``seconds`` after ``origin``, to the microsecond."""
    return origin.astimezone(UTC) + timedelta(microseconds=round(seconds * 10**6))


def _local_days(origin: datetime, length: Fraction, zone: ZoneInfo) -> list[date]:
    first = origin.astimezone(zone).date() - timedelta(days=1)
    last = instant(origin, length).astimezone(zone).date() + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _offset_changes(days: list[date], zone: ZoneInfo) -> Iterator[datetime]:
    """The instants the zone's UTC offset changes (DST), found by halving between midnights.

    A wall time skipped by a change ("02:30" in spring) is first reached at the change itself.
    """
    midnights = [datetime.combine(day, time(), tzinfo=zone).astimezone(UTC) for day in days]
    for before, after in pairwise(midnights):
        if before.astimezone(zone).utcoffset() == after.astimezone(zone).utcoffset():
            continue
        low, high = int(before.timestamp()), int(after.timestamp())
        offset_before = before.astimezone(zone).utcoffset()
        while high - low > 1:  # zones change offset on whole seconds
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, zone).utcoffset() == offset_before:
                low = middle
            else:
                high = middle
        yield datetime.fromtimestamp(high, UTC)


def wall_clock_cuts(
    origin: datetime, length: Fraction, zone: ZoneInfo, minutes: Iterable[int]
) -> set[Fraction]:
    """Seconds after ``origin`` within (0, length) where the local clock shows one of these
    minutes of the day or midnight (dates and days of the week change there), or jumps."""
    days = _local_days(origin, length, zone)
    wall_times = {time(minute // 60, minute % 60) for minute in {0, *minutes}}
    moments: list[datetime] = list(_offset_changes(days, zone))
    for day in days:
        for wall in wall_times:
            local = datetime.combine(day, wall, tzinfo=zone)
            # A repeated hour in autumn shows the wall time twice: fold picks each.
            moments += [local, local.replace(fold=1)]
    cuts = {seconds_between(origin, moment) for moment in moments}
    return {cut for cut in cuts if 0 < cut < length}
