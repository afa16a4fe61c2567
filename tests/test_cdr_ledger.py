"""The CDR ledger as the hub keeps it, over real HTTP: a strict CPO (NL*CPL) posts CDRs to a
strict eMSP (DE*EML) through the hub.

- each CDR the hub stores is appended once, in the transaction that stores it, whatever the
  eMSP answers: its transaction holds the CDR's text as sent, the tree head is signed;
- the same CDR again (however spelt) is answered as before and appended no second time;
- another CDR under a stored id is refused with 2001, nothing stored, nothing forwarded; a
  correction is a credit CDR, appended as any CDR;
- concurrent posts make one gap-free tree; the ledger's tables refuse UPDATE and DELETE.
"""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tests.conformance.support import assert_envelope, cdr
from tests.peers.strict.peer import ocpi
from tests.support.ledger import CPO, EMSP, Net, spelt, status
from tests.support.stored import row_counts


async def test_a_stored_cdr_is_appended_once_as_sent(net: Net) -> None:
    raw = b'{"x_odd" :  1.50 ,' + spelt(cdr(CPO, "LC1", EMSP), indent=2)[1:]
    assert status(await net.post(raw)) == 1000
    assert await net.audit() == 1
    assert await net.entry_texts() == [raw.decode()]  # the text as sent, not re-written


async def test_the_eMSPs_answer_does_not_matter(net: Net) -> None:
    net.emsp.on("POST", "/cdrs", lambda _: ocpi(status_code=3000, http_status=500))
    answer = await net.post(spelt(cdr(CPO, "LC2", EMSP)))
    assert answer.status_code == 500 and status(answer) == 3000  # relayed as the eMSP said
    assert await net.audit() == 1  # stored and appended before it was forwarded


async def test_the_same_cdr_again_is_answered_and_appended_no_second_time(net: Net) -> None:
    body = cdr(CPO, "LC3", EMSP)
    assert status(await net.post(spelt(body))) == 1000
    heads = (await row_counts(net.hub))["ledger_tree_head"]
    # A retry, spelt otherwise (keys in another order, indented, 10.0 as 1E1): the same.
    again = dict(reversed(body.items()))
    respelt = spelt(again, indent=4).replace(b'"total_energy": 10.0', b'"total_energy": 1E1')
    assert respelt != spelt(again, indent=4)
    for raw in (spelt(body), respelt):
        assert status(await net.post(raw)) == 1000
    assert len(net.emsp.requests("POST", "/cdrs")) == 3  # forwarded each time
    assert await net.audit() == 1
    assert (await row_counts(net.hub))["ledger_tree_head"] == heads


async def test_another_cdr_under_a_stored_id_is_refused_and_changes_nothing(net: Net) -> None:
    body = cdr(CPO, "LC4", EMSP)
    assert status(await net.post(spelt(body))) == 1000
    before, forwarded = await row_counts(net.hub), len(net.emsp.requests("POST", "/cdrs"))
    changed = {**body, "total_energy": body["total_energy"] + 1}
    answer = await net.post(spelt(changed))
    assert status(answer) == 2001, answer.text
    assert "credit CDR" in assert_envelope(answer)["status_message"]
    assert await row_counts(net.hub) == before
    assert len(net.emsp.requests("POST", "/cdrs")) == forwarded
    # The correction OCPI provides: a credit CDR of its own id, appended as any CDR.
    credit = {**body, "id": "LC4-CREDIT", "credit": True, "credit_reference_id": "LC4"}
    credit["total_cost"] = {"excl_vat": -body["total_cost"]["excl_vat"]}
    assert status(await net.post(spelt(credit))) == 1000
    assert await net.audit() == 2


async def test_concurrent_posts_make_one_gap_free_tree(net: Net) -> None:
    bodies = [spelt(cdr(CPO, f"LP{i}", EMSP)) for i in range(24)]
    answers = await asyncio.gather(*(net.post(b) for b in [*bodies, *bodies[:8]]))
    assert [status(a) for a in answers] == [1000] * 32
    assert await net.audit() == 24
    assert sorted(await net.entry_texts()) == sorted(b.decode() for b in bodies)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entry SET tx_id = 'x'",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_tree_head SET checkpoint = ''",
        "DELETE FROM ledger_tree_head WHERE size = 1",
    ],
)
async def test_the_ledger_takes_no_update_or_delete(net: Net, statement: str) -> None:
    assert status(await net.post(spelt(cdr(CPO, "LC5", EMSP)))) == 1000
    with pytest.raises(DBAPIError, match="append-only"):
        async with net.hub.hub.db.transaction() as tx:
            await tx.execute(sa.text(statement))
    assert await net.audit() == 1
