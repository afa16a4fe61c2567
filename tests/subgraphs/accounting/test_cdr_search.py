"""The ``cdrs`` search of the accounting subgraph on a real database, through its schema: who
sees which CDR (both ways, as a matrix), each filter, keyset pages walked to the end, and the
refusals (nothing read)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from incar.runtime import Runtime
from incar.settings import Settings
from subgraphs.accounting import service
from subgraphs.accounting.graph.schema import schema
from subgraphs.common.context import GraphContext, Viewer
from tests.subgraphs.accounting.cdr_world import CDRS, SEES, VIEWERS
from tests.support.databases import fresh_database
from tests.support.hub import TEST_HUB_KEY

SEARCH = """
query ($filter: CdrFilter, $first: Int! = 20, $after: String) {
  cdrs(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id countryCode partyId cdrToken { uid } cdrLocation { id evseUid }
            totalCost { exclVat inclVat } tariffIds startDateTime } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture(scope="module")
async def runtime() -> AsyncIterator[Runtime]:
    async with fresh_database() as url:
        rt = Runtime.create(Settings(database_url=url, ledger_key_file=TEST_HUB_KEY))
        await rt.start()
        try:
            # Stored out of start order: the search orders by start, not by arrival.
            for body in reversed(CDRS):
                async with rt.db.transaction(write=True) as tx:
                    await service.add_cdr(tx, data=body)
            yield rt
        finally:
            await rt.close()


async def run(
    runtime: Runtime, viewer: Viewer, query: str = SEARCH, **variables: Any
) -> tuple[dict[str, Any] | None, list[str]]:
    result = await schema.execute(
        query, variable_values=variables, context_value=GraphContext(runtime=runtime, viewer=viewer)
    )
    return result.data, [str((e.extensions or {}).get("code")) for e in result.errors or []]


def ids(data: dict[str, Any] | None) -> list[str]:
    assert data is not None
    return [edge["node"]["id"] for edge in data["cdrs"]["edges"]]


@pytest.mark.parametrize("who", list(VIEWERS))
async def test_each_viewer_sees_exactly_their_cdrs(runtime: Runtime, who: str) -> None:
    data, codes = await run(runtime, VIEWERS[who])
    if who == "anonymous":
        assert codes == ["UNAUTHENTICATED"]
        return
    assert codes == []
    assert ids(data) == SEES[who]


@pytest.mark.parametrize("who", list(VIEWERS))
@pytest.mark.parametrize("cdr_id", ["C1", "C2", "C3", "C4", "C5"])
async def test_one_cdr_shows_only_to_whom_the_search_shows_it(
    runtime: Runtime, who: str, cdr_id: str
) -> None:
    owner = next(c for c in CDRS if c["id"] == cdr_id)
    data, codes = await run(
        runtime,
        VIEWERS[who],
        "query ($cc: String!, $pid: String!, $id: String!) "
        "{ cdr(countryCode: $cc, partyId: $pid, id: $id) { id } }",
        cc=owner["country_code"].lower(),  # ids and parties are CiStrings
        pid=owner["party_id"],
        id=cdr_id.lower(),
    )
    if who == "anonymous":
        assert codes == ["UNAUTHENTICATED"]
        return
    assert codes == []
    assert data is not None
    assert (data["cdr"] is not None) is (cdr_id in SEES[who])


@pytest.mark.parametrize(
    ("who", "filter", "expected"),
    [
        ("cpo", {"cpoCountryCode": "fi", "cpoPartyId": "cp1", "locationId": "l1"}, ["C1", "C4"]),
        ("cpo", {"evseUid": "L2-E1"}, ["C2"]),
        ("cpo", {"tokenUid": "ALICE"}, ["C1", "C4"]),
        ("cpo", {"tariffId": "t2"}, ["C2"]),
        ("cpo", {"emspCountryCode": "NL", "emspPartyId": "EM2"}, ["C4"]),
        ("emsp", {"cpoCountryCode": "FI", "cpoPartyId": "CP2"}, ["C3"]),
        (
            "emsp",
            {"startFrom": "2026-01-02T10:00:00Z", "startTo": "2026-01-03T00:00:00Z"},
            ["C2", "C5"],
        ),
        ("emsp", {"startFrom": "2026-01-02T10:00:00.000001Z"}, ["C5", "C3"]),
        ("emsp", {"cpoCountryCode": "DE", "cpoPartyId": "EM1"}, ["C5"]),
        # A filter never widens what the viewer sees: bob's eMSP is not CP2's customer here.
        ("bob", {"cpoCountryCode": "FI", "cpoPartyId": "CP2"}, []),
        ("other-cpo", {"tokenUid": "bob"}, []),
    ],
)
async def test_filters(
    runtime: Runtime, who: str, filter: dict[str, Any], expected: list[str]
) -> None:
    data, codes = await run(runtime, VIEWERS[who], filter=filter)
    assert codes == []
    assert ids(data) == expected


@pytest.mark.parametrize("who", ["cpo", "emsp", "alice"])
@pytest.mark.parametrize("first", [1, 2])
async def test_the_pages_walk_every_cdr_once_in_start_order(
    runtime: Runtime, who: str, first: int
) -> None:
    """ "emsp" sees CDRs in both its roles: the pages merge them in start order."""
    seen: list[str] = []
    after = None
    for _ in range(10):
        data, codes = await run(runtime, VIEWERS[who], first=first, after=after)
        assert codes == []
        assert data is not None
        seen += ids(data)
        page = data["cdrs"]["pageInfo"]
        assert page["endCursor"] == data["cdrs"]["edges"][-1]["cursor"]
        if not page["hasNextPage"]:
            break
        after = page["endCursor"]
    assert seen == SEES[who]


async def test_a_cdr_reads_as_its_cpo_sent_it(runtime: Runtime) -> None:
    data, _ = await run(runtime, VIEWERS["alice"], first=1)
    assert data is not None
    (edge,) = data["cdrs"]["edges"]
    assert edge["node"] == {
        "id": "C1",
        "countryCode": "FI",
        "partyId": "CP1",
        "cdrToken": {"uid": "alice"},
        "cdrLocation": {"id": "L1", "evseUid": "L1-E1"},
        "totalCost": {"exclVat": 2.5, "inclVat": None},
        "tariffIds": ["T1"],
        "startDateTime": "2026-01-01T00:00:00+00:00",
    }


@pytest.mark.parametrize(
    ("variables", "needle"),
    [
        ({"after": "bm90IGEgY3Vyc29y"}, "after: not a cursor"),
        ({"first": 0}, "first: from 1 to 100"),
        ({"first": 101}, "first: from 1 to 100"),
        ({"filter": {"locationId": "L1"}}, "locationId: name its CPO too"),
        ({"filter": {"cpoCountryCode": "FI"}}, "cpoCountryCode and cpoPartyId go together"),
        (
            {"filter": {"startFrom": "2026-01-02T00:00:00Z", "startTo": "2026-01-02T00:00:00Z"}},
            "startFrom must be before startTo",
        ),
    ],
)
async def test_a_search_it_will_not_run_is_bad_user_input(
    runtime: Runtime, variables: dict[str, Any], needle: str
) -> None:
    result = await schema.execute(
        SEARCH,
        variable_values=variables,
        context_value=GraphContext(runtime=runtime, viewer=VIEWERS["cpo"]),
    )
    assert result.errors is not None
    (problem,) = result.errors
    assert (problem.extensions or {}).get("code") == "BAD_USER_INPUT"
    assert needle in problem.message


@pytest.mark.parametrize("who", list(VIEWERS))
async def test_a_sessions_cdr_is_checked_here_too(runtime: Runtime, who: str) -> None:
    """The gateway asks the sessions subgraph first, which hides a session from strangers; a
    caller reaching this subgraph directly still gets only a CDR they may see."""
    data, codes = await run(
        runtime,
        VIEWERS[who],
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Session { cdr { id } } } }",
        r=[{"__typename": "Session", "countryCode": "FI", "partyId": "CP1", "id": "s1"}],
    )
    assert codes == []
    assert data is not None
    (session,) = data["_entities"]
    assert session["cdr"] == ({"id": "C1"} if "C1" in SEES[who] else None)
