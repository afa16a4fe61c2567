"""The accounting subgraph through the Hive Gateway, with real logins and real OCPI
credentials tokens: each caller's ``cdrs`` holds exactly their CDRs, and one CDR asked for by
its key shows only to them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.subgraphs.accounting.platform import Accounting, accounting_platform

SEARCH = "query { cdrs { edges { node { id cdrToken { uid } } } pageInfo { hasNextPage } } }"
ONE = 'query ($id: String!) { cdr(countryCode: "FI", partyId: "CPA", id: $id) { id } }'
SEES = {
    "alice": ["C1"],
    "bob": ["C2"],
    "cpo": ["C1", "C2", "C3"],
    "emsp": ["C1", "C2"],
    "other-emsp": ["C3"],
}


@pytest.fixture(scope="module")
async def accounting(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Accounting]:
    async with accounting_platform(tmp_path_factory.mktemp("accounting")) as running:
        yield running


async def credentials(accounting: Accounting, who: str) -> str:
    if who in ("alice", "bob"):
        return await accounting.driver(who)
    peer = {"cpo": accounting.cpo, "emsp": accounting.emsp, "other-emsp": accounting.other_emsp}
    return accounting.party(peer[who])


@pytest.mark.parametrize("who", list(SEES))
async def test_each_caller_finds_exactly_their_cdrs(accounting: Accounting, who: str) -> None:
    token = await credentials(accounting, who)
    found = await accounting.graph(SEARCH, token)
    assert "errors" not in found, found
    assert [e["node"]["id"] for e in found["data"]["cdrs"]["edges"]] == SEES[who]
    for cdr_id in ("C1", "C2", "C3"):
        one = await accounting.graph(ONE, token, id=cdr_id)
        assert "errors" not in one, one
        assert (one["data"]["cdr"] is not None) is (cdr_id in SEES[who]), (who, cdr_id)


async def test_anonymous_callers_see_no_cdr(accounting: Accounting) -> None:
    found = await accounting.graph(SEARCH)
    assert [e["extensions"]["code"] for e in found["errors"]] == ["UNAUTHENTICATED"]
    assert found["data"] is None


async def test_a_wrong_token_is_refused_whole(accounting: Accounting) -> None:
    found = await accounting.graph(SEARCH, "Token bm90LWEtdG9rZW4=")
    assert [e["extensions"]["code"] for e in found["errors"]] == ["UNAUTHENTICATED"]
