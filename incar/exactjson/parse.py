"""The one strict JSON parser for every body the hub accepts, and the reader of stored texts.

A body the hub accepts is relayed byte for byte and stored as its text, so what the hub reads
from it must be what any receiver reads. Refused:

- text that is not JSON (RFC 8259) or not UTF-8, and the literals ``NaN``, ``Infinity`` and
  ``-Infinity`` (not JSON, though Python's json reads them): ``NotJson``;
- a string with a lone UTF-16 surrogate (``"\\ud800"``): valid JSON syntax, but not Unicode,
  so it cannot be written as UTF-8 or stored by PostgreSQL: ``NotJson``;
- a key twice in one object, at any depth: receivers disagree on which one counts (the first,
  the last, an error), so the hub could not know what they read: ``DuplicateKey``;
- nesting deeper than the caller allows: ``TooDeep``.

Numbers keep their literal where Python would not write them back alike (``values.Number``,
``values.ExactInt``) and a top-level object keeps its text (``values.ExactObject``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from incar.exactjson.depth import TooDeep, depth
from incar.exactjson.values import ExactInt, ExactObject, Number, fits_64_bits

# A \u escape of a UTF-16 surrogate (D800-DFFF); only then can a parsed string hold one.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


class NotJson(ValueError):
    """The text is not JSON the hub can accept (syntax, encoding, NaN, a lone surrogate)."""


class DuplicateKey(ValueError):
    """An object has ``key`` twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"the key {key!r} appears twice in one object")
        self.key = key


def _integer(literal: str) -> int | float:
    if len(literal) < 19 and literal != "-0":  # fits 64 bits: the common case, a plain int
        return int(literal)
    try:
        value = int(literal)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        return Number(literal)
    if literal != "-0" and fits_64_bits(value):
        return value
    return ExactInt(literal)


def _constant(name: str) -> Any:
    raise NotJson(f"{name} is not a JSON value")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(key)
            seen.add(key)
    return obj


_STORED: Final = json.JSONDecoder(parse_float=Number, parse_int=_integer)
_LENIENT: Final = json.JSONDecoder(parse_float=Number, parse_int=_integer, parse_constant=_constant)
_STRICT: Final = json.JSONDecoder(
    parse_float=Number, parse_int=_integer, parse_constant=_constant, object_pairs_hook=_unique
)


def _read(decoder: json.JSONDecoder, text: str, max_depth: int) -> Any:
    try:
        return decoder.decode(text)
    except json.JSONDecodeError as error:
        raise NotJson(str(error)) from None
    except RecursionError:
        raise TooDeep(None, max_depth) from None


def parse_body(raw: bytes, *, max_depth: int) -> Any:
    """A request body: the parsed value (an ExactObject for an object) or an error above."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotJson(f"not UTF-8 ({error.reason} at byte {error.start})") from None
    repeated: DuplicateKey | None = None
    try:
        value = _read(_STRICT, text, max_depth)
    except DuplicateKey as error:
        # Found before the parser reached the end: a body that is not JSON as well is refused
        # as not JSON, whatever it repeats.
        value = _read(_LENIENT, text, max_depth)
        repeated = error
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        _refuse_lone_surrogates(value)
    if repeated is not None:
        raise repeated
    found = depth(value)
    if found > max_depth:
        raise TooDeep(found, max_depth)
    return ExactObject(value, text, found) if isinstance(value, dict) else value


def _refuse_lone_surrogates(value: Any) -> None:
    # A surrogate pair becomes one character; a surrogate left in a string stood alone.
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                raise NotJson(f"a string has a lone UTF-16 surrogate: {node!r}") from None


def parse_stored(text: str) -> Any:
    """A document the hub stored (it passed ``parse_body`` or an older version's checks)."""
    value = _STORED.decode(text)
    return ExactObject(value, text) if isinstance(value, dict) else value
