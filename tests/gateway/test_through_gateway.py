"""Through a real Hive Gateway to two real Strawberry subgraphs: joins, tokens, subscriptions
over both client transports, multiplexing past Strawberry's default cap, limits and masking."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.limits import limits
from tests.gateway.clients import post, subscribe_sse, subscribe_ws
from tests.gateway.conftest import Graph

TICKS = """
subscription Ticks($count: Int!, $together: Int!) {
  ticks(count: $count, together: $together) {
    n seenBy station { id status statusSeenBy }
  }
}
"""


def distinct(n: int) -> str:
    """TICKS under an operation name of its own: the gateway shares equal subscriptions, and
    these tests need each to reach the subgraph."""
    return TICKS.replace("subscription Ticks(", f"subscription Ticks{n}(")


def nested(levels: int) -> str:
    """``{ node { child { ... { leaf } } } }`` with ``levels`` children: GraphQL Armor counts
    ``levels + 2`` levels (node and the leaf included)."""
    return "{ node { " + "child { " * levels + "leaf" + " }" * levels + " } }"


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{n}: seenBy" for n in range(count)) + " }"


def tokens(count: int) -> str:
    """An operation of exactly ``count`` tokens: ``{ count ( values : [`` and ``] ) }`` are
    nine, the rest are list items (many equal fields would trip graphql-js's own budget for
    comparing fields first)."""
    return "{ count(values: [" + "1 " * (count - 9) + "]) }"


def codes(result: dict[str, object]) -> list[object]:
    errors = result.get("errors")
    assert isinstance(errors, list), result
    return [error.get("extensions", {}).get("code") for error in errors]


async def test_a_query_joins_both_subgraphs_and_each_sees_the_token(graph: Graph) -> None:
    result = await post(
        graph.url,
        "{ seenBy stations(first: 2) { id name status statusSeenBy } }",
        token="Bearer ann",
    )
    assert result == {
        "data": {
            "seenBy": "Bearer ann",
            "stations": [
                {
                    "id": "1",
                    "name": "Station 1",
                    "status": "AVAILABLE",
                    "statusSeenBy": "Bearer ann",
                },
                {
                    "id": "2",
                    "name": "Station 2",
                    "status": "AVAILABLE",
                    "statusSeenBy": "Bearer ann",
                },
            ],
        }
    }


async def test_no_token_reaches_no_subgraph_as_a_token(graph: Graph) -> None:
    result = await post(graph.url, "{ seenBy stations(first: 1) { statusSeenBy } }")
    assert result == {"data": {"seenBy": None, "stations": [{"statusSeenBy": None}]}}


async def test_graphiql_is_served_on_get_without_a_cdn(graph: Graph) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        page = await client.get(graph.url, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "HiveLaboratory.renderLaboratory" in page.text
    # The page inlines its scripts; none is loaded from elsewhere.
    assert "<script src=" not in page.text
    assert "unpkg.com" not in page.text


async def test_a_subscription_over_graphql_transport_ws_gets_every_event(graph: Graph) -> None:
    seen = await subscribe_ws(
        graph.url,
        {"1": (TICKS, {"count": 5, "together": 1})},
        init={"Authorization": "Bearer bea"},
    )
    assert seen.errors == {}
    assert seen.completed == {"1"}
    assert [event["data"]["ticks"] for event in seen.events["1"]] == [
        {
            "n": n,
            "seenBy": "Bearer bea",
            "station": {"id": str(n), "status": "AVAILABLE", "statusSeenBy": "Bearer bea"},
        }
        for n in range(1, 6)
    ]


async def test_a_websocket_without_a_token_passes_none_on(graph: Graph) -> None:
    seen = await subscribe_ws(graph.url, {"1": (TICKS, {"count": 1, "together": 1})})
    [event] = seen.events["1"]
    assert event["data"]["ticks"]["seenBy"] is None
    assert event["data"]["ticks"]["station"]["statusSeenBy"] is None


async def test_a_subscription_over_sse_gets_every_event(graph: Graph) -> None:
    events = await subscribe_sse(
        graph.url, TICKS, variables={"count": 5, "together": 1}, token="Bearer cid"
    )
    assert [event["data"]["ticks"] for event in events] == [
        {
            "n": n,
            "seenBy": "Bearer cid",
            "station": {"id": str(n), "status": "AVAILABLE", "statusSeenBy": "Bearer cid"},
        }
        for n in range(1, 6)
    ]


async def test_150_subscriptions_share_one_connection_each_way(graph: Graph) -> None:
    opened_before = graph.stations_sockets.opened
    operations = {str(n): (distinct(n), {"count": 3, "together": 150}) for n in range(150)}
    seen = await subscribe_ws(graph.url, operations, init={"Authorization": "Bearer dan"})
    assert seen.errors == {}
    assert seen.completed == set(operations)
    assert {id: [e["data"]["ticks"]["n"] for e in seen.events[id]] for id in operations} == {
        id: [1, 2, 3] for id in operations
    }
    assert graph.stations_sockets.opened - opened_before == 1


async def test_strawberrys_default_cap_would_refuse_the_101st(graph: Graph) -> None:
    """The same 150 with the subgraph's cap put back to Strawberry's default: the gateway's one
    connection to it carries 100, the other 50 are refused (a new token, so a new connection)."""
    app = graph.stations_app
    raised = app.max_subscriptions_per_connection
    assert raised == limits().max_subscriptions_per_connection > 150
    app.max_subscriptions_per_connection = 100
    try:
        operations = {str(n): (distinct(n), {"count": 3, "together": 100}) for n in range(150)}
        seen = await subscribe_ws(graph.url, operations, init={"Authorization": "Bearer eve"})
    finally:
        app.max_subscriptions_per_connection = raised
    refused = {id for id in operations if any("errors" in e for e in seen.events[id])}
    assert len(refused) == 50
    assert all(len(seen.events[id]) == 3 for id in set(operations) - refused)
    # Strawberry's "Subscription limit reached" is masked by the gateway like any error frame.
    [refusal] = seen.events[min(refused)]
    assert [(e["message"], e["extensions"]["code"]) for e in refusal["errors"]] == [
        ("Unexpected error.", "INTERNAL_SERVER_ERROR")
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (nested(limits().max_depth - 1), "MAX_DEPTH_EXCEEDED"),
        (aliased(limits().max_aliases + 1), "MAX_ALIASES_EXCEEDED"),
        (tokens(limits().max_tokens + 1), "MAX_TOKENS_EXCEEDED"),
        (
            "{ stations(first: 3) { neighbours { neighbours { neighbours { id } } } } }",
            "COST_ESTIMATED_TOO_EXPENSIVE",
        ),
    ],
    ids=["depth", "aliases", "tokens", "cost"],
)
async def test_the_gateway_refuses_past_a_limit_with_a_code(
    graph: Graph, query: str, code: str
) -> None:
    result = await post(graph.url, query)
    assert codes(result) == [code]
    assert "data" not in result


@pytest.mark.parametrize(
    "query",
    [
        nested(limits().max_depth - 2),
        aliased(limits().max_aliases),
        tokens(limits().max_tokens),
        "{ stations(first: 3) { neighbours { neighbours { id } } } }",
    ],
    ids=["depth", "aliases", "tokens", "cost"],
)
async def test_the_gateway_and_the_subgraph_accept_up_to_a_limit(graph: Graph, query: str) -> None:
    for url in (graph.url, graph.stations_url):
        result = await post(url, query)
        assert "errors" not in result, (url, result)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (nested(limits().max_depth - 1), "MAX_DEPTH_EXCEEDED"),
        (aliased(limits().max_aliases + 1), "MAX_ALIASES_EXCEEDED"),
        (tokens(limits().max_tokens + 1), "MAX_TOKENS_EXCEEDED"),
    ],
    ids=["depth", "aliases", "tokens"],
)
async def test_the_subgraph_reached_directly_refuses_the_same(
    graph: Graph, query: str, code: str
) -> None:
    result = await post(graph.stations_url, query)
    assert codes(result) == [code]
    assert result.get("data") is None


async def test_the_gateways_own_subgraph_requests_stay_within_the_subgraphs_limits(
    graph: Graph,
) -> None:
    """A client operation at the alias limit whose every alias needs the other subgraph: the
    entity fetches the gateway makes of it (batched, aliased) must pass the subgraph's limits."""
    joins = " ".join(
        f"a{n}: stations(first: 2) {{ neighbours {{ status }} }}"
        for n in range(limits().max_aliases)
    )
    result = await post(graph.url, "{ " + joins + " }")
    assert "errors" not in result, result
    assert result["data"]["a0"] == [{"neighbours": [{"status": "AVAILABLE"}] * 2}] * 2


