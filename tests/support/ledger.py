"""The CDR ledger of a hub over real HTTP (a strict CPO, NL*CPL, posts CDRs to a strict eMSP,
DE*EML, through the hub), and audited as an outside verifier would, straight from the hub's
tables: every entry the driver accepts as the hub's, the tree over them, every tree head signed
and consistent with the one before, and every stored CDR in the ledger exactly once, as
stored."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import Text, cast
from sqlmodel import col, select

from incar.db import Database
from incar.hub_key import HubKey
from subgraphs.accounting.ledger import checkpoint, transactions
from subgraphs.accounting.ledger.leaves import entry_hash
from subgraphs.accounting.ledger.merkle import (
    CompactRange,
    Tree,
    verify_consistency,
)
from subgraphs.accounting.ledger.models import LedgerEntry, LedgerTreeHead
from subgraphs.accounting.ledger.verifier import Report, verify_ledger
from subgraphs.accounting.models import Cdr
from tests.conformance.support import assert_envelope
from tests.peers.strict.peer import StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub


def status(answer: httpx.Response) -> int:
    """The OCPI status code of an answer, which must be an OCPI envelope."""
    code: int = assert_envelope(answer)["status_code"]
    return code


def spelt(body: dict[str, Any], *, indent: int | None = None) -> bytes:
    """A CDR as a CPO might write it: compact, or indented."""
    return json.dumps(body, indent=indent, separators=None if indent else (",", ":")).encode()


CPO = ("NL", "CPL")
EMSP = ("DE", "EML")


async def audit(db: Database, *, public: bytes, name: str) -> Tree:
    """The ledger's tree; fails on the first thing a verifier would refuse."""
    async with db.transaction() as tx:
        entries = (await tx.execute(select(LedgerEntry).order_by(col(LedgerEntry.idx)))).scalars()
        entries_list = list(entries)
        heads = list(
            (await tx.execute(select(LedgerTreeHead).order_by(col(LedgerTreeHead.size)))).scalars()
        )
        stored = select(
            col(Cdr.country_code), col(Cdr.party_id), col(Cdr.object_id), cast(col(Cdr.data), Text)
        )
        documents = {(cc, pid, oid): text for cc, pid, oid, text in (await tx.execute(stored))}
    assert [e.idx for e in entries_list] == list(range(len(entries_list))), "indices have gaps"
    tree = Tree()
    in_ledger: dict[tuple[str, str, str], str] = {}
    for entry in entries_list:
        assert entry.leaf_hash == entry_hash(entry.idx, entry.tx), f"entry {entry.idx}: leaf hash"
        cdr = transactions.verify(entry.tx, public=public)
        body = json.loads(cdr)
        key = (body["country_code"].upper(), body["party_id"].upper(), body["id"].upper())
        assert key == (entry.country_code, entry.party_id, entry.cdr_id), entry.idx
        assert key not in in_ledger, f"CDR {key} is in the ledger twice"
        in_ledger[key] = cdr
        tree.append(entry.leaf_hash)
    assert in_ledger == documents, "the stored CDRs and the ledger's differ"
    verifier = checkpoint.verifier_key(name, public)
    previous: LedgerTreeHead | None = None
    for head in heads:
        opened = checkpoint.open_note(head.checkpoint, verifier)
        assert opened == checkpoint.Checkpoint(name, head.size, head.root_hash)
        assert head.root_hash == tree.root(head.size), f"head {head.size}: root"
        assert CompactRange.decode(head.size, head.compact_range).root() == head.root_hash
        if previous is not None:
            path = tree.consistency_path(previous.size, head.size)
            assert verify_consistency(
                previous.size, head.size, previous.root_hash, head.root_hash, path
            )
        previous = head
    assert (heads[-1].size if heads else 0) == tree.size, "the latest head is not the tree"
    return tree


@dataclass
class Net:
    hub: HubUnderTest
    cpo: StrictPeer
    emsp: StrictPeer

    @property
    def key(self) -> HubKey:
        return HubKey(path=self.hub.settings.ledger_key_path, name=self.hub.settings.ledger_name)

    async def post(self, body: bytes) -> httpx.Response:
        return await self.cpo.call(
            "POST", self.hub.endpoint("cdrs", "receiver"), to=EMSP, content=body
        )

    async def audit(self) -> int:
        """The ledger's size, audited here and by the hub's own verifier."""
        key = self.key
        tree = await audit(self.hub.hub.db, public=key.public_bytes, name=key.name)
        report = await self.verify()
        assert report.sound and report.entries == tree.size, report.findings
        return tree.size

    async def verify(self, **options: Any) -> Report:
        key = self.key
        return await verify_ledger(
            self.hub.hub.db, public=key.public_bytes, name=key.name, jobs=1, **options
        )

    async def entry_texts(self) -> list[str]:
        async with self.hub.hub.db.transaction() as tx:
            rows = await tx.execute(sa.text("SELECT tx FROM ledger_entry ORDER BY idx"))
            return [transactions.verify(bytes(b), public=self.key.public_bytes) for (b,) in rows]


@contextlib.asynccontextmanager
async def network() -> AsyncIterator[Net]:
    async with (
        running_hub() as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        yield Net(hub, cpo, emsp)


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    """The hub with the strict CPO and eMSP registered, for one test."""
    async with network() as n:
        yield n
