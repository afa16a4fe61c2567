"""A phase of a session (a reservation, or charging then parking) priced slice by slice.

The phase is cut wherever any restriction can change: the start and end of each activity, the
instants the energy reaches a min/max_kwh, the min/max_durations, and the wall-clock cuts of
``clock``. Between two cuts every restriction is constant, so each slice is judged once, at its
middle, and priced exactly. Consecutive slices priced by one component form one period, as
the ChargingPeriods of a CDR do; step_size is then applied to the last period (mod_cdrs).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo

from subgraphs.locations.pricing.clock import instant, wall_clock_cuts
from subgraphs.locations.pricing.restrictions import Moment, hold
from subgraphs.locations.pricing.tariff import Dimension, PriceComponent, TariffElement

SECONDS_PER_HOUR = 3600


class Activity(Enum):
    RESERVED = "reserved"
    CHARGING = "charging"
    PARKING = "parking"


# TIME is "time charging" and PARKING_TIME "time not charging" (TariffDimensionType); a
# reservation has only FLAT and TIME, TIME being its duration (TariffRestrictions.reservation).
ACTIVE_DIMENSIONS: dict[Activity, tuple[Dimension, ...]] = {
    Activity.RESERVED: (Dimension.FLAT, Dimension.TIME),
    Activity.CHARGING: (Dimension.FLAT, Dimension.ENERGY, Dimension.TIME),
    Activity.PARKING: (Dimension.FLAT, Dimension.PARKING_TIME),
}


@dataclass(frozen=True)
class Phase:
    origin: datetime
    stretches: tuple[tuple[Activity, Fraction], ...]
    """Activities in order, each with its length in seconds."""
    power_kw: Fraction
    """While charging."""
    current_a: Fraction
    elements: tuple[TariffElement, ...]
    """The elements that may apply in this phase, in order of precedence."""
    zone: ZoneInfo

    @property
    def length(self) -> Fraction:
        return sum((seconds for _, seconds in self.stretches), Fraction(0))

    def activity_at(self, seconds: Fraction) -> Activity:
        end = Fraction(0)
        for activity, length in self.stretches:
            end += length
            if seconds < end:
                return activity
        return self.stretches[-1][0]

    def kwh_at(self, seconds: Fraction) -> Fraction:
        kwh, begin = Fraction(0), Fraction(0)
        for activity, length in self.stretches:
            if activity is Activity.CHARGING:
                charged = min(max(seconds - begin, Fraction(0)), length)
                kwh += self.power_kw * charged / SECONDS_PER_HOUR
            begin += length
        return kwh

    def seconds_at_kwh(self, kwh: Fraction) -> Fraction | None:
        """When the consumed energy reaches ``kwh``, if it does in this phase."""
        done, begin = Fraction(0), Fraction(0)
        for activity, length in self.stretches:
            if activity is Activity.CHARGING:
                here = self.power_kw * length / SECONDS_PER_HOUR
                if done + here >= kwh:
                    return begin + (kwh - done) * SECONDS_PER_HOUR / self.power_kw
                done += here
            begin += length
        return None


@dataclass(frozen=True)
class Period:
    """Consecutive time priced by one component; ``quantity`` in kWh, hours, or 1 (FLAT)."""

    dimension: Dimension
    element: int
    """Index in the phase's elements."""
    component: PriceComponent
    start: Fraction
    end: Fraction
    quantity: Fraction


def _cuts(phase: Phase) -> list[Fraction]:
    length = phase.length
    cuts = {Fraction(0), length}
    end = Fraction(0)
    for _, seconds in phase.stretches:
        end += seconds
        cuts.add(end)
    minutes: set[int] = set()
    for element in phase.elements:
        r = element.restrictions
        for kwh in (r.min_kwh, r.max_kwh):
            at = None if kwh is None else phase.seconds_at_kwh(Fraction(kwh))
            if at is not None:
                cuts.add(at)
        cuts.update(Fraction(d) for d in (r.min_duration, r.max_duration) if d is not None)
        minutes.update(m for m in (r.start_time, r.end_time) if m is not None)
    cuts |= wall_clock_cuts(phase.origin, length, phase.zone, minutes)
    return sorted(cut for cut in cuts if 0 <= cut <= length)


