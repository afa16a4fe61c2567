"""``GET /ledger/consistency?old=N[&new=M]``: the RFC 9162 consistency path between two tree
sizes, for a party holding signed heads it was given (docs/ledger-headers.md).

Not an OCPI module (OCPI has none for this): a path of the hub's own, for any connected party
with its credentials token, answered in the OCPI envelope so a party's OCPI client reads it.
``new`` defaults to the latest head; the answer names that head's signed note when the hub
signed one of that size, so one call gives a party the newest head and the proof that it
extends the one it kept.
"""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ocpi_adapter.auth import authenticate, hub_of
from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.errors import InvalidParameters
from subgraphs.accounting.ledger import heads
from subgraphs.accounting.ledger.log import latest_head

PATH = "/ledger/consistency"


def _size(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit():
        raise InvalidParameters(f"{name}: a tree size is a whole number 0 or more, got {raw!r}")
    return int(raw)


async def consistency(request: Request) -> Response:
    await authenticate(request, registration_allowed=False)
    old, new = _size(request, "old"), _size(request, "new")
    if old is None:
        raise InvalidParameters("old: the size of the tree head you hold is required")
    async with hub_of(request).db.transaction() as tx:
        if new is None:
            head = await latest_head(tx)
            new = 0 if head is None else head.size
        try:
            path = await heads.consistency_path(tx, old, new)
        except heads.NoSuchSize as problem:
            raise InvalidParameters(str(problem)) from None
        signed = await heads.of_size(tx, new)
    return OcpiResponse(
        {
            "old_size": old,
            "new_size": new,
            "consistency_path": [base64.b64encode(node).decode() for node in path],
            "checkpoint": None if signed is None else signed.checkpoint,
        }
    )


ROUTES = (Route(PATH, consistency, methods=["GET"]),)
