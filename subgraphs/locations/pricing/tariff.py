"""An OCPI 2.2.1 Tariff parsed into frozen values (mod_tariffs.asciidoc, Object description).

The hub has validated the JSON against the spec already; parsing only turns it into typed
values (Decimal for money and energy, never float) and rejects what cannot be priced.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from subgraphs.locations.pricing.errors import PricingError

DAYS_OF_WEEK = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class Dimension(StrEnum):
    """TariffDimensionType: what a Price Component prices."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class ReservationKind(StrEnum):
    """ReservationRestrictionType."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


@dataclass(frozen=True)
class PriceComponent:
    dimension: Dimension
    price: Decimal
    """Per kWh (ENERGY), per hour (TIME, PARKING_TIME) or once (FLAT); excl. VAT."""
    vat: Decimal | None
    """A percentage; None is "no VAT applicable", which the spec says is not 0%."""
    step_size: int
    """In Wh (ENERGY) or seconds (TIME, PARKING_TIME); meaningless for FLAT."""


@dataclass(frozen=True)
class Restrictions:
    """TariffRestrictions; None (or an empty day set) is "not restricted"."""

    start_time: int | None = None
    """Minutes after local midnight."""
    end_time: int | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = None
    max_duration: int | None = None
    days_of_week: frozenset[int] = frozenset()
    """``date.weekday()`` numbers (Monday is 0)."""
    reservation: ReservationKind | None = None

    @property
    def local(self) -> bool:
        """Whether it reads the Location's wall clock (a time, a date or a day of the week)."""
        return bool(
            {self.start_time, self.end_time, self.start_date, self.end_date} - {None}
            or self.days_of_week
        )


@dataclass(frozen=True)
class TariffElement:
    components: tuple[PriceComponent, ...]
    restrictions: Restrictions

    def component(self, dimension: Dimension) -> PriceComponent | None:
        """This element's component of a dimension; the first if a CPO listed two, as only one
        per dimension can be active (mod_tariffs, Tariff object)."""
        return next((c for c in self.components if c.dimension is dimension), None)


@dataclass(frozen=True)
class Price:
    excl_vat: Decimal
    incl_vat: Decimal | None


@dataclass(frozen=True)
class DisplayText:
    language: str
    text: str


@dataclass(frozen=True)
class Tariff:
    currency: str
    elements: tuple[TariffElement, ...]
    min_price: Price | None = None
    max_price: Price | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    alt_text: tuple[DisplayText, ...] = ()

    @property
    def states_vat(self) -> bool:
        """Whether any Price Component carries a VAT: without one the tariff says nothing about
        VAT and a total incl. VAT would be a guess."""
        return any(c.vat is not None for e in self.elements for c in e.components)


MAX_DIGITS = 30
"""Significant digits, and decimal places either side, of a number the calculator takes."""


def number(value: Any, where: str, *, of: str = "tariff") -> Decimal:
    """A JSON number of ``of`` (a tariff, a CDR) at ``where``, exactly, or PricingError."""
    # JSON numbers arrive as int or float (or Decimal from a Decimal-parsing loader); str(float)
    # is the shortest repr, so 0.25 becomes Decimal("0.25") and not its binary approximation.
    # The exact parser's floats keep their literal, which str gives back.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise PricingError(f"{of}: {where} is not a number")
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    if not number.is_finite():
        raise PricingError(f"{of}: {where} is not a finite number")
    if number.is_zero():
        return Decimal(0)
    # Exact arithmetic on 1E-99999999 would build a hundred-million-digit integer: a valid
    # OCPI number (a float) the hub must refuse to compute with rather than hang on.
    if not -MAX_DIGITS <= number.adjusted() <= MAX_DIGITS or (
        len("".join(map(str, number.as_tuple().digits)).strip("0")) > MAX_DIGITS
    ):
        raise PricingError(
            f"{of}: {where} {number} has more than {MAX_DIGITS} digits or is beyond "
            f"1E+/-{MAX_DIGITS}"
        )
    return number


def _optional_number(data: Mapping[str, Any], field: str, where: str) -> Decimal | None:
    value = data.get(field)
    return None if value is None else number(value, f"{where}.{field}")


def _integer(data: Mapping[str, Any], field: str, where: str) -> int | None:
    value = data.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise PricingError(f"tariff: {where}.{field} is not an integer")
    if abs(value) >= 10**MAX_DIGITS:  # seconds or Wh: no sensible one comes near
        raise PricingError(f"tariff: {where}.{field} is beyond 1E+{MAX_DIGITS}")
    return value


