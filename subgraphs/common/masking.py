"""What a subgraph's errors tell a client: a code for each refusal, nothing of the unexpected.

Strawberry's limiters refuse without ``extensions.code``; the gateway's refusals carry one
(``MAX_DEPTH_EXCEEDED`` ...), so a subgraph reached directly gives the same codes. An exception
a resolver did not mean to show (anything but a GraphQLError) is masked, as the gateway masks
its own: the gateway passes a subgraph's errors through as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult, StreamExecutionResult

MASKED_MESSAGE = "Unexpected error."
INTERNAL = "INTERNAL_SERVER_ERROR"
# Strawberry's (and graphql-core's) messages for its limiters' refusals, and the gateway's code
# for each; a test refuses each limit so a changed message cannot go unnoticed.
LIMIT_CODES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"exceeds maximum operation depth of \d+"), "MAX_DEPTH_EXCEEDED"),
    (re.compile(r"\d+ aliases found\. Allowed: \d+"), "MAX_ALIASES_EXCEEDED"),
    (re.compile(r"Document contains more than \d+ tokens"), "MAX_TOKENS_EXCEEDED"),
)


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def limit_code(error: GraphQLError) -> str | None:
    return next((code for pattern, code in LIMIT_CODES if pattern.search(error.message)), None)


def with_code(error: GraphQLError, code: str, message: str | None = None) -> GraphQLError:
    return GraphQLError(
        message=message or error.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={**(error.extensions or {}), "code": code},
    )


def shown(error: GraphQLError) -> GraphQLError:
    """The error as the client may see it."""
    if is_unexpected(error):
        return with_code(error, INTERNAL, MASKED_MESSAGE)
    code = limit_code(error)
    if code is not None and not (error.extensions or {}).get("code"):
        return with_code(error, code)
    return error


def mask(result: object) -> None:
    if isinstance(result, (GraphQLExecutionResult, ExecutionResult)) and result.errors:
        result.errors = [shown(error) for error in result.errors]


class ErrorCodes(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        mask(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # Each event of a subscription is a result of its own, sent after on_operation
        # has ended: an error while one is executed, or the source's failure between
        # events, is masked here.
        mask(result)
        yield