async def test_a_batch_is_bounded(graph: Graph) -> None:
    one = {"query": "{ seenBy }"}
    async with httpx.AsyncClient(timeout=30) as client:
        within = await client.post(graph.url, json=[one] * limits().max_batch)
        past = await client.post(graph.url, json=[one] * (limits().max_batch + 1))
    assert within.status_code == 200
    assert [answer["data"] for answer in within.json()] == [{"seenBy": None}] * limits().max_batch
    assert past.status_code == 413
    assert codes(past.json()) == ["BAD_REQUEST"]


async def test_an_unexpected_error_is_masked_and_coded(graph: Graph) -> None:
    result = await post(graph.url, "{ boom }")
    assert result["errors"][0]["message"] == "Unexpected error."
    assert codes(result) == ["INTERNAL_SERVER_ERROR"]
    assert "secret" not in json.dumps(result)


async def test_an_unknown_field_is_refused_without_suggestions(graph: Graph) -> None:
    result = await post(graph.url, "{ station }")
    assert codes(result) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "stations" not in json.dumps(result)


@pytest.mark.parametrize("path", ["gateway", "subgraph"])
async def test_errors_while_a_subscription_streams_are_masked_and_coded(
    graph: Graph, path: str
) -> None:
    """An event whose execution fails, and a source that fails between events, tell the
    client that something failed, never what: through the gateway and straight to the
    subgraph alike (the gateway passes a subgraph's error frames on as they are)."""
    url = graph.url if path == "gateway" else graph.stations_url
    seen = await subscribe_ws(
        url,
        {
            "field": ("subscription { ticks(count: 3) { n boom } }", {}),
            "source": ("subscription { breaking(count: 1) { n } }", {}),
        },
    )
    ticks = seen.events["field"]
    assert [tick["data"]["ticks"] for tick in ticks] == [
        {"n": 1, "boom": "fine"},
        {"n": 2, "boom": None},
        {"n": 3, "boom": "fine"},
    ]
    assert [codes(tick) for tick in ticks if "errors" in tick] == [["INTERNAL_SERVER_ERROR"]]
    broken = seen.events["source"]
    assert broken[0] == {"data": {"breaking": {"n": 1}}}
    assert [codes(event) for event in broken[1:]] == [["INTERNAL_SERVER_ERROR"]]
    assert "secret" not in json.dumps(seen.events) + json.dumps(seen.errors)