def _time_of_day(value: Any, where: str) -> int | None:
    if value is None:
        return None
    try:
        hours, minutes = (int(part) for part in str(value).split(":"))
    except ValueError:
        raise PricingError(f"tariff: {where} is not HH:MM") from None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise PricingError(f"tariff: {where} is not HH:MM")
    return hours * 60 + minutes


def _date(value: Any, where: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PricingError(f"tariff: {where} is not YYYY-MM-DD") from None


def timestamp(value: Any, where: str, *, of: str = "tariff") -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise PricingError(f"{of}: {where} is not a DateTime") from None
    # OCPI DateTimes are UTC, with or without the Z (types.asciidoc, DateTime).
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _restrictions(data: Mapping[str, Any] | None, where: str) -> Restrictions:
    if not data:
        return Restrictions()
    days = data.get("day_of_week") or []
    unknown = [day for day in days if day not in DAYS_OF_WEEK]
    if unknown:
        raise PricingError(f"tariff: {where}.day_of_week has {unknown}")
    reservation = data.get("reservation")
    if reservation is not None and reservation not in ReservationKind.__members__:
        raise PricingError(f"tariff: {where}.reservation {reservation!r} is unknown")
    return Restrictions(
        start_time=_time_of_day(data.get("start_time"), f"{where}.start_time"),
        end_time=_time_of_day(data.get("end_time"), f"{where}.end_time"),
        start_date=_date(data.get("start_date"), f"{where}.start_date"),
        end_date=_date(data.get("end_date"), f"{where}.end_date"),
        min_kwh=_optional_number(data, "min_kwh", where),
        max_kwh=_optional_number(data, "max_kwh", where),
        min_current=_optional_number(data, "min_current", where),
        max_current=_optional_number(data, "max_current", where),
        min_power=_optional_number(data, "min_power", where),
        max_power=_optional_number(data, "max_power", where),
        min_duration=_integer(data, "min_duration", where),
        max_duration=_integer(data, "max_duration", where),
        days_of_week=frozenset(DAYS_OF_WEEK.index(day) for day in days),
        reservation=None if reservation is None else ReservationKind(reservation),
    )


def _component(data: Mapping[str, Any], where: str) -> PriceComponent:
    if data.get("type") not in Dimension.__members__:
        raise PricingError(f"tariff: {where}.type {data.get('type')!r} is unknown")
    return PriceComponent(
        dimension=Dimension(data["type"]),
        price=number(data.get("price"), f"{where}.price"),
        vat=_optional_number(data, "vat", where),
        step_size=_integer(data, "step_size", where) or 0,
    )


def _price(data: Mapping[str, Any] | None, where: str) -> Price | None:
    if data is None:
        return None
    return Price(
        excl_vat=number(data.get("excl_vat"), f"{where}.excl_vat"),
        incl_vat=_optional_number(data, "incl_vat", where),
    )


def parse_alt_text(items: Sequence[Mapping[str, Any]] | None) -> tuple[DisplayText, ...]:
    return tuple(
        DisplayText(language=str(item.get("language", "")), text=str(item.get("text", "")))
        for item in items or []
    )


def parse_tariff(data: Mapping[str, Any]) -> Tariff:
    """The Tariff of an OCPI 2.2.1 JSON object; PricingError if it cannot be priced."""
    elements = data.get("elements")
    if not isinstance(elements, list) or not elements:
        raise PricingError("tariff: elements must be a non-empty list")
    currency = data.get("currency")
    if not isinstance(currency, str) or not currency:
        raise PricingError("tariff: currency is missing")
    return Tariff(
        currency=currency,
        elements=tuple(
            TariffElement(
                components=tuple(
                    _component(component, f"elements[{i}].price_components[{j}]")
                    for j, component in enumerate(element.get("price_components") or [])
                ),
                restrictions=_restrictions(element.get("restrictions"), f"elements[{i}]"),
            )
            for i, element in enumerate(elements)
        ),
        min_price=_price(data.get("min_price"), "min_price"),
        max_price=_price(data.get("max_price"), "max_price"),
        start_date_time=timestamp(data.get("start_date_time"), "start_date_time"),
        end_date_time=timestamp(data.get("end_date_time"), "end_date_time"),
        alt_text=parse_alt_text(data.get("tariff_alt_text")),
    )
