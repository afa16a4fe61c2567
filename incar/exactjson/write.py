"""The one JSON writer of the hub: orjson, with the parser's exact values written back exactly.

orjson writes UTF-8 with only the escapes JSON requires (``"``, ``\\``, control characters),
keeps the order of keys and writes no whitespace. A ``Number`` or ``ExactInt`` is written as its
literal; an ``ExactObject`` at the top is its text. Objects nested in a value the hub composed (a
merged PATCH, an EVSE written into its Location) are written anew, their numbers as literals.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from incar.exactjson.depth import MAX_DEPTH, TooDeep, check_depth
from incar.exactjson.values import ExactInt, ExactObject, Number, fits_64_bits

_OPTIONS: Final = orjson.OPT_PASSTHROUGH_SUBCLASS  # int, str, dict, list subclasses: _exact


def _exact(value: Any) -> Any:
    if isinstance(value, Number | ExactInt):
        return orjson.Fragment(value.literal)
    return _builtin(value)


def _builtin(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """``value`` as JSON; numbers the parser read are written as their literals."""
    if isinstance(value, ExactObject):
        return value.text.encode()
    return orjson.dumps(value, default=_exact, option=_OPTIONS)


def dumps_text(value: Any) -> str:
    """``dumps`` as text, for the database (an ExactObject's own text, unencoded)."""
    if isinstance(value, ExactObject):
        return value.text
    return orjson.dumps(value, default=_exact, option=_OPTIONS).decode()


def storable(value: dict[str, Any], limit: int = MAX_DEPTH) -> ExactObject:
    """``value`` with the exact text it is to be stored as; raises TooDeep beyond ``limit``.

    A composed value is written here, once, and its depth is walked only if its text has more
    opening brackets than the limit (a bound of the depth that is cheap to count): a Location
    with a few EVSEs, PATCHed on the hub's hottest path, is not walked.
    """
    if isinstance(value, ExactObject):
        if value.depth is None:
            check_depth(value, limit)
        elif value.depth > limit:
            raise TooDeep(value.depth, limit)
        return value
    try:
        text = dumps_text(value)
    except orjson.JSONEncodeError:
        check_depth(value, limit)  # orjson writes no more than 254 levels: TooDeep, then
        raise
    if text.count("{") + text.count("[") > limit:
        check_depth(value, limit)
    return ExactObject(value, text)


def verbatim(text: str) -> orjson.Fragment:
    """Stored JSON text to put into a value as it is, without parsing or writing it again."""
    return orjson.Fragment(text)


def _plain(value: Any) -> Any:
    if isinstance(value, Number):
        return float(value)  # a non-finite value (1E400) is written as null
    if isinstance(value, ExactInt):
        return int(value) if fits_64_bits(value) else float(value)
    return _builtin(value)


def dumps_plain(value: Any) -> bytes:
    """``value`` as JSON with the parser's numbers as plain values (their float or int): for
    the hub's own messages, such as events, which carry values rather than an owner's text."""
    return orjson.dumps(value, default=_plain, option=_OPTIONS)
