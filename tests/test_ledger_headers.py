"""The ledger's headers (docs/ledger-headers.md), over real HTTP: a strict CPO posts CDRs
through the hub to a strict eMSP, which keeps the heads it is given.

- the forwarded CDR reaches the eMSP byte for byte as the CPO sent it, with its entry's index,
  transaction id and the signed head its append made, and the CPO's answer carries the same;
- a page of GET All carries the latest head and each CDR's index, in the page's order;
- with a consistency path from the hub, a party checks that a later head extends one it kept,
  and a head the hub rewrote fails that check;
- bad sizes get 2001 and no credentials 401.
"""

from __future__ import annotations

import base64

import httpx
from sqlalchemy import text

from ocpi_adapter.ledger.headers import CHECKPOINT, INDEX, TRANSACTION_ID, decode_checkpoint
from subgraphs.accounting.ledger import checkpoint
from subgraphs.accounting.ledger.checkpoint import Checkpoint
from subgraphs.accounting.ledger.merkle import verify_consistency
from tests.conformance.support import assert_envelope, cdr
from tests.support.ledger import CPO, EMSP, Net, spelt, status


def head_of(net: Net, headers: httpx.Headers | dict[str, str]) -> Checkpoint:
    """The checkpoint of a header's signed note, opened with the hub's public key only."""
    key = net.key
    note = decode_checkpoint(headers[CHECKPOINT.lower()])
    return checkpoint.open_note(note, checkpoint.verifier_key(key.name, key.public_bytes))


async def tx_id_of(net: Net, idx: int) -> str:
    async with net.hub.hub.db.transaction() as tx:
        row = await tx.execute(text("SELECT tx_id FROM ledger_entry WHERE idx = :i"), {"i": idx})
        value: str = row.scalar_one()
        return value


async def consistency(net: Net, **sizes: int) -> httpx.Response:
    query = "&".join(f"{name}={size}" for name, size in sizes.items())
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.get(
            f"{net.hub.url}/ledger/consistency?{query}", headers=net.emsp.auth()
        )


async def test_the_forwarded_cdr_is_unchanged_and_its_entry_goes_beside_it(net: Net) -> None:
    raw = b'{"x_odd" :  1.50 ,' + spelt(cdr(CPO, "LH1", EMSP), indent=2)[1:]
    answer = await net.post(raw)
    assert status(answer) == 1000
    (forwarded,) = net.emsp.requests("POST", "/cdrs")
    assert forwarded.body == raw  # the CDR as the CPO spelt it, byte for byte
    head = head_of(net, forwarded.headers)
    assert head.size == 1 and forwarded.headers[INDEX.lower()] == "0"
    assert forwarded.headers[TRANSACTION_ID.lower()] == await tx_id_of(net, 0)
    # The CPO is told the same as the eMSP.
    for name in (CHECKPOINT, INDEX, TRANSACTION_ID):
        assert answer.headers[name] == forwarded.headers[name.lower()]
    # A retry is answered as the first post was: the same entry, the head that covered it.
    second = await net.post(spelt(cdr(CPO, "LH2", EMSP)))
    retry = await net.post(raw)
    assert head_of(net, second.headers).size == 2
    for name in (CHECKPOINT, INDEX, TRANSACTION_ID):
        assert retry.headers[name] == answer.headers[name]


async def test_a_page_carries_the_latest_head_and_each_cdrs_index(net: Net) -> None:
    for cdr_id in ("LG1", "LG2", "LG3"):
        assert status(await net.post(spelt(cdr(CPO, cdr_id, EMSP)))) == 1000
    # A stored CDR with a number no float holds is read for its key all the same.
    assert status(await net.post(b'{"x_big":1E400,' + spelt(cdr(CPO, "LG4", EMSP))[1:])) == 1000
    page = await net.emsp.call("GET", net.hub.endpoint("cdrs", "sender") + "?limit=2&offset=1")
    ids = [c["id"] for c in assert_envelope(page)["data"]]
    assert ids == ["LG2", "LG3"]
    assert page.headers[INDEX] == "1,2"
    assert head_of(net, page.headers).size == 4
    rest = await net.emsp.call("GET", net.hub.endpoint("cdrs", "sender") + "?offset=3")
    assert rest.headers[INDEX] == "3"


async def test_a_party_checks_that_a_later_head_extends_the_one_it_kept(net: Net) -> None:
    kept: list[Checkpoint] = []
    for i in range(5):
        assert status(await net.post(spelt(cdr(CPO, f"LK{i}", EMSP)))) == 1000
        kept.append(head_of(net, net.emsp.requests("POST", "/cdrs")[-1].headers))
    assert [h.size for h in kept] == [1, 2, 3, 4, 5]
    for old, new in [(kept[0], kept[4]), (kept[1], kept[2]), (kept[2], kept[4])]:
        answer = await consistency(net, old=old.size, new=new.size)
        data = assert_envelope(answer)["data"]
        path = [base64.b64decode(node) for node in data["consistency_path"]]
        assert verify_consistency(old.size, new.size, old.root, new.root, path)
        # A head whose history was rewritten (another root at the old size) fails the check.
        forged = bytes([old.root[0] ^ 1]) + old.root[1:]
        assert not verify_consistency(old.size, new.size, forged, new.root, path)
    # Without ``new``: up to the latest head, whose signed note comes with the proof.
    data = assert_envelope(await consistency(net, old=2))["data"]
    assert data["new_size"] == 5
    key = net.key
    latest = checkpoint.open_note(
        data["checkpoint"], checkpoint.verifier_key(key.name, key.public_bytes)
    )
    path = [base64.b64decode(node) for node in data["consistency_path"]]
    assert latest == kept[4]
    assert verify_consistency(2, 5, kept[1].root, latest.root, path)


async def test_bad_sizes_are_refused_in_ocpi_terms(net: Net) -> None:
    assert status(await net.post(spelt(cdr(CPO, "LB1", EMSP)))) == 1000
    for query, words in [
        ({"old": 2, "new": 1}, "the old one first"),
        ({"old": 0, "new": 7}, "latest tree head's, 1"),
    ]:
        answer = await consistency(net, **query)
        assert status(answer) == 2001
        assert words in assert_envelope(answer)["status_message"]
    async with httpx.AsyncClient(timeout=30) as client:
        bad = await client.get(f"{net.hub.url}/ledger/consistency?old=x", headers=net.emsp.auth())
        assert status(bad) == 2001 and "whole number" in assert_envelope(bad)["status_message"]
        missing = await client.get(f"{net.hub.url}/ledger/consistency", headers=net.emsp.auth())
        assert status(missing) == 2001
        anonymous = await client.get(f"{net.hub.url}/ledger/consistency?old=0")
        assert anonymous.status_code == 401
