"""What the driver plans: the input of an estimate, checked when it is made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from subgraphs.locations.pricing.errors import PricingError

NOMINAL_PHASE_VOLTAGE = Decimal(230)
"""Volts line to neutral, to derive a current the driver did not give (see ``current_a``)."""


@dataclass(frozen=True)
class Reservation:
    """A reservation made ``duration`` before the scenario's ``start``.

    Used (``expired`` false): it ended when charging started at ``start``. Expired: it ran out
    unused at ``start`` and no charging session follows (mod_tariffs, ReservationRestrictionType).
    """

    duration: timedelta
    expired: bool = False


@dataclass(frozen=True, kw_only=True)
class ChargingScenario:
    """A charging session to price.

    Charging runs at constant power, the lesser of the car's and the EVSE's maximum, and stops
    when ``energy_kwh`` is delivered or ``duration`` has passed, whichever comes first (one of
    the two is required). ``parking`` is the time the car stays plugged in afterwards.

    ``current_a`` is the sum of the current over all phases, which TariffRestrictions'
    min/max_current compare with. When it is not given it is derived from the power at a
    nominal 230 V line to neutral: sum of phase currents = P / 230 V, true for one and three
    phase AC alike; for DC it is only an indication (the battery voltage is unknown).
    """

    start: datetime
    """Aware; the moment charging starts (or an expired reservation ran out)."""
    time_zone: str | ZoneInfo
    """The Location's ``time_zone``: restrictions' times, dates and days are local to it."""
    car_max_power_kw: Decimal
    evse_max_power_kw: Decimal
    energy_kwh: Decimal | None = None
    duration: timedelta | None = None
    parking: timedelta = timedelta(0)
    reservation: Reservation | None = None
    current_a: Decimal | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise PricingError("start must be an aware datetime (with a time zone)")
        _ = self.zone  # resolves the name now, so a bad one fails here and not later
        _positive(self.car_max_power_kw, "car_max_power_kw")
        _positive(self.evse_max_power_kw, "evse_max_power_kw")
        if self.current_a is not None:
            _positive(self.current_a, "current_a")
        if self.parking < timedelta(0):
            raise PricingError("parking must not be negative")
        if self.reservation is not None and self.reservation.duration <= timedelta(0):
            raise PricingError("reservation.duration must be positive")
        if self.reservation is not None and self.reservation.expired:
            if self.energy_kwh is not None or self.duration is not None or self.parking:
                raise PricingError("an expired reservation is not followed by charging")
            return
        if self.energy_kwh is None and self.duration is None:
            raise PricingError("give energy_kwh or duration (or both)")
        if self.energy_kwh is not None:
            _positive(self.energy_kwh, "energy_kwh")
        if self.duration is not None and self.duration <= timedelta(0):
            raise PricingError("duration must be positive")

    @property
    def zone(self) -> ZoneInfo:
        if isinstance(self.time_zone, ZoneInfo):
            return self.time_zone
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PricingError(f"time_zone {self.time_zone!r} is not an IANA zone") from None

    @property
    def power_kw(self) -> Decimal:
        return min(self.car_max_power_kw, self.evse_max_power_kw)

    @property
    def charging_current_a(self) -> Decimal:
        if self.current_a is not None:
            return self.current_a
        return self.power_kw * 1000 / NOMINAL_PHASE_VOLTAGE

    @property
    def charges(self) -> bool:
        """Whether a charging session follows (it does unless a reservation expired)."""
        return self.reservation is None or not self.reservation.expired


def _positive(value: Decimal, name: str) -> None:
    if not value.is_finite() or value <= 0:
        raise PricingError(f"{name} must be a positive number, not {value}")
