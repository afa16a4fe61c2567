"""A BigchainDB node's HTTP API, as far as the ledger's outbox needs it: post a signed
transaction (``POST /api/v1/transactions/?mode=commit``, the path and mode bigchaindb-driver's
``transactions.send_commit`` uses) and look one up by id (``GET /api/v1/transactions/{id}``).

What a post comes to is one of three: the node holds the transaction (``Delivered``), it calls
it invalid (``Refused``: HTTP 400, which no retry changes), or it could not say (``Failed``: no
connection, a timeout, any other answer; worth a retry). A node refuses a transaction it
already holds (400, DuplicateTransaction): a post whose answer was lost, sent again. So before
a 400 counts as a refusal, the transaction is looked up, and one the node holds, with the same
content, is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import orjson

TRANSACTIONS = "/api/v1/transactions/"


@dataclass(frozen=True, slots=True)
class Delivered:
    pass


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str


Result = Delivered | Refused | Failed


def _message(answer: httpx.Response) -> str:
    """The node's error message (``{"message": ..., "status": ...}``), else the body's start."""
    try:
        body = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return f"HTTP {answer.status_code}: {body['message']}"
    return f"HTTP {answer.status_code}: {answer.text[:200]!r}"


class NodeClient:
    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(timeout=timeout)

    async def post(self, tx_id: str, body: bytes) -> Result:
        """Posts the transaction ``body`` (its canonical bytes, as signed) of id ``tx_id``."""
        try:
            answer = await self._client.post(
                f"{self.url}{TRANSACTIONS}",
                params={"mode": "commit"},
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as error:
            return Failed(f"{type(error).__name__}: {error}".rstrip(": "))
        if answer.is_success:
            return Delivered()
        if answer.status_code != 400:
            return Failed(_message(answer))
        refusal = _message(answer)
        try:
            held = await self.holds(tx_id, body)
        except httpx.HTTPError as error:
            return Failed(f"{refusal}; then the lookup failed: {type(error).__name__}")
        if held is None:
            return Failed(f"{refusal}; then the lookup could not tell")
        return Delivered() if held else Refused(refusal)

    async def holds(self, tx_id: str, body: bytes) -> bool | None:
        """Whether the node has the transaction ``tx_id`` with the content of ``body``; None
        if its answer does not say (neither the transaction nor 404)."""
        answer = await self._client.get(f"{self.url}{TRANSACTIONS}{tx_id}")
        if answer.status_code == 404:
            return False
        if answer.status_code != 200:
            return None
        try:
            return bool(orjson.loads(answer.content) == orjson.loads(body))
        except orjson.JSONDecodeError:
            return None

    async def close(self) -> None:
        await self._client.aclose()
