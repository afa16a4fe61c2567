"""Callbacks the hub keeps itself: the results of commands it sent for the graph.

Such a hub URL stands for no peer's URL (``Callback.kept_by_hub``): the eMSP on whose behalf
the command went sent nothing, so the CPO's CommandResult is stored, never forwarded, and the
hub gives the CPO the answer the eMSP would have given. Who may call it and until when is
decided as for every hub URL (``callbacks.resolve``); repeats as for forwarded results (check
44): a byte-identical repeat is refused, a different result (a later cancellation) is stored.
"""

from __future__ import annotations

import logging

from starlette.responses import Response

from ocpi_adapter.context import Hub
from ocpi_adapter.envelope import OcpiResponse
from ocpi_adapter.errors import InvalidParameters
from ocpi_adapter.headers import PartyRef, Routing
from ocpi_adapter.routing import callbacks, checks
from ocpi_adapter.routing.models import Callback
from ocpi_adapter.routing.request import RoutedRequest

log = logging.getLogger("incar.hub.store")


async def accept(hub: Hub, request: RoutedRequest, callback: Callback) -> Response:
    """Stores the result the CPO sent through a hub-kept URL and answers it with 1000."""
    store = request.operation.store
    assert store is not None, "only command results come through hub-kept URLs"
    if not request.body_valid:
        # The hub is this result's receiver, so it must read it, in either validation mode:
        # there is nobody to relay an invalid body to.
        raise checks.body_problem(request.operation, request.params, request.body) or (
            InvalidParameters("body: not a valid result")
        )
    on_behalf_of = PartyRef(callback.target_country_code, callback.target_party_id)
    async with hub.db.transaction(write=True) as tx:
        # Read again under the write lock: of two identical results at once, one is refused.
        current = await tx.get(Callback, callback.id, with_for_update=True)
        assert current is not None
        callbacks.refuse_repeat(current, request.raw_body)
        await callbacks.delivered(tx, callback_id=callback.id, body=request.raw_body)
        outcome = await store(
            tx, request.store_input(receiver=on_behalf_of, callback_id=callback.id)
        )
    log.debug("result through hub-kept %s stored: %s", callback.id, outcome.value)
    return OcpiResponse(headers=Routing(sender=on_behalf_of, receiver=request.sender).as_headers())
