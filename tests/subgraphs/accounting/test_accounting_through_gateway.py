"""The accounting subgraph through the Hive Gateway, with real logins and real OCPI
credentials tokens: each caller's ``cdrs`` holds exactly their CDRs, and one CDR asked for by
its key shows only to them; the CSV export over HTTP (the platform's ``/accounting/cdrs.csv``)
holds the same rows for each, and refuses whom the graph refuses. Each CDR shows its ledger
entry (checked here with the hub's public key alone), and a driver's Session (of the sessions
subgraph) resolves its CDR through federation."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import col, select

from incar.hub_key import key_of
from subgraphs.accounting.ledger import checkpoint, transactions
from subgraphs.accounting.ledger.leaves import entry_hash
from subgraphs.accounting.ledger.merkle import verify_inclusion
from subgraphs.accounting.ledger.models import LedgerTreeHead
from tests.subgraphs.accounting.platform import CDRS, Accounting, accounting_platform

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


async def export(accounting: Accounting, token: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": token} if token else {}
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(
            f"{accounting.subgraphs_url}/accounting/cdrs.csv", params=params, headers=headers
        )


@pytest.mark.parametrize("who", list(SEES))
async def test_each_caller_exports_exactly_their_cdrs(accounting: Accounting, who: str) -> None:
    answer = await export(accounting, await credentials(accounting, who))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [r["cdr_id"] for r in rows] == SEES[who]


async def test_an_export_takes_the_filters(accounting: Accounting) -> None:
    answer = await export(
        accounting, accounting.party(accounting.cpo), cpo="FI*CPA", location_id="ST1"
    )
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [r["cdr_id"] for r in rows] == ["C1", "C2"]


@pytest.mark.parametrize(("flags", "expected"), [("unpriceable", ["C1", "C2", "C3"]), ("ok", [])])
async def test_an_export_takes_the_price_check_filter(
    accounting: Accounting, flags: str, expected: list[str]
) -> None:
    # The hub was sent none of the tariffs these CDRs name: it could price none of them.
    answer = await export(accounting, accounting.party(accounting.cpo), price_check=flags)
    assert answer.status_code == 200, answer.text
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [(r["cdr_id"], r["price_check"]) for r in rows] == [(i, flags) for i in expected]


@pytest.mark.parametrize(
    ("token", "params", "status", "code"),
    [
        (None, {}, 401, "UNAUTHENTICATED"),
        ("Token bm90LWEtdG9rZW4=", {}, 401, "UNAUTHENTICATED"),
        ("cpo", {"location_id": "ST1"}, 400, "BAD_USER_INPUT"),
        ("cpo", {"start_from": "yesterday"}, 400, "BAD_USER_INPUT"),
        ("cpo", {"colour": "red"}, 400, "BAD_USER_INPUT"),
        ("cpo", {"price_check": "red"}, 400, "BAD_USER_INPUT"),
    ],
)
async def test_an_export_refuses_whom_and_what_the_graph_refuses(
    accounting: Accounting, token: str | None, params: dict[str, str], status: int, code: str
) -> None:
    if token == "cpo":
        token = accounting.party(accounting.cpo)
    answer = await export(accounting, token, **params)
    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text


ENTRY = """
query ($id: String!) { cdr(countryCode: "FI", partyId: "CPA", id: $id) {
  ledgerEntry { index transactionId transaction includedFromSize
                treeHead { size rootHash checkpoint } }
} }
"""


async def test_a_cdrs_ledger_entry_checks_out_with_the_hubs_public_key(
    accounting: Accounting,
) -> None:
    # The key the hub signs with, as it holds it (the key file is shared by every test run
    # of this user, and read once by each hub).
    async with accounting.hub.hub.db.transaction() as tx:
        key = key_of(tx)
    found = await accounting.graph(ENTRY, await accounting.driver("alice"), id="C1")
    assert "errors" not in found, found
    entry = found["data"]["cdr"]["ledgerEntry"]
    assert (entry["index"], entry["includedFromSize"]) == (0, 1)  # the first CDR pushed
    body = entry["transaction"].encode()
    # The transaction holds the CDR as the CPO sent it, signed by the hub's key ...
    assert json.loads(transactions.verify(body, public=key.public_bytes)) == CDRS[0]
    assert (
        entry["transactionId"]
        == transactions.create(transactions.verify(body, public=key.public_bytes), key).id
    )
    # ... and the head, signed by the same key, is of the whole ledger (three CDRs).
    head = checkpoint.open_note(
        entry["treeHead"]["checkpoint"], checkpoint.verifier_key(key.name, key.public_bytes)
    )
    assert (head.size, head.root.hex()) == (3, entry["treeHead"]["rootHash"])
    assert entry["treeHead"]["size"] == 3


SESSION_CDR = """
query { me { sessions { id cdr { id totalCost { exclVat } ledgerEntry { index } } } } }
"""
ONE_SESSION = """
query { session(countryCode: "FI", partyId: "CPA", id: "S1") { id cdr { id } } }
"""


async def test_a_drivers_session_resolves_its_cdr_through_federation(
    accounting: Accounting,
) -> None:
    found = await accounting.graph(SESSION_CDR, await accounting.driver("alice"))
    assert "errors" not in found, found
    assert found["data"]["me"]["sessions"] == [
        {
            "id": "S1",
            "cdr": {"id": "C1", "totalCost": {"exclVat": 2.5}, "ledgerEntry": {"index": 0}},
        }
    ]


@pytest.mark.parametrize(
    ("who", "sees"), [("alice", True), ("bob", False), ("cpo", True), ("other-emsp", False)]
)
async def test_a_session_and_its_cdr_show_to_the_same_callers(
    accounting: Accounting, who: str, sees: bool
) -> None:
    found = await accounting.graph(ONE_SESSION, await credentials(accounting, who))
    assert "errors" not in found, found
    assert found["data"]["session"] == ({"id": "S1", "cdr": {"id": "C1"}} if sees else None)


PROOF = """
query ($id: String!, $size: Int) { cdr(countryCode: "FI", partyId: "CPA", id: $id) {
  ledgerEntry { index transaction
                inclusionProof(treeSize: $size) { treeSize leafHash auditPath checkpoint } }
} }
"""


async def signed_sizes(accounting: Accounting) -> list[int]:
    async with accounting.hub.hub.db.transaction() as tx:
        found = await tx.execute(select(LedgerTreeHead.size).order_by(col(LedgerTreeHead.size)))
        return [int(size) for size in found.scalars()]


async def proven(accounting: Accounting, cdr_id: str, size: int | None = None) -> Any:
    # The CPO sees all three CDRs.
    return await accounting.graph(PROOF, accounting.party(accounting.cpo), id=cdr_id, size=size)


@pytest.mark.parametrize("cdr_id", ["C1", "C3"])
async def test_a_cdrs_inclusion_proof_checks_out_against_its_signed_head(
    accounting: Accounting, cdr_id: str
) -> None:
    async with accounting.hub.hub.db.transaction() as tx:
        key = key_of(tx)
    verifier = checkpoint.verifier_key(key.name, key.public_bytes)
    # The latest head by default, then each signed head that holds the entry.
    sizes = await signed_sizes(accounting)
    index = int(cdr_id[1:]) - 1  # the CDRs were pushed in order
    for size in [None, *(s for s in sizes if s > index)]:
        found = await proven(accounting, cdr_id, size)
        assert "errors" not in found, found
        entry = found["data"]["cdr"]["ledgerEntry"]
        proof = entry["inclusionProof"]
        head = checkpoint.open_note(proof["checkpoint"], verifier)
        assert head.size == proof["treeSize"] == (size or sizes[-1])
        leaf = entry_hash(entry["index"], entry["transaction"].encode())
        assert base64.b64decode(proof["leafHash"]) == leaf
        path = [base64.b64decode(h) for h in proof["auditPath"]]
        assert verify_inclusion(leaf, entry["index"], head.size, path, head.root)
        # A path of another head, or for another leaf, does not prove it.
        assert not verify_inclusion(leaf, entry["index"], head.size, path, bytes(32))
        assert not verify_inclusion(
            entry_hash(entry["index"] + 1, entry["transaction"].encode()),
            entry["index"],
            head.size,
            path,
            head.root,
        )


@pytest.mark.parametrize(("size", "code"), [(1000, "NOT_FOUND"), (0, "BAD_USER_INPUT")])
async def test_an_inclusion_proof_for_no_such_head_is_an_error(
    accounting: Accounting, size: int, code: str
) -> None:
    found = await proven(accounting, "C1", size)
    assert [e["extensions"]["code"] for e in found["errors"]] == [code], found


async def test_no_head_before_an_entry_proves_it(accounting: Accounting) -> None:
    # C3 is the third CDR: a signed head smaller than 3 does not hold it.
    for size in [s for s in await signed_sizes(accounting) if s < 3]:
        found = await proven(accounting, "C3", size)
        assert [e["extensions"]["code"] for e in found["errors"]] == ["NOT_FOUND"], found


PAGE_PROOFS = """
query ($size: Int) { cdrs { edges { node { id
  ledgerEntry { index transaction inclusionProof(treeSize: $size) { treeSize leafHash auditPath } }
} } } }
"""


async def test_a_page_of_proofs_costs_the_same_few_queries_as_one(accounting: Accounting) -> None:
    ledger_reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "ledger_entry" in statement:
            ledger_reads.append(statement)

    engine = accounting.hub.hub.db.engine.sync_engine
    sizes = await signed_sizes(accounting)
    event.listen(engine, "before_cursor_execute", count)
    try:
        # Each head that holds all three CDRs, then a smaller one, which proves only some.
        for size in [None, *(s for s in sizes if s >= 3)]:
            ledger_reads.clear()
            found = await accounting.graph(PAGE_PROOFS, accounting.party(accounting.cpo), size=size)
            assert "errors" not in found, found
            edges = found["data"]["cdrs"]["edges"]
            head = size or sizes[-1]
            root = await root_of(accounting, head)
            assert len(edges) == 3
            for edge in edges:
                entry = edge["node"]["ledgerEntry"]
                proof = entry["inclusionProof"]
                assert proof["treeSize"] == head
                leaf = entry_hash(entry["index"], entry["transaction"].encode())
                path = [base64.b64decode(h) for h in proof["auditPath"]]
                assert verify_inclusion(leaf, entry["index"], head, path, root)
            # The page's entries, then the proofs' entries and their stored roots: three reads
            # of ledger_entry however many CDRs the page holds (it was two per CDR).
            assert len(ledger_reads) <= 3, ledger_reads
        for size in (s for s in sizes if s < 3):
            found = await accounting.graph(PAGE_PROOFS, accounting.party(accounting.cpo), size=size)
            codes = [e["extensions"]["code"] for e in found["errors"]]
            assert codes == ["NOT_FOUND"] * (3 - size), found
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def root_of(accounting: Accounting, size: int) -> bytes:
    async with accounting.hub.hub.db.transaction() as tx:
        found = await tx.execute(
            select(LedgerTreeHead.root_hash).where(LedgerTreeHead.size == size)
        )
        return bytes(found.scalar_one())
