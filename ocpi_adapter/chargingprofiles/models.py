"""mod_charging_profiles.asciidoc: charging profiles, the requests and their results."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

from ocpi_adapter.common_models import URL, DateTime, Integer, Number, OcpiModel, rule_error


def _one_fraction_digit(value: float) -> float:
    if round(value, 1) != value:
        raise rule_error("accepts at most one digit fraction (e.g. 8.1)")
    return value


Rate = Annotated[Number, AfterValidator(_one_fraction_digit)]
"""A charging rate: a number with "at most one digit fraction"."""


class ChargingRateUnit(StrEnum):
    W = "W"
    A = "A"


class ChargingProfileResponseType(StrEnum):
    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class ChargingProfilePeriod(OcpiModel):
    start_period: Integer
    limit: Rate


class ChargingProfile(OcpiModel):
    start_date_time: DateTime | None = None
    duration: Integer | None = None
    charging_rate_unit: ChargingRateUnit
    min_charging_rate: Rate | None = None
    charging_profile_period: list[ChargingProfilePeriod] | None = None


class ActiveChargingProfile(OcpiModel):
    start_date_time: DateTime
    charging_profile: ChargingProfile


class ChargingProfileResponse(OcpiModel):
    result: ChargingProfileResponseType
    timeout: Integer


class ActiveChargingProfileResult(OcpiModel):
    result: ChargingProfileResultType
    profile: ActiveChargingProfile | None = None


class ChargingProfileResult(OcpiModel):
    result: ChargingProfileResultType


class ClearProfileResult(OcpiModel):
    result: ChargingProfileResultType


class SetChargingProfile(OcpiModel):
    charging_profile: ChargingProfile
    response_url: URL
