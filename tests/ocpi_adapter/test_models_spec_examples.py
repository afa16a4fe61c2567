"""Conformance check 59: every spec example validates as its kind, the two defective ones fail.

The table below maps each file of ``spec-2.2.1-d2/examples/`` to what it is, from
``examples-index.json`` ("kind", "request") and the file name. Whole objects go through
``validate`` (the hub's entry point); fragments of an object (an ``energy_mix``, an ``Hours``)
through the model of that fragment; response envelopes through their ``data``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from ocpi_adapter.common_models import DisplayText, OcpiModel
from ocpi_adapter.envelope import OcpiStatus
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.locations.models import EnergyMix, Hours
from ocpi_adapter.validation import ObjectKind, describe, validate
from tests.support.shared import SHARED as SHARED_ROOT

SHARED = SHARED_ROOT / "ocpi"
EXAMPLES = SHARED / "spec-2.2.1-d2" / "examples"
INDEX = SHARED / "examples-index.json"


@dataclass(frozen=True)
class Vector:
    """How to check one example: as an ObjectKind or, for a fragment, with its model.

    ``key`` names the member the example wraps the object in (``data`` of an envelope,
    ``energy_mix``...); ``many`` says that member is a list of such objects.
    """

    target: ObjectKind | type[OcpiModel]
    key: str | None = None
    many: bool = False

    def check(self, body: Any) -> None:
        inner = body if self.key is None else body[self.key]
        for item in inner if self.many else [inner]:
            if isinstance(self.target, ObjectKind):
                validate(self.target, item)
            else:
                try:
                    self.target.model_validate(item)
                except ValidationError as error:
                    raise InvalidParameters(describe(error.errors()[0])) from None


VALID: dict[str, Vector] = {
    "cdr_example.json": Vector(ObjectKind.CDR),
    "credentials_example.json": Vector(ObjectKind.CREDENTIALS),
    "credentials_example2.json": Vector(ObjectKind.CREDENTIALS),
    "credentials_example3.json": Vector(ObjectKind.CREDENTIALS),
    "credentials_example4.json": Vector(ObjectKind.CREDENTIALS),
    "location_energymix_example_complete.json": Vector(EnergyMix, key="energy_mix"),
    "location_energymix_example_energy_provider.json": Vector(EnergyMix, key="energy_mix"),
    "location_energymix_example_simple.json": Vector(EnergyMix, key="energy_mix"),
    "location_example.json": Vector(ObjectKind.LOCATION),
    "location_example_parking_garage_opening_hours.json": Vector(ObjectKind.LOCATION),
    "location_example_uc2_destination_charger.json": Vector(ObjectKind.LOCATION),
    "location_example_uc3_destination_charger_not_published.json": Vector(ObjectKind.LOCATION),
    "location_example_uc4_limited_visibility.json": Vector(ObjectKind.LOCATION),
    "location_example_uc5_home_charge_point.json": Vector(ObjectKind.LOCATION),
    "location_hours_247_open_exception_closing.json": Vector(Hours),
    "location_hours_opening_hours_with_exceptional_closing.json": Vector(Hours),
    "location_hours_opening_hours_with_exceptional_opening.json": Vector(Hours),
    # PATCH .../locations/NL/TNM/1012: a Location
    "location_patch_example_location.json": Vector(ObjectKind.LOCATION_PATCH),
    # PATCH .../locations/NL/TNM/1012/3256 and .../3255: an EVSE
    "location_patch_example_remove_evse.json": Vector(ObjectKind.EVSE_PATCH),
    "location_patch_example_status.json": Vector(ObjectKind.EVSE_PATCH),
    # PATCH .../locations/NL/TNM/1012/3255/2: a Connector
    "location_patch_example_tariff.json": Vector(ObjectKind.CONNECTOR_PATCH),
    "location_regularhours_example.json": Vector(Hours, key="opening_times"),
    "session_example_1_simple_start.json": Vector(ObjectKind.SESSION),
    "session_example_2_short_finished.json": Vector(ObjectKind.SESSION),
    "session_patch_example_charging_period.json": Vector(ObjectKind.SESSION_PATCH),
    "session_patch_example_total_cost.json": Vector(ObjectKind.SESSION_PATCH),
    "tariff_10_025kwh_parking_start.json": Vector(ObjectKind.TARIFF),
    "tariff_11_not_possible_alt_text.json": Vector(ObjectKind.TARIFF),
    "tariff_12_025kwh_min_price.json": Vector(ObjectKind.TARIFF),
    "tariff_13_simple_3hour_5parking.json": Vector(ObjectKind.TARIFF),
    "tariff_14_step_size.json": Vector(ObjectKind.TARIFF),
    "tariff_15_reservation_5_euro_per_hour.json": Vector(ObjectKind.TARIFF),
    "tariff_16_reservation_2_euro_fee_5_euro_per_hour.json": Vector(ObjectKind.TARIFF),
    "tariff_17_reservation_with_expire_fee.json": Vector(ObjectKind.TARIFF),
    "tariff_18_reservation_with_expire_time.json": Vector(ObjectKind.TARIFF),
    "tariff_1_simple_2hour.json": Vector(ObjectKind.TARIFF),
    "tariff_2_alt_text.json": Vector(ObjectKind.TARIFF),
    "tariff_3_alt_url.json": Vector(ObjectKind.TARIFF),
    "tariff_4_complex.json": Vector(ObjectKind.TARIFF),
    "tariff_5_free_of_charge.json": Vector(ObjectKind.TARIFF),
    "tariff_6_025kwh_start_max_price.json": Vector(ObjectKind.TARIFF),
    "tariff_8_simple_025kwh.json": Vector(ObjectKind.TARIFF),
    "tariff_9_025kwh_start.json": Vector(ObjectKind.TARIFF),
    # Indexed as "TariffRestrictions" but each file is a whole Tariff.
    "tariffrestriction_example_max_duration.json": Vector(ObjectKind.TARIFF),
    "tariffrestriction_example_max_power.json": Vector(ObjectKind.TARIFF),
    "token_example_1_app_user.json": Vector(ObjectKind.TOKEN),
    "token_example_2_full_rfid.json": Vector(ObjectKind.TOKEN),
    # PATCH .../tokens/NL/TNM/012345678 and PUT on the same URL
    "token_patch_example.json": Vector(ObjectKind.TOKEN_PATCH),
    "token_put_example.json": Vector(ObjectKind.TOKEN),
    "transport_and_format_get_token_example.json": Vector(ObjectKind.TOKEN, key="data"),
    "transport_and_format_get_token_list_example.json": Vector(
        ObjectKind.TOKEN, key="data", many=True
    ),
    "type_displaytext_example.json": Vector(DisplayText),
}

DEFECTIVE: dict[str, tuple[ObjectKind, tuple[str, ...]]] = {
    # PUT .../locations/NL/TNM/1012/3256: an EVSE whose connector lacks four required fields.
    "location_put_example_add_evse.json": (
        ObjectKind.EVSE,
        (
            "connectors[0].power_type",
            "connectors[0].max_voltage",
            "connectors[0].max_amperage",
            "connectors[0].last_updated",
        ),
    ),
    # PUT .../tariffs/NL/TNM/12: a Tariff without last_updated.
    "tariff_put_example.json": (ObjectKind.TARIFF, ("last_updated",)),
}

NOT_AN_OBJECT_KIND: dict[str, str] = {
    name: "Version/VersionDetails (version_information_endpoint.asciidoc): read by the versions"
    " package during the credentials handshake, not a body the hub validates"
    for name in (
        "transport_and_format_version_details_example.json",
        "transport_and_format_version_info_example.json",
        "version_details_example.json",
        "version_details_example2.json",
        "versions_info_example.json",
    )
}


def _load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


@pytest.mark.conformance(59)
def test_check59_the_table_names_every_example_file_once() -> None:
    tables = [set(VALID), set(DEFECTIVE), set(NOT_AN_OBJECT_KIND)]
    assert sum(len(t) for t in tables) == len(set().union(*tables))
    assert set().union(*tables) == {p.name for p in EXAMPLES.glob("*.json")}


@pytest.mark.conformance(59)
def test_check59_the_index_agrees_on_what_is_defective() -> None:
    index = json.loads(INDEX.read_text(encoding="utf-8"))
    flagged = {
        entry["file"]
        for entry in index
        if "missing required" in entry["note"] or "invalid vs schema" in entry["note"]
    }
    assert flagged == set(DEFECTIVE)


@pytest.mark.conformance(59)
@pytest.mark.parametrize("name", sorted(VALID))
def test_check59_spec_example_is_valid(name: str) -> None:
    VALID[name].check(_load(name))


@pytest.mark.conformance(59)
@pytest.mark.parametrize("name", sorted(DEFECTIVE))
def test_check59_defective_example_is_rejected_naming_a_missing_field(name: str) -> None:
    kind, fields = DEFECTIVE[name]
    with pytest.raises(InvalidParameters) as caught:
        validate(kind, _load(name))
    assert caught.value.status == OcpiStatus.INVALID_PARAMETERS
    path, _, problem = caught.value.message.partition(": ")
    assert path in fields
    assert problem == "required field missing"
