"""The values the exact parser builds where Python's own would not write back what was sent.

A float cannot say whether it was written ``0.1`` or ``0.10000000000000000555`` (or ``1E400``,
which it reads as infinity), and an int does not remember ``-0``; orjson, the writer, cannot
write integers beyond 64 bits at all. So such numbers are kept as subclasses of float and int
that carry their literal, and the writer puts the literal back. Their value is what the rest
of the code computes with, as with any float or int.

A JSON object parsed from a text keeps that text (``ExactObject``), so the hub can store and
serve it byte for byte while the services read it as a dict.
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

_INT64_MIN: Final = -(2**63)
_UINT64_MAX: Final = 2**64 - 1


def fits_64_bits(value: int) -> bool:
    """Whether orjson can write ``value`` (it writes integers of at most 64 bits)."""
    return _INT64_MIN <= value <= _UINT64_MAX


class Number(float):
    """A JSON number with a fraction or an exponent, with its literal (``1.50``, ``1E400``); also
    an integer of more digits than Python converts to int."""

    __slots__ = ("literal",)
    literal: str

    def __new__(cls, literal: str) -> Number:
        number = super().__new__(cls, literal)
        number.literal = literal
        return number

    def __repr__(self) -> str:
        return self.literal

    def __reduce__(self) -> tuple[type[Number], tuple[str]]:
        return Number, (self.literal,)


class ExactInt(int):
    """A JSON integer Python or orjson would not write back as sent: ``-0``, or one beyond 64
    bits. (int subclasses cannot have ``__slots__``; these are rare.)"""

    literal: str

    def __new__(cls, literal: str) -> ExactInt:
        number = super().__new__(cls, literal)
        number.literal = literal
        return number

    def __repr__(self) -> str:
        return self.literal

    def __reduce__(self) -> tuple[type[ExactInt], tuple[str]]:
        return ExactInt, (self.literal,)


class ExactObject(dict[str, Any]):
    """A JSON object as parsed, with the exact text it was parsed from.

    Read-only, so that the dict and its text can never tell different stories: a change is made
    on a copy (``dict(obj)``, ``{**obj, ...}``), which is a plain dict and written anew.
    ``depth`` is its nesting depth when the parser measured it (``None`` if not).
    """

    __slots__ = ("depth", "text")

    def __init__(self, items: dict[str, Any], text: str, depth: int | None = None) -> None:
        super().__init__(items)
        self.text = text
        self.depth = depth

    def __reduce__(self) -> tuple[type[ExactObject], tuple[dict[str, Any], str, int | None]]:
        return ExactObject, (dict(self), self.text, self.depth)

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("an ExactObject is read-only: change a copy, dict(obj)")

    __setitem__ = _read_only
    __delitem__ = _read_only
    __ior__ = _read_only
    clear = _read_only
    pop = _read_only
    popitem = _read_only
    setdefault = _read_only
    update = _read_only
