"""Build a subgraph's federation schema and its ASGI app the same way for every subgraph.

The gateway is the door for clients, but a subgraph is reachable on its own (the distributed
deployment puts each behind its own service), so it refuses what the gateway refuses, with the
same values (``gateway/limits.json``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, Final, Literal

from graphql.error import GraphQLError
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.federation import Schema
from strawberry.printer import print_schema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.execution import ExecutionContext

from gateway.limits import limits
from subgraphs.common.auth import Authenticated
from subgraphs.common.documents import DocumentCache
from subgraphs.common.masking import ErrorCodes, is_unexpected
from subgraphs.common.shared_subscriptions import SharingGraphQL

# The graph's federation version: every subgraph links the same spec, so composition never
# mixes directive sets.
FEDERATION_VERSION: Final[Literal["2.7"]] = "2.7"

# Strawberry builds an extension per operation from a class or a factory (an extension keeps
# the operation's state on itself, so one instance must not serve two operations).
type Extension = type[SchemaExtension] | Callable[[], SchemaExtension]


def limit_extensions() -> list[Extension]:
    """Strawberry's counterparts of the gateway's depth, alias and token limits."""
    graph = limits()
    # The limiters make their rule classes when they are made; made once here, every operation
    # gets the same classes, so a checked document can be kept under them (DocumentCache).
    rules = [
        # GraphQL Armor (the gateway) counts leaf fields as a level, Strawberry does not: one
        # less here refuses exactly the operations the gateway refuses.
        *QueryDepthLimiter(max_depth=graph.max_depth - 1).validation_rules,
        *MaxAliasesLimiter(max_alias_count=graph.max_aliases).validation_rules,
    ]
    return [
        partial(AddValidationRules, rules),
        partial(MaxTokensLimiter, max_token_count=graph.max_tokens),
    ]


log = logging.getLogger("incar.graph")


class SubgraphSchema(Schema):
    """A federation schema with the cache of the documents it has checked."""

    documents: DocumentCache

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # A refusal the graph means (its code, no unexpected exception behind it: NO_ROUTE,
        # BAD_USER_INPUT ...) is an answer, not the server's fault: one line at INFO. The
        # unexpected keep Strawberry's ERROR with their traceback.
        unexpected = []
        for error in errors:
            code = (error.extensions or {}).get("code")
            if code and not is_unexpected(error):
                log.info("%s: %s", code, error.message)
            else:
                unexpected.append(error)
        if unexpected:
            super().process_errors(unexpected, execution_context)


def federation_schema(
    *,
    query: type,
    mutation: type | None = None,
    subscription: type | None = None,
    types: Iterable[type] = (),
    extensions: Sequence[Extension] = (),
    documents: DocumentCache | None = None,
) -> SubgraphSchema:
    """A subgraph's schema: Federation 2 at the graph's version, with the graph's limits, and
    the documents it has checked kept by their text (its own cache: another schema's checks
    say nothing about this one)."""
    documents = DocumentCache() if documents is None else documents
    schema = SubgraphSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        types=types,
        extensions=[
            *limit_extensions(),
            documents.extension(),
            Authenticated,
            ErrorCodes,
            *extensions,
        ],
        federation_version=FEDERATION_VERSION,
    )
    schema.documents = documents
    return schema


def subgraph_app(
    schema: Schema, *, graphql_ide: bool = False, view: type[GraphQL[Any, Any]] = SharingGraphQL
) -> GraphQL[Any, Any]:
    """The ASGI app serving ``schema`` over HTTP and both WebSocket protocols.

    Hive Gateway multiplexes all subscriptions with the same token, and all anonymous ones,
    onto one WebSocket to the subgraph, so Strawberry's default cap of 100 operations per
    connection would refuse the 101st dashboard watching a station; the cap is raised, not
    removed, so one connection still cannot hold unbounded work.
    """
    app = view(
        schema,
        graphql_ide="graphiql" if graphql_ide else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
        max_subscriptions_per_connection=limits().max_subscriptions_per_connection,
    )
    if isinstance(app, SharingGraphQL):
        app.max_tokens = limits().max_tokens
    return app


def federation_sdl(schema: Schema) -> str:
    """The SDL the subgraph publishes in ``_service { sdl }`` (plus a final newline, for a
    file): its types with the federation ``@link`` and directives. Strawberry prints
    ``_service`` and ``_entities`` too; composition ignores them."""
    return print_schema(schema) + "\n"
