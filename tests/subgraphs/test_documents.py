"""A subgraph keeps the documents it has checked (``subgraphs.common.documents``): a document
sent again is neither parsed nor validated again, yet refused exactly as the first time, only
under the limits it was checked with, and the cache stays bounded."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.federation import Schema

from gateway.limits import limits
from subgraphs.common.app import SubgraphSchema, federation_schema
from subgraphs.common.documents import DocumentCache
from subgraphs.common.masking import ErrorCodes


@strawberry.type
class Node:
    @strawberry.field
    def child(self) -> Node:
        return Node()

    @strawberry.field
    def leaf(self) -> int:
        return 1


@strawberry.type
class Query:
    @strawberry.field
    def node(self) -> Node:
        return Node()

    @strawberry.field
    def echo(self, value: int) -> int:
        return value

    @strawberry.field
    def count(self, values: list[int]) -> int:
        return len(values)


def nested(levels: int) -> str:
    return "{ node { " + "child { " * levels + "leaf" + " }" * levels + " } }"


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{n}: echo(value: {n})" for n in range(count)) + " }"


def tokens(count: int) -> str:
    """Exactly ``count`` tokens (``{ count ( values : [`` and ``] ) }`` are nine)."""
    return "{ count(values: [" + "1 " * (count - 9) + "]) }"


def schema() -> SubgraphSchema:
    return federation_schema(query=Query)


async def run(target: Schema, query: str, **variables: Any) -> tuple[Any, list[Any]]:
    result = await target.execute(query, variable_values=variables or None)
    codes = [(e.extensions or {}).get("code") for e in result.errors or []]
    return result.data, codes


async def test_a_document_sent_again_is_taken_from_the_cache() -> None:
    graph = schema()
    query = "query($v: Int!) { echo(value: $v) }"
    assert await run(graph, query, v=1) == ({"echo": 1}, [])
    assert (graph.documents.hits, graph.documents.misses, len(graph.documents)) == (0, 1, 1)
    # Other variables, the same document: one parse and one validation served both.
    assert await run(graph, query, v=2) == ({"echo": 2}, [])
    assert (graph.documents.hits, len(graph.documents)) == (1, 1)


async def test_a_cached_document_is_still_refused_at_its_limit_with_the_code() -> None:
    graph = schema()
    for query, code in (
        (nested(limits().max_depth - 1), "MAX_DEPTH_EXCEEDED"),
        (aliased(limits().max_aliases + 1), "MAX_ALIASES_EXCEEDED"),
    ):
        first = await run(graph, query)
        hits = graph.documents.hits
        again = await run(graph, query)
        assert first == again == (None, [code])
        assert graph.documents.hits == hits + 1  # the refusal came from the cache
    # Within the limits, cached or not, an operation passes.
    for query in (nested(limits().max_depth - 2), aliased(limits().max_aliases)):
        for _ in range(2):
            data, codes = await run(graph, query)
            assert data is not None and codes == []


async def test_past_the_token_limit_is_refused_every_time_and_never_kept() -> None:
    graph = schema()
    query = tokens(limits().max_tokens + 1)
    for _ in range(2):
        assert await run(graph, query) == (None, ["MAX_TOKENS_EXCEEDED"])
    assert len(graph.documents) == 0
    assert await run(graph, tokens(limits().max_tokens)) == (
        {"count": limits().max_tokens - 9},
        [],
    )


async def test_a_document_checked_without_the_limits_is_not_taken_as_checked_with_them() -> None:
    """One cache behind two schemas, one without limits: what passed there is kept under
    other rules and options, so the schema with limits checks it itself and refuses it."""
    shared = DocumentCache()
    loose = Schema(query=Query, extensions=[shared.extension(), ErrorCodes])
    strict = federation_schema(query=Query, documents=shared)
    deep = nested(limits().max_depth + 5)
    data, codes = await run(loose, deep)
    assert data is not None and codes == []
    assert await run(strict, deep) == (None, ["MAX_DEPTH_EXCEEDED"])
    assert len(shared) == 2


async def test_the_cache_is_bounded_in_documents_and_in_text() -> None:
    cache = DocumentCache(max_documents=3, max_text=200)
    graph = Schema(query=Query, extensions=[cache.extension()])
    for n in range(5):
        assert await run(graph, f"{{ echo(value: {n}) }}") == ({"echo": n}, [])
    assert len(cache) == 3
    # The oldest went first: the first two are checked anew, the last three were kept.
    await run(graph, "{ echo(value: 4) }")
    assert cache.hits == 1
    await run(graph, "{ echo(value: 0) }")
    assert cache.hits == 1 and len(cache) == 3
    long = "{ echo(value: 1) " + " " * 200 + "}"
    assert await run(graph, long) == ({"echo": 1}, [])
    assert len(cache) == 3 and cache.get(long) is None
