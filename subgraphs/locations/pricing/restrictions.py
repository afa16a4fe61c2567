"""Whether a Tariff Element's restrictions hold at one moment of a session.

TariffRestrictions are a logical AND and are looked at moment by moment, not once per session
(mod_tariffs, TariffRestrictions class). A restriction the tariff does not set always holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from subgraphs.locations.pricing.errors import PricingError
from subgraphs.locations.pricing.tariff import Restrictions

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Moment:
    """The state of a session at one instant, as restrictions see it."""

    local: datetime
    """The wall clock at the Location."""
    seconds: Fraction
    """Since the phase began (the session, or the reservation)."""
    kwh: Fraction
    """Consumed so far."""
    power_kw: Fraction | None
    """Zero when not charging; None when unknown (a CDR period that states none)."""
    current_a: Fraction | None


def in_daily_window(minute: Fraction, start: int | None, end: int | None) -> bool:
    """Whether a time of day (minutes after midnight) lies in [start_time, end_time).

    start_time is inclusive ("valid from"), end_time exclusive ("valid until"); end < start
    wraps to the next day and 00:00 as end_time is the end of the day (TariffRestrictions).
    Only a start runs to midnight, only an end runs from midnight. Where the spec is silent,
    start == end is read as the whole day rather than never, as a CPO writing 00:00-00:00 means.
    """
    low = start if start is not None else 0
    high = end if end else MINUTES_PER_DAY
    if low < high:
        return low <= minute < high
    if low > high:
        return minute >= low or minute < high
    return True


def _known(value: Fraction | None, what: str) -> Fraction:
    if value is None:
        raise PricingError(f"a restriction on {what} applies, but the {what} is not known")
    return value


def _at_least(value: Fraction | None, bound: Decimal | None, what: str = "") -> bool:
    return bound is None or _known(value, what) >= Fraction(bound)


def _below(value: Fraction | None, bound: Decimal | None, what: str = "") -> bool:
    return bound is None or _known(value, what) < Fraction(bound)


def hold(r: Restrictions, m: Moment) -> bool:
    """Whether every restriction holds at this moment."""
    local_minute = Fraction(m.local.hour * 60 + m.local.minute) + Fraction(
        m.local.second * 1_000_000 + m.local.microsecond, 60_000_000
    )
    today = m.local.date()
    return (
        in_daily_window(local_minute, r.start_time, r.end_time)
        # start_date inclusive, end_date exclusive, both local dates.
        and (r.start_date is None or today >= r.start_date)
        and (r.end_date is None or today < r.end_date)
        and (not r.days_of_week or today.weekday() in r.days_of_week)
        # min_* inclusive ("more than, or equal"), max_* exclusive ("less than").
        and _at_least(m.kwh, r.min_kwh)
        and _below(m.kwh, r.max_kwh)
        and _at_least(m.current_a, r.min_current, "current")
        and _below(m.current_a, r.max_current, "current")
        and _at_least(m.power_kw, r.min_power, "power")
        and _below(m.power_kw, r.max_power, "power")
        and (r.min_duration is None or m.seconds >= r.min_duration)
        and (r.max_duration is None or m.seconds < r.max_duration)
    )
