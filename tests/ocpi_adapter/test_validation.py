"""validate(): what the hub rejects with 2001, and the one-line message that names the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from ocpi_adapter.envelope import OcpiStatus
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.validation import MODELS, PATCH_REQUIRED, ObjectKind, validate
from tests.support.shared import SPEC_EXAMPLES

EXAMPLES = SPEC_EXAMPLES
NOW = "2024-05-01T10:00:00Z"
RESPONSE_URL = "https://hub.example.com/ocpi/2.2.1/commands/START_SESSION/42"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def rejection(kind: ObjectKind, body: object) -> str:
    with pytest.raises(InvalidParameters) as caught:
        validate(kind, body)
    assert caught.value.status == OcpiStatus.INVALID_PARAMETERS
    assert "\n" not in caught.value.message
    return caught.value.message


def changed(name: str, edit: Callable[[Any], None]) -> Any:
    body = copy.deepcopy(example(name))
    edit(body)
    return body


LOCATION = "location_example.json"
TOKEN = "token_put_example.json"


def start_session(**fields: Any) -> dict[str, Any]:
    return {"response_url": RESPONSE_URL, "token": example(TOKEN), "location_id": "LOC1", **fields}


def test_every_kind_has_a_model() -> None:
    assert set(MODELS) == set(ObjectKind)


@pytest.mark.parametrize("body", [[], "a string", 42, None, True])
def test_a_body_that_is_not_a_json_object_is_rejected(body: object) -> None:
    assert rejection(ObjectKind.LOCATION, body).startswith("body: expected a JSON object, got ")


def test_a_list_of_locations_is_not_a_location() -> None:
    assert rejection(ObjectKind.LOCATION, [example(LOCATION)]) == (
        "body: expected a JSON object, got array"
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda b: b.update(publish="true"),
            "publish: expected true or false, got string",
        ),
        (
            lambda b: b["evses"][0]["connectors"][1].update(max_voltage="220"),
            "evses[0].connectors[1].max_voltage: expected an integer, got string",
        ),
        (
            lambda b: b["evses"][0]["connectors"][0].update(max_amperage=16.5),
            "evses[0].connectors[0].max_amperage: expected an integer, got number",
        ),
        (
            lambda b: b["evses"][1].update(uid=3257),
            "evses[1].uid: expected a string, got number",
        ),
        (
            lambda b: b.update(coordinates=["51.047599", "3.729944"]),
            "coordinates: expected a JSON object, got array",
        ),
        (
            lambda b: b.update(operator=[{"name": "BeCharged"}]),
            "operator: expected a JSON object, got array",
        ),
        (
            lambda b: b.update(evses=b["evses"][0]),
            "evses: expected a JSON array, got object",
        ),
        (
            lambda b: b["evses"][0].update(connectors=[]),
            "evses[0].connectors: needs at least 1 element(s)",
        ),
        (
            lambda b: b.pop("address"),
            "address: required field missing",
        ),
        (
            lambda b: b.update(city=None),
            "city: must not be null",
        ),
    ],
)
def test_wrong_types_and_shapes_in_a_location_are_named(
    edit: Callable[[Any], None], message: str
) -> None:
    assert rejection(ObjectKind.LOCATION, changed(LOCATION, edit)) == message


def test_a_number_field_takes_an_integer_but_not_a_string_or_boolean() -> None:
    tx = example("session_example_1_simple_start.json")
    validate(ObjectKind.SESSION, {**tx, "kwh": 12})
    assert rejection(ObjectKind.SESSION, {**tx, "kwh": "12.5"}) == (
        "kwh: expected a number, got string"
    )
    assert rejection(ObjectKind.SESSION, {**tx, "kwh": True}) == (
        "kwh: expected a number, got boolean"
    )


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        (
            ObjectKind.EVSE_PATCH,
            {"status": "FREE", "last_updated": NOW},
            "status: not one of 'AVAILABLE', 'BLOCKED', 'CHARGING', 'INOPERATIVE',"
            " 'OUTOFORDER', 'PLANNED', 'REMOVED', 'RESERVED' or 'UNKNOWN': 'FREE'",
        ),
        (
            ObjectKind.EVSE_PATCH,
            {"status": "available", "last_updated": NOW},
            "status: not one of 'AVAILABLE', 'BLOCKED', 'CHARGING', 'INOPERATIVE',"
            " 'OUTOFORDER', 'PLANNED', 'REMOVED', 'RESERVED' or 'UNKNOWN': 'available'",
        ),
        (
            ObjectKind.TOKEN,
            {**example(TOKEN), "whitelist": "SOMETIMES"},
            "whitelist: not one of 'ALWAYS', 'ALLOWED', 'ALLOWED_OFFLINE' or 'NEVER': 'SOMETIMES'",
        ),
        (
            ObjectKind.COMMAND_RESULT,
            {"result": "OK"},
            "result: not one of 'ACCEPTED', 'CANCELED_RESERVATION', 'EVSE_OCCUPIED',"
            " 'EVSE_INOPERATIVE', 'FAILED', 'NOT_SUPPORTED', 'REJECTED', 'TIMEOUT' or"
            " 'UNKNOWN_RESERVATION': 'OK'",
        ),
    ],
)
def test_values_outside_an_enum_are_rejected(kind: ObjectKind, body: Any, message: str) -> None:
    assert rejection(kind, body) == message


def test_a_bad_enum_deep_inside_names_its_path() -> None:
    body = changed(LOCATION, lambda b: b["evses"][1]["connectors"][0].update(standard="TYPE2"))
    assert rejection(ObjectKind.LOCATION, body).startswith(
        "evses[1].connectors[0].standard: not one of 'CHADEMO', "
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country_code", "NLD", "country_code: longer than 2 characters: 'NLD'"),
        ("party_id", "TNMX", "party_id: longer than 3 characters: 'TNMX'"),
        ("uid", "u" * 37, "uid: longer than 36 characters: '" + "u" * 37 + "'"),
        ("contract_id", "NL8ACC12E46L89é", "contract_id: not printable ASCII: 'NL8ACC12E46L89é'"),
        ("group_id", "DF000\t2001", "group_id: not printable ASCII: 'DF000\\t2001'"),
        ("issuer", "x" * 65, "issuer: longer than 64 characters: '" + "x" * 56 + "..."),
        (
            "issuer",
            "The\nNewMotion",
            "issuer: contains non-printable characters: 'The\\nNewMotion'",
        ),
    ],
)
def test_strings_longer_than_the_spec_allows_or_unprintable_are_rejected(
    field: str, value: str, message: str
) -> None:
    assert rejection(ObjectKind.TOKEN, {**example(TOKEN), field: value}) == message


def test_a_cistring_is_ascii_but_a_string_may_be_any_printable_text() -> None:
    validate(ObjectKind.TOKEN, {**example(TOKEN), "issuer": "Mobilität Köln"})


@pytest.mark.parametrize(
    "moment",
    [
        "2015-06-29T20:39:09Z",
        "2015-06-29T20:39:09",
        "2016-12-29T17:45:09.2Z",
        "2016-12-29T17:45:09.2",
        "2018-01-01T01:08:01.123Z",
        "2018-01-01T01:08:01.123",
    ],
)
def test_every_datetime_form_of_the_spec_is_accepted(moment: str) -> None:
    validate(ObjectKind.TOKEN_PATCH, {"valid": False, "last_updated": moment})


@pytest.mark.parametrize(
    "moment",
    [
        "yesterday",
        "",
        "2019-06-24T12:39:09+00:00",
        "2019-06-24T14:39:09+02:00",
        "2019-06-24 12:39:09Z",
        "2019-06-24t12:39:09z",
        "2019-06-24",
        "2019-13-01T00:00:00Z",
        "2019-02-30T00:00:00Z",
        "2019-06-24T25:00:00Z",
        "2019-06-24T12:39:09.1234567Z",
        " 2019-06-24T12:39:09Z",
        1561379949,
    ],
)
def test_anything_else_is_not_an_ocpi_datetime(moment: object) -> None:
    message = rejection(ObjectKind.TOKEN_PATCH, {"valid": False, "last_updated": moment})
    assert message == f"last_updated: not an OCPI DateTime: {moment!r}"


def test_the_brief_example_message_for_a_bad_datetime() -> None:
    body = changed(LOCATION, lambda b: b.update(last_updated="yesterday"))
    assert rejection(ObjectKind.LOCATION, body) == "last_updated: not an OCPI DateTime: 'yesterday'"


def test_the_first_failing_field_is_named_in_spec_order_not_body_order() -> None:
    rest = {k: v for k, v in example(LOCATION).items() if k != "last_updated"}
    body = {"last_updated": "soon", **rest, "country_code": "BEL"}
    assert next(iter(body)) == "last_updated"
    assert rejection(ObjectKind.LOCATION, body) == "country_code: longer than 2 characters: 'BEL'"


def test_the_first_failing_evse_is_named_before_a_later_field() -> None:
    def edit(body: Any) -> None:
        del body["evses"][1]["connectors"][0]["power_type"]
        body["time_zone"] = 7

    assert rejection(ObjectKind.LOCATION, changed(LOCATION, edit)) == (
        "evses[1].connectors[0].power_type: required field missing"
    )


def test_vendor_fields_are_ignored() -> None:
    body = changed(LOCATION, lambda b: b.update(x_vendor={"anything": [1, 2]}))
    body["evses"][0]["x_floor"] = -1
    validate(ObjectKind.LOCATION, body)


@pytest.mark.parametrize(
    "kind",
    [
        ObjectKind.LOCATION_PATCH,
        ObjectKind.EVSE_PATCH,
        ObjectKind.CONNECTOR_PATCH,
        ObjectKind.SESSION_PATCH,
        ObjectKind.TOKEN_PATCH,
    ],
)
def test_a_patch_without_last_updated_is_rejected(kind: ObjectKind) -> None:
    assert rejection(kind, {}) == "last_updated: required field missing"


def test_an_evse_status_patch_of_status_and_last_updated_passes() -> None:
    validate(ObjectKind.EVSE_PATCH, {"status": "CHARGING", "last_updated": NOW})


def test_a_full_evse_is_not_enough_with_only_status() -> None:
    assert rejection(ObjectKind.EVSE, {"status": "CHARGING", "last_updated": NOW}) == (
        "uid: required field missing"
    )


def test_the_fields_present_in_a_patch_keep_their_types() -> None:
    assert rejection(ObjectKind.EVSE_PATCH, {"status": None, "last_updated": NOW}) == (
        "status: must not be null"
    )
    assert rejection(ObjectKind.CONNECTOR_PATCH, {"tariff_ids": "15", "last_updated": NOW}) == (
        "tariff_ids: expected a JSON array, got string"
    )
    assert rejection(ObjectKind.SESSION_PATCH, {"kwh": "15", "last_updated": NOW}) == (
        "kwh: expected a number, got string"
    )
    nested = {"charging_periods": [{"start_date_time": NOW}], "last_updated": NOW}
    assert rejection(ObjectKind.SESSION_PATCH, nested) == (
        "charging_periods[0].dimensions: required field missing"
    )
    validate(ObjectKind.EVSE_PATCH, {"evse_id": None, "last_updated": NOW})


@pytest.mark.parametrize(
    ("patch", "full"),
    [
        (ObjectKind.LOCATION_PATCH, ObjectKind.LOCATION),
        (ObjectKind.EVSE_PATCH, ObjectKind.EVSE),
        (ObjectKind.CONNECTOR_PATCH, ObjectKind.CONNECTOR),
        (ObjectKind.SESSION_PATCH, ObjectKind.SESSION),
        (ObjectKind.TOKEN_PATCH, ObjectKind.TOKEN),
    ],
)
def test_patch_models_are_derived_from_the_full_ones(patch: ObjectKind, full: ObjectKind) -> None:
    patch_fields = MODELS[patch].model_fields
    full_fields = MODELS[full].model_fields
    assert list(patch_fields) == list(full_fields)
    for name, info in patch_fields.items():
        assert info.annotation == full_fields[name].annotation
        assert info.is_required() == (name in PATCH_REQUIRED)


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        (
            ObjectKind.START_SESSION,
            start_session(connector_id="1"),
            "evse_uid: required when connector_id is set",
        ),
        (
            ObjectKind.START_SESSION,
            start_session(response_url="/relative/path"),
            "response_url: not an absolute URL: '/relative/path'",
        ),
        (
            ObjectKind.START_SESSION,
            start_session(token={**example(TOKEN), "valid": None}),
            "token.valid: must not be null",
        ),
        (
            ObjectKind.CREDENTIALS,
            {**example("credentials_example.json"), "token": "has spaces in it"},
            "token: not printable non-whitespace ASCII: 'has spaces in it'",
        ),
        (
            ObjectKind.CREDENTIALS,
            {**example("credentials_example.json"), "roles": []},
            "roles: needs at least 1 element(s)",
        ),
        (
            ObjectKind.SET_CHARGING_PROFILE,
            {
                "charging_profile": {
                    "charging_rate_unit": "A",
                    "charging_profile_period": [{"start_period": 0, "limit": 8.15}],
                },
                "response_url": RESPONSE_URL,
            },
            "charging_profile.charging_profile_period[0].limit:"
            " accepts at most one digit fraction (e.g. 8.1): 8.15",
        ),
        (
            ObjectKind.CLIENT_INFO,
            {
                "party_id": "TNM",
                "country_code": "NL",
                "role": "CPO",
                "status": "ONLINE",
                "last_updated": NOW,
            },
            "status: not one of 'CONNECTED', 'OFFLINE', 'PLANNED' or 'SUSPENDED': 'ONLINE'",
        ),
        (
            ObjectKind.COMMAND_RESPONSE,
            {"result": "ACCEPTED", "timeout": "30"},
            "timeout: expected an integer, got string",
        ),
    ],
)
def test_command_and_configuration_objects(kind: ObjectKind, body: Any, message: str) -> None:
    assert rejection(kind, body) == message


def test_valid_command_bodies_pass() -> None:
    validate(ObjectKind.START_SESSION, start_session(evse_uid="3256", connector_id="1"))
    validate(ObjectKind.STOP_SESSION, {"response_url": RESPONSE_URL, "session_id": "101"})
    validate(
        ObjectKind.RESERVE_NOW,
        {**start_session(), "expiry_date": NOW, "reservation_id": "R1"},
    )
    validate(ObjectKind.CANCEL_RESERVATION, {"response_url": RESPONSE_URL, "reservation_id": "R1"})
    validate(
        ObjectKind.UNLOCK_CONNECTOR,
        {"response_url": RESPONSE_URL, "location_id": "L", "evse_uid": "E", "connector_id": "1"},
    )
    validate(ObjectKind.COMMAND_RESPONSE, {"result": "ACCEPTED", "timeout": 30})
    validate(
        ObjectKind.COMMAND_RESULT,
        {"result": "ACCEPTED", "message": [{"language": "en", "text": "Started"}]},
    )


def test_valid_charging_profile_bodies_pass() -> None:
    profile = {
        "start_date_time": NOW,
        "charging_rate_unit": "W",
        "min_charging_rate": 1400,
        "charging_profile_period": [{"start_period": 0, "limit": 11000.5}],
    }
    validate(
        ObjectKind.SET_CHARGING_PROFILE, {"charging_profile": profile, "response_url": RESPONSE_URL}
    )
    active = {"start_date_time": NOW, "charging_profile": profile}
    validate(ObjectKind.ACTIVE_CHARGING_PROFILE, active)
    validate(ObjectKind.ACTIVE_CHARGING_PROFILE_RESULT, {"result": "ACCEPTED", "profile": active})
    validate(ObjectKind.CHARGING_PROFILE_RESULT, {"result": "REJECTED"})
    validate(ObjectKind.CLEAR_PROFILE_RESULT, {"result": "UNKNOWN"})
    validate(ObjectKind.CHARGING_PROFILE_RESPONSE, {"result": "TOO_OFTEN", "timeout": 10})


def test_token_authorization_bodies() -> None:
    references = {"location_id": "LOC1", "evse_uids": ["3256", "3257"]}
    validate(ObjectKind.LOCATION_REFERENCES, references)
    validate(
        ObjectKind.AUTHORIZATION_INFO,
        {"allowed": "ALLOWED", "token": example(TOKEN), "location": references},
    )
    assert rejection(ObjectKind.LOCATION_REFERENCES, {"evse_uids": ["3256"]}) == (
        "location_id: required field missing"
    )
    assert (
        rejection(
            ObjectKind.AUTHORIZATION_INFO,
            {"allowed": "ALLOWED", "token": {**example(TOKEN), "type": "NFC"}},
        )
        == "token.type: not one of 'AD_HOC_USER', 'APP_USER', 'OTHER' or 'RFID': 'NFC'"
    )


def test_charging_preferences() -> None:
    validate(ObjectKind.CHARGING_PREFERENCES, {"profile_type": "GREEN", "departure_time": NOW})
    assert rejection(ObjectKind.CHARGING_PREFERENCES, {"energy_need": 20}) == (
        "profile_type: required field missing"
    )


def test_spec_rules_across_fields() -> None:
    twice = copy.deepcopy(example("credentials_example.json"))
    twice["roles"].append({**twice["roles"][0], "party_id": "exa"})
    assert rejection(ObjectKind.CREDENTIALS, twice).startswith(
        "roles: role CPO of NL/exa is listed twice"
    )
    unnamed = changed(
        "location_example_uc4_limited_visibility.json",
        lambda b: b["publish_allowed_to"].append({"uid": "123"}),
    )
    assert rejection(ObjectKind.LOCATION, unnamed) == (
        "publish_allowed_to[3].type: SHALL be set when uid is set"
    )
    published = changed(
        "location_example_uc4_limited_visibility.json", lambda b: b.update(publish=True)
    )
    assert rejection(ObjectKind.LOCATION, published) == (
        "publish_allowed_to: may only be used when publish is false"
    )
    closed = changed(LOCATION, lambda b: b.update(opening_times={"twentyfourseven": False}))
    assert rejection(ObjectKind.LOCATION, closed) == (
        "opening_times.regular_hours: at least one entry needed when twentyfourseven=false"
    )
    credit = {**example("cdr_example.json"), "id": "12345-C", "credit": True}
    assert rejection(ObjectKind.CDR, credit) == (
        "credit_reference_id: required for a Credit CDR (credit is true)"
    )
    validate(ObjectKind.CDR, {**credit, "credit_reference_id": "12345"})


def test_coordinates_follow_the_spec_regex() -> None:
    body = changed(LOCATION, lambda b: b["coordinates"].update(latitude="51.04"))
    assert rejection(ObjectKind.LOCATION, body) == (
        r"coordinates.latitude: does not match ^-?[0-9]{1,2}\.[0-9]{5,7}$: '51.04'"
    )
