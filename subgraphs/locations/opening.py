"""Whether a Location is open at a moment, from its OCPI ``opening_times`` (mod_locations
Hours): regular hours by weekday in the Location's time zone, exceptional openings and closings
as UTC periods."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incar.timestamps import parse_timestamp


def _clock(text: Any) -> time | None:
    """An OCPI ``HH:MM``; "24:00" is the end of the day some CPOs write."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":":
        return None
    hours, minutes = text[:2], text[3:]
    if not (hours.isdigit() and minutes.isdigit()):
        return None
    if (int(hours), int(minutes)) == (24, 0):
        return time.max
    if int(hours) > 23 or int(minutes) > 59:
        return None
    return time(int(hours), int(minutes))


def _within(periods: Any, moment: datetime) -> bool:
    for period in periods if isinstance(periods, list) else []:
        try:
            begin = parse_timestamp(period["period_begin"])
            end = parse_timestamp(period["period_end"])
        except (KeyError, TypeError, ValueError):
            continue
        if begin <= moment < end:
            return True
    return False


def _regular(hours: Any, local: datetime) -> bool:
    """Regular hours: a period whose end is before its begin runs past midnight into the next
    weekday (Hours: "period_end ... can be before period_begin")."""
    now = local.time()
    weekday = local.isoweekday()  # OCPI weekday: 1 is Monday, as ISO's
    yesterday = (local - timedelta(days=1)).isoweekday()
    for entry in hours if isinstance(hours, list) else []:
        if not isinstance(entry, Mapping):
            continue
        begin, end = _clock(entry.get("period_begin")), _clock(entry.get("period_end"))
        if begin is None or end is None:
            continue
        day = entry.get("weekday")
        if end > begin:
            if day == weekday and begin <= now < end:
                return True
        elif (day == weekday and now >= begin) or (day == yesterday and now < end):
            return True
    return False


def zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def is_open(opening_times: Any, time_zone: str | None, moment: datetime) -> bool:
    """Open at ``moment`` (aware). A Location that publishes no opening times is taken as open:
    OCPI makes them optional, and most CPOs leave them out for stations open around the clock
    (docs/policies.md, "The graph"). Regular hours are read in the Location's time zone, UTC if
    it names none or an unknown one."""
    if not isinstance(opening_times, Mapping):
        return True
    if _within(opening_times.get("exceptional_closings"), moment):
        return False
    if opening_times.get("twentyfourseven") is True:
        return True
    if _within(opening_times.get("exceptional_openings"), moment):
        return True
    local = moment.astimezone(zone(time_zone) or ZoneInfo("UTC"))
    return _regular(opening_times.get("regular_hours"), local)
