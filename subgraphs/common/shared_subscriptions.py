"""One execution per distinct subscription, its encoded results sent to every subscriber of it.

Strawberry runs each graphql-transport-ws ``subscribe`` as an operation of its own: its own
bus subscription, its own graphql-core execution of every event through the selection set,
its own JSON encoding. 500 dashboards watching one box cost 500 executions per event, and the
gateway puts every anonymous subscription of all its clients onto one WebSocket to the
subgraph, so a box watched by many is the common case, not the exception (``bench.graph``:
executing per subscriber was 41 % of the subgraph's event loop, sending 32 %).

A subscription's results depend on nothing but its document, variables, operation name, the
viewer's scope (what the resolvers read of who asks) and the platform's state at each event.
Subscriptions equal in those four share one ``Broadcast``: one execution, each result
encoded once, every member sent the same payload under its own operation id. A member that
joins a running broadcast gets the events from then on, as a new subscription of its own
would. Each member keeps its own bounded queue and its own send, so a slow socket delays its
own subscriptions only; past ``FEED_CAPACITY`` unsent results the member is sent what it has,
then a CLIENT_TOO_SLOW error, and its subscription completes: never a silent gap (results are
executed once for all members, so one cannot be re-read for a single member as the bus's
subscriber re-reads the log). The client resumes with ``after`` set to the last ``cursor`` it
received. The broadcast ends with its last member.

A subscription given a non-null ``after`` argument is not shared: it replays the events after
its own cursor, which a member joining a running broadcast would not get.

Only subscriptions whose document parses and names a subscription operation are shared, and
only on a view that gives the connection a scope (``SharingGraphQL.sharing_scope``); every
other operation (queries over WebSocket, bad documents, the legacy graphql-ws protocol) runs
through Strawberry's own path unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping
from typing import Any, Final

import orjson
from graphql import (
    GraphQLError,
    NullValueNode,
    OperationType,
    ValueNode,
    VariableNode,
    get_operation_ast,
    parse,
)
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError

from subgraphs.common.errors import Code, error

log = logging.getLogger(__name__)

#: Results a member may have waiting unsent before its oldest is dropped (the bus's default).
FEED_CAPACITY: Final = 1024

type Key = tuple[str, bytes, str | None, Hashable]
type Start = Callable[[], Awaitable[AsyncIterator[Any]]]


class _Incremental:
    """The stream produced incremental-delivery frames, which a ``next`` cannot carry."""


INCREMENTAL: Final = _Incremental()
#: What a broadcast hands its members: a ``next`` payload already encoded as JSON text, the
#: pre-execution error every member refuses its subscription with, or INCREMENTAL.
type Item = str | PreExecutionError | _Incremental


class Feed:
    """One member's results, in order, until the broadcast ends, the member leaves or it
    falls ``capacity`` results behind (``overflowed``: it gets no more)."""

    def __init__(self, capacity: int = FEED_CAPACITY) -> None:
        self.capacity = capacity
        self.overflowed = False
        self._items: deque[Item] = deque()
        self._ready = asyncio.Event()
        self._ended = False

    def push(self, item: Item) -> None:
        if self._ended:
            return
        if len(self._items) >= self.capacity:
            self.overflowed = True
            self.end()
            return
        self._items.append(item)
        self._ready.set()

    def end(self) -> None:
        self._ended = True
        self._ready.set()

    def __aiter__(self) -> Feed:
        return self

    async def __anext__(self) -> Item:
        while not self._items:
            if self._ended:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class Broadcast:
    """One running subscription and the members it sends to."""

    def __init__(self, registry: Broadcasts, key: Key, start: Start) -> None:
        self.registry = registry
        self.key = key
        self.members: set[Feed] = set()
        self.task = asyncio.create_task(self._run(start), name="shared subscription")

    async def _run(self, start: Start) -> None:
        try:
            source = await start()
            async with contextlib.aclosing(source):  # type: ignore[type-var]
                first = True
                async for result in source:
                    if first and isinstance(result, PreExecutionError):
                        self._send(result)
                        return
                    if not isinstance(result, ExecutionResult):
                        self._send(INCREMENTAL)
                        return
                    first = False
                    if result.errors:
                        # A result with errors is often the last (a resolver that refused):
                        # whoever subscribes from now on runs anew and gets its own.
                        self.registry.forget(self)
                    self._send(self.registry.encode(result))
        except Exception:
            # Strawberry logs an operation that crashed and completes it; so does a broadcast,
            # once for all its members.
            log.exception("a shared subscription failed")
        finally:
            self.registry.forget(self)
            for member in self.members:
                member.end()

    def _send(self, item: Item) -> None:
        for member in self.members:
            member.push(item)

    def leave(self, member: Feed) -> None:
        member.end()
        self.members.discard(member)
        if not self.members:
            self.registry.forget(self)
            self.task.cancel()


class Broadcasts:
    """The running broadcasts of one subgraph, by key; ``encode`` turns a result into the
    JSON text of a ``next`` payload."""

    def __init__(self, encode: Callable[[ExecutionResult], str]) -> None:
        self.encode = encode
        self.running: dict[Key, Broadcast] = {}

    def forget(self, broadcast: Broadcast) -> None:
        if self.running.get(broadcast.key) is broadcast:
            del self.running[broadcast.key]

    @contextlib.asynccontextmanager
    async def join(self, key: Key, start: Start) -> AsyncIterator[Feed]:
        """The feed of the broadcast of ``key``, started with ``start`` if none is running."""
        broadcast = self.running.get(key)
        if broadcast is None:
            broadcast = self.running[key] = Broadcast(self, key, start)
        feed = Feed()
        broadcast.members.add(feed)
        try:
            yield feed
        finally:
            broadcast.leave(feed)


def shareable_subscription(
    query: str, operation_name: str | None, variables: Mapping[str, Any], max_tokens: int
) -> bool:
    """Whether the document parses (within the token limit), its chosen operation is a
    subscription, and none of its fields resumes ``after`` a cursor. A document that fails
    here takes Strawberry's path, which refuses it or runs it on its own. (Parsed anew each
    time, not cached: a subscribe is rare beside its events, and a cache keyed by documents
    would hold whatever clients send.)"""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return False
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return False
    for selection in operation.selection_set.selections:
        for argument in getattr(selection, "arguments", None) or ():
            if argument.name.value == "after" and _given(argument.value, variables):
                return False
    return True


def _given(value: ValueNode, variables: Mapping[str, Any]) -> bool:
    if isinstance(value, NullValueNode):
        return False
    if isinstance(value, VariableNode):
        return variables.get(value.name.value) is not None
    return True


def next_payload(result: ExecutionResult) -> dict[str, Any]:
    """A ``next`` message's payload, as Strawberry's own ``Operation.send_next`` builds it."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload


class SharingWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, able to send a message already encoded."""

    async def send_text(self, text: str) -> None:
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class SharingTransportWSHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws with shared subscriptions; the protocol's rules (ids, limits,
    refusals, complete) stay Strawberry's, since each member is still an operation of its
    connection."""

    view: SharingGraphQL

    def share_key(self, operation: Operation[Any, Any]) -> Key | None:
        scope = self.view.sharing_scope(self.context)
        if scope is None or not isinstance(operation.query, str):
            return None
        if not shareable_subscription(
            operation.query,
            operation.operation_name,
            operation.variables or {},
            self.view.max_tokens,
        ):
            return None
        try:
            variables = orjson.dumps(operation.variables or {}, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None
        return (operation.query, variables, operation.operation_name, scope)

    async def run_operation(self, operation: Operation[Any, Any]) -> None:
        key = self.share_key(operation)
        if key is None:
            await super().run_operation(operation)
            return

        def start() -> Awaitable[AsyncIterator[Any]]:
            return self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=self.view.shared_context(self.context),
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )

        try:
            async with self.view.broadcasts.join(key, start) as feed:
                async for item in feed:
                    if isinstance(item, str):
                        await self.send_next(operation, item)
                    elif isinstance(item, PreExecutionError):
                        await self.refuse(operation, item)
                        return
                    else:
                        await self._reject_incremental_delivery(operation)
                        return
                if feed.overflowed:
                    await self.send_next(operation, self.view.too_slow_payload())
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
        except WebSocketDisconnected:
            return  # the connection's own shutdown cleans up its operations

    async def send_next(self, operation: Operation[Any, Any], payload: str) -> None:
        if operation.completed:
            return
        assert isinstance(self.websocket, SharingWebSocketAdapter)
        operation_id = orjson.dumps(operation.id).decode()
        await self.websocket.send_text(f'{{"id":{operation_id},"type":"next","payload":{payload}}}')

    async def refuse(self, operation: Operation[Any, Any], result: PreExecutionError) -> None:
        """As Strawberry refuses a subscription before it runs: a document it cannot run
        closes the connection (4400), any other error is the operation's ``error``."""
        assert result.errors
        reason = self._get_pre_execution_close_reason(result.errors[0])
        if reason is not None:
            self.operations.pop(operation.id, None)
            await self.websocket.close(code=4400, reason=reason)
            return
        await operation.send_initial_errors(result.errors)


class SharingGraphQL(GraphQL[Any, Any]):
    """Strawberry's ASGI view whose graphql-transport-ws subscriptions are shared among the
    connections whose ``sharing_scope`` is equal. The scope is None by default (nothing is
    shared): a view knows what its resolvers read of a connection's context."""

    graphql_transport_ws_handler_class = SharingTransportWSHandler
    websocket_adapter_class = SharingWebSocketAdapter
    #: The token limit a document is parsed under before it is known to be a subscription.
    max_tokens: int = 2000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.broadcasts = Broadcasts(lambda result: self.encode_json_string(next_payload(result)))

    def too_slow_payload(self) -> str:
        """The ``next`` a member gets once its feed overflowed, before its ``complete``."""
        result = ExecutionResult(
            data=None,
            errors=[
                error(
                    Code.CLIENT_TOO_SLOW,
                    f"{FEED_CAPACITY} results were waiting unread: this subscription ends "
                    "here; subscribe again with `after` set to the last cursor received",
                )
            ],
        )
        return self.encode_json_string(next_payload(result))

    def sharing_scope(self, context: Any) -> Hashable | None:
        """What of the connection's context the resolvers of a subscription read (equal for
        every connection they would answer alike), or None not to share its subscriptions."""
        return None

    def shared_context(self, context: Any) -> Any:
        """The context a broadcast started from this connection runs with; it outlives the
        connection if others joined, so it must hold nothing tied to it."""
        return context
