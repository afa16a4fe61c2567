"""incar.exactjson: the strict parser, the exact writer and the depth limit, as functions.

The hub's use of them over HTTP is in tests/test_stored_bytes.py.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

from incar import exactjson
from incar.events import Event
from incar.exactjson import DuplicateKey, ExactInt, ExactObject, NotJson, Number, TooDeep


def parse(raw: bytes, max_depth: int = exactjson.MAX_DEPTH) -> Any:
    return exactjson.parse_body(raw, max_depth=max_depth)


def test_numbers_keep_their_literals_and_compute_as_numbers() -> None:
    raw = (
        b'{"big": 123456789012345678901234567890, "long": 0.1000000000000000055511151231257827,'
        b' "huge": 1E400, "zero": -0, "one": 1.0, "small": 7, "exp": 1e-5}'
    )
    value = parse(raw)
    assert isinstance(value, ExactObject)
    assert value.text == raw.decode()
    assert type(value["small"]) is int
    assert isinstance(value["big"], ExactInt) and value["big"] == 123456789012345678901234567890
    assert isinstance(value["zero"], ExactInt) and value["zero"] == 0
    assert isinstance(value["long"], Number) and value["long"] == 0.1
    assert value["huge"] == float("inf")
    assert exactjson.dumps(dict(value)) == (
        b'{"big":123456789012345678901234567890,"long":0.1000000000000000055511151231257827,'
        b'"huge":1E400,"zero":-0,"one":1.0,"small":7,"exp":1e-5}'
    )


def test_the_writer_keeps_key_order_and_writes_utf8_with_only_required_escapes() -> None:
    value = parse(b'{"z": "caf\\u00e9 \\/ \\"q\\" \\u0001", "a": ["\\ud83d\\ude00"]}')
    assert exactjson.dumps(dict(value)) == '{"z":"café / \\"q\\" \\u0001","a":["😀"]}'.encode()
    assert exactjson.dumps(value) == value.text.encode()  # an ExactObject is its own text


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"a": NaN}', NotJson),
        (b'{"a": Infinity}', NotJson),
        (b'{"a": -Infinity}', NotJson),
        (b'{"a": "\\ud800"}', NotJson),
        (b'{"a": ["x\\udfff"]}', NotJson),
        (b'{"\\ud800": 1}', NotJson),
        (b'{"a": "\xff"}', NotJson),
        (b'{"a": 1,', NotJson),
        (b'{"a": 1, "a": 1', NotJson),  # not JSON wins over the repeated key
        (b'{"a": 1, "a": 2}', DuplicateKey),
        (b'[{"b": {"c": 1, "c": 1}}]', DuplicateKey),
        (b"[" * 100_000 + b"]" * 100_000, TooDeep),
    ],
)
def test_refused(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse(raw)


def test_an_escaped_backslash_before_u_is_no_surrogate() -> None:
    assert parse(b'{"a": "\\\\ud800"}') == {"a": "\\ud800"}


def test_depth_counts_every_object_and_array() -> None:
    assert exactjson.depth({}) == 1
    assert exactjson.depth({"evses": [{"connectors": [{}]}]}) == 5
    assert exactjson.depth(7) == 0
    parse(b"[[[1]]]", max_depth=3)
    with pytest.raises(TooDeep) as refused:
        parse(b'{"a": [[1]]}', max_depth=2)
    assert (refused.value.depth, refused.value.limit) == (3, 2)
    child = parse(b'{"x": [[]]}')
    assert child.depth == 3
    assert exactjson.depth({"evses": [child]}) == 5  # counted where it is kept


def test_an_exact_object_is_read_only_and_copies_as_a_plain_dict() -> None:
    value = parse(b'{"a": 1.50}')
    with pytest.raises(TypeError):
        value["a"] = 2
    with pytest.raises(TypeError):
        value.update(a=2)
    assert type(dict(value)) is dict and type({**value}) is dict
    for twin in (copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert twin == value and twin.text == value.text
        assert exactjson.dumps(dict(twin)) == b'{"a":1.50}'


def test_a_stored_text_reads_back_with_its_text() -> None:
    text = '{"a" : 1.50,\n "b": [1, 2]}'
    value = exactjson.parse_stored(text)
    assert isinstance(value, ExactObject) and value.text == text
    assert exactjson.dumps_text(value) == text


def test_events_carry_the_parsers_numbers_as_plain_values() -> None:
    value = parse(b'{"kwh": 1.50, "big": 123456789012345678901234567890, "z": -0, "x": 1E400}')
    encoded = Event(topic="t", payload=dict(value)).to_json()
    payload = Event.from_json(encoded).payload
    assert payload == {"kwh": 1.5, "big": 1.2345678901234568e29, "z": 0, "x": None}


def test_a_composed_document_is_written_once_and_its_depth_checked() -> None:
    composed = {"a": [1.0, parse(b'{"x": 1.50}')], "b": "[[[[{{{{"}  # brackets in a string
    stored = exactjson.storable(composed, limit=3)
    assert isinstance(stored, ExactObject)
    assert stored.text == '{"a":[1.0,{"x":1.50}],"b":"[[[[{{{{"}'
    with pytest.raises(TooDeep):
        exactjson.storable({"a": [[{}]]}, limit=3)
    body = parse(b'{"a": [[1]]}')
    assert exactjson.storable(body, limit=3) is body  # a body is stored as it came
    with pytest.raises(TooDeep):
        exactjson.storable(body, limit=2)
    deeper_than_orjson_writes: Any = []
    for _ in range(300):
        deeper_than_orjson_writes = [deeper_than_orjson_writes]
    with pytest.raises(TooDeep):
        exactjson.storable({"a": deeper_than_orjson_writes})
