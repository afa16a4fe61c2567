"""A stand-in for a BigchainDB node's transactions API, over real HTTP on loopback (a real node
needs Tendermint and MongoDB, which these machines cannot run).

It keeps the contract of BigchainDB 2.x's ``/api/v1/transactions``:

- ``POST /api/v1/transactions[/]?mode=async|sync|commit``: the body is checked as the node
  checks it, with bigchaindb-driver's own code (``Transaction.validate_id``, ``from_dict``,
  ``inputs_valid``): a wrong id is 400 "Invalid transaction (InvalidHash)", a body that is not
  a transaction 400 "Invalid transaction schema", a bad signature 400 "Invalid transaction
  (InvalidSignature)", one it holds already 400 "Invalid transaction (DuplicateTransaction)";
  a valid one is kept and answered 202 with the transaction;
- ``GET /api/v1/transactions/{id}``: 200 with the transaction, or 404.

A test makes it misbehave: ``fail`` answers the next posts with a 5xx, ``refuse`` answers the
posts of some ids 400 (a rule of a real node's that the stand-in does not check), ``hold`` keeps
posts waiting until released; it is down while not served (``running_node``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from bigchaindb_driver.common.exceptions import (
    DuplicateTransaction,
    InvalidSignature,
    ValidationError,
)
from bigchaindb_driver.common.transaction import Transaction
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serve

MODES = ("async", "sync", "commit")


def _answer(status: int, body: Any) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _answer(status, {"message": message, "status": status})


def validate(data: Any, held: dict[str, Any]) -> None:
    """Raises what the node's validation of a posted CREATE transaction raises."""
    if not isinstance(data, dict):
        raise TypeError("not a transaction object")
    Transaction.validate_id(data)
    transaction = Transaction.from_dict(data)
    if transaction.operation != Transaction.CREATE:
        raise ValidationError("the stand-in takes CREATE transactions only")
    if transaction.id in held:
        raise DuplicateTransaction(f"transaction `{transaction.id}` already exists")
    if not transaction.inputs_valid():
        raise InvalidSignature("Transaction signature is invalid.")


@dataclass
class StandInNode:
    held: dict[str, Any] = field(default_factory=dict)  # committed transactions by id
    posts: list[str] = field(default_factory=list)  # the id of every post, in order
    fail: int = 0  # so many next posts answered ``fail_status``
    fail_status: int = 503
    refuse: set[str] = field(default_factory=set)  # ids answered 400 whatever they hold
    hold: asyncio.Event | None = None  # posts wait for it while it is not set
    url: str = ""

    def committed(self, tx_id: str) -> int:
        """How many posts of ``tx_id`` the node took (each at most once, as a node)."""
        return int(tx_id in self.held)

    async def _post(self, request: Request) -> Response:
        if request.query_params.get("mode", "async") not in MODES:
            return _error(400, "Mode must be one of async, sync, commit")
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _error(400, "Invalid transaction schema: not JSON")
        tx_id = data.get("id") if isinstance(data, dict) else None
        self.posts.append(str(tx_id))
        if self.hold is not None:
            await self.hold.wait()
        if self.fail > 0:
            self.fail -= 1
            return _error(self.fail_status, "Internal Server Error")
        if tx_id in self.refuse:
            return _error(400, "Invalid transaction (ValidationError): refused by the test")
        try:
            validate(data, self.held)
        except ValidationError as error:
            return _error(400, f"Invalid transaction ({type(error).__name__}): {error}")
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            return _error(400, f"Invalid transaction schema: {type(error).__name__}: {error}")
        self.held[data["id"]] = data
        return _answer(202, data)

    async def _get(self, request: Request) -> Response:
        held = self.held.get(request.path_params["tx_id"])
        return _error(404, "Not found") if held is None else _answer(200, held)

    def app(self, url: str) -> Starlette:
        self.url = url
        return Starlette(
            routes=[
                Route("/api/v1/transactions", self._post, methods=["POST"]),
                Route("/api/v1/transactions/", self._post, methods=["POST"]),
                Route("/api/v1/transactions/{tx_id}", self._get, methods=["GET"]),
            ]
        )


@contextlib.asynccontextmanager
async def running_node(node: StandInNode, *, port: int = 0) -> AsyncIterator[str]:
    """Serves ``node`` until the block ends (then it is down); the same ``port`` again is the
    node back at its URL. Yields its root URL (``INCAR_BIGCHAINDB_URL``)."""
    async with serve(node.app, port=port) as running:
        yield running.url