def _moment(phase: Phase, seconds: Fraction, activity: Activity) -> Moment:
    charging = activity is Activity.CHARGING
    return Moment(
        local=instant(phase.origin, seconds).astimezone(phase.zone),
        seconds=seconds,
        kwh=phase.kwh_at(seconds),
        power_kw=phase.power_kw if charging else Fraction(0),
        current_a=phase.current_a if charging else Fraction(0),
    )


def first_applying(
    elements: Sequence[TariffElement], dimension: Dimension, moment: Moment
) -> tuple[int, PriceComponent] | None:
    # "the first Tariff Element with a Price Component for that dimension in the list with
    # matching Tariff Restrictions will be used" (mod_tariffs, Tariff object); none: free.
    for index, element in enumerate(elements):
        component = element.component(dimension)
        if component is not None and hold(element.restrictions, moment):
            return index, component
    return None


def periods(phase: Phase) -> list[Period]:
    """The phase's periods in order of their start, before step_size."""
    found: list[Period] = []
    last_of: dict[Dimension, int] = {}
    flat_charged = False
    for start, end in pairwise(_cuts(phase)):
        middle = (start + end) / 2
        activity = phase.activity_at(middle)
        moment = _moment(phase, middle, activity)
        for dimension in ACTIVE_DIMENSIONS[activity]:
            applying = first_applying(phase.elements, dimension, moment)
            if applying is None:
                continue
            index, component = applying
            if dimension is Dimension.FLAT:
                # FLAT is a fee per session (or reservation): charged once, by the first FLAT
                # component to apply. The spec does not say when a FLAT is judged; the first
                # moment one applies is the reading that also covers a FLAT behind a
                # restriction (a fee from the second hour on, say).
                if not flat_charged:
                    found.append(Period(dimension, index, component, start, start, Fraction(1)))
                    flat_charged = True
                continue
            hours = (end - start) / SECONDS_PER_HOUR
            quantity = hours * phase.power_kw if dimension is Dimension.ENERGY else hours
            # A period goes on while the same component applies without a gap.
            last = last_of.get(dimension)
            if last is not None and found[last].element == index and found[last].end == start:
                found[last] = replace(
                    found[last], end=end, quantity=found[last].quantity + quantity
                )
            else:
                last_of[dimension] = len(found)
                found.append(Period(dimension, index, component, start, end, quantity))
    return apply_step_size(found)


def _round_up_last(found: list[Period], group: set[Dimension], unit: Fraction) -> None:
    """Round the total of the last period's dimension up to its step, adding the difference
    to that last period (mod_cdrs, step_size: "only taken into account once per session",
    with "the step_size of the last relevant PriceComponent", on "the total amount")."""
    in_group = [i for i, period in enumerate(found) if period.dimension in group]
    if not in_group:
        return
    # Of two periods starting together (a CDR's ChargingPeriod with TIME and PARKING_TIME),
    # the later in the list is the later one: parking follows charging.
    last = max(in_group, key=lambda i: (found[i].start, i))
    step = found[last].component.step_size * unit
    if step <= 0:
        return
    dimension = found[last].dimension
    total = sum((p.quantity for p in found if p.dimension is dimension), Fraction(0))
    billed = math.ceil(total / step) * step
    found[last] = replace(found[last], quantity=found[last].quantity + billed - total)


def apply_step_size(found: list[Period]) -> list[Period]:
    """step_size once for ENERGY and once for TIME and PARKING_TIME together: when parking
    follows charging only the parking total is rounded, as the charging time "is followed by
    another time based period" (mod_cdrs, step_size; mod_tariffs, complex tariff example)."""
    rounded = list(found)
    _round_up_last(rounded, {Dimension.ENERGY}, Fraction(1, 1000))
    _round_up_last(rounded, {Dimension.TIME, Dimension.PARKING_TIME}, Fraction(1, 3600))
    return rounded
