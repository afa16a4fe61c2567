"""Reads a request body as JSON, or fails with the error the spec or the hub's policy asks for.

Every body the hub accepts passes the one strict parser (``incar.exactjson``): what it reads
is what any receiver reads. Not JSON (syntax, not UTF-8, NaN or Infinity, a lone UTF-16
surrogate) is a transport error: HTTP 400, 2001. A key twice in one object, or nesting deeper
than a stored document may (``MAX_DEPTH``, counted where the body will be stored), is an
invalid body: 2001 (HTTP 200), in both validation modes, since a receiver and the hub would
otherwise read different objects, or one the hub could not serve back.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from incar import exactjson
from incar.exactjson import MAX_DEPTH
from ocpi_adapter.errors import InvalidParameters, MalformedBody


def parse_json(raw: bytes, *, stored_at: int = 0) -> Any:
    """The body's value; ``stored_at`` is how many levels inside a stored document it will be
    kept (an EVSE inside its Location: 2), which its own nesting may not use up."""
    if not raw.strip():
        raise MalformedBody("the request has no body; a JSON object is expected")
    limit = MAX_DEPTH - stored_at
    try:
        return exactjson.parse_body(raw, max_depth=limit)
    except exactjson.NotJson as error:
        raise MalformedBody(f"the request body is not valid JSON: {error}") from None
    except exactjson.DuplicateKey as error:
        raise InvalidParameters(
            f"body: the key {error.key!r} appears twice in one object; receivers would not "
            "agree on its value (hub policy: every key once)"
        ) from None
    except exactjson.TooDeep as error:
        where = f", and this body is kept {stored_at} levels inside one" if stored_at else ""
        found = "too deep to read" if error.depth is None else f"{error.depth} levels deep"
        raise InvalidParameters(
            f"body: nested {found}, more than the {error.limit} allowed here (hub policy: a "
            f"stored document nests at most {MAX_DEPTH} levels{where})"
        ) from None


async def json_body(request: Request) -> Any:
    return parse_json(await request.body())
