"""How deep JSON may nest: one limit for what the hub accepts and what it writes back.

Depth counts the objects and arrays a value sits in, the outermost included: ``{}`` is 1,
``{"evses": [{}]}`` is 3. OCPI objects nest about 7 levels (a CDR with its tariffs, the
deepest); vendor fields add some. A stored document may nest ``MAX_DEPTH`` levels: far more
than any OCPI object needs, and, with the 2 levels of the envelope a GET All page adds, far
below what JSON parsers read (orjson writes 254 levels and reads 1024, Python's json about
1000), so a document the hub accepted never breaks a list for the parties that read it.
"""

from __future__ import annotations

from typing import Any, Final

from incar.exactjson.values import ExactObject

MAX_DEPTH: Final = 32


class TooDeep(ValueError):
    """A value nests deeper than allowed; ``depth`` is None when it was too deep to measure."""

    def __init__(self, depth: int | None, limit: int) -> None:
        shown = "too deep to read" if depth is None else f"{depth} levels deep"
        super().__init__(f"JSON nested {shown}, more than {limit} levels")
        self.depth = depth
        self.limit = limit


def depth(value: Any) -> int:
    """The nesting depth of ``value``; an ExactObject whose depth the parser measured is not
    walked again."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, ExactObject) and node.depth is not None:
            deepest = max(deepest, level - 1 + node.depth)
            continue
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, level + 1))
    return deepest


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Raises TooDeep if ``value`` nests deeper than ``limit``."""
    found = depth(value)
    if found > limit:
        raise TooDeep(found, limit)
