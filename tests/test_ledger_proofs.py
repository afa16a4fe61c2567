"""Inclusion and consistency proofs read from the stored subtree roots are the RFC 9162 paths
of the in-memory tree (itself held to pymerkle and tlog-scales in test_merkle), for every
entry and every signed head, heads of batches (sizes with gaps) included; and a party checks
its CDR's proof from ``incar ledger prove`` with docs/ledger.md's procedure, written here with
the standard library and ``cryptography`` alone."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from incar.db import Database
from incar.hub_key import HubKey, attach_key
from subgraphs.accounting.ledger import log, proofs
from subgraphs.accounting.ledger.merkle import Tree
from tests.conformance.support import cdr
from tests.support.databases import fresh_database
from tests.support.hub_process import incar_env, run_incar
from tests.support.ledger import CPO, EMSP, Net, network

NAME = "incar/FI-ICR/cdrs"
BATCHES = [1, 1, 5, 2, 1, 16, 3, 1, 9]  # one head per batch: sizes 1, 2, 7, 9, 10, 26, 29, 30, 39


@pytest.fixture
async def ledger() -> AsyncIterator[Database]:
    async with fresh_database() as url:
        db = Database(url)
        attach_key(db.factory, HubKey.of(Ed25519PrivateKey.generate(), NAME))
        try:
            count = 0
            for size in BATCHES:
                batch = [
                    (log.CdrKey("NL", "CPL", f"P{count + i}"), json.dumps({"id": f"P{count + i}"}))
                    for i in range(size)
                ]
                count += size
                async with db.transaction(write=True) as tx:
                    await log.lock(tx)
                    await log.append_many(tx, batch)
            yield db
        finally:
            await db.dispose()


async def test_proofs_are_the_rfc_paths_for_every_entry_and_signed_head(ledger: Database) -> None:
    async with ledger.transaction() as tx:
        latest = await proofs.head(tx)
        leaves = [(await proofs.inclusion_proof(tx, i)).leaf_hash for i in range(latest.size)]
        tree = Tree.of(leaves)
        sizes = [sum(BATCHES[: i + 1]) for i in range(len(BATCHES))]
        for size in sizes:
            signed = await proofs.head(tx, size)
            assert signed.root == tree.root(size)
            for index in range(size):
                proof = await proofs.inclusion_proof(tx, index, size)
                assert proof.path == tree.inclusion_path(index, size), (index, size)
                assert proof.head == signed and proof.index == index
            for old in sizes[: sizes.index(size) + 1]:
                path = await proofs.consistency_proof(tx, old, size)
                assert path == tree.consistency_path(old, size), (old, size)


async def test_a_size_without_a_head_or_an_entry_outside_it_gives_no_proof(
    ledger: Database,
) -> None:
    async with ledger.transaction() as tx:
        with pytest.raises(proofs.ProofError, match="no head of size 5"):
            await proofs.inclusion_proof(tx, 0, 5)  # inside the batch 2 -> 7
        with pytest.raises(proofs.ProofError, match="not in the tree of 7"):
            await proofs.inclusion_proof(tx, 7, 7)
        with pytest.raises(proofs.ProofError, match="has no entry"):
            await proofs.cdr_inclusion_proof(tx, "NOPE")
        proof = await proofs.cdr_inclusion_proof(tx, "p8", party=("nl", "cpl"))
        assert proof.index == 8 and proof.head.size == 39


# --- A party's check, as docs/ledger.md describes it: no INCAR code below this line. ---


def party_verifies(document: dict[str, Any], cdr_text: str, public_key: bytes) -> None:
    """Raises unless ``document`` (from ``incar ledger prove``) proves that the hub whose
    Ed25519 key is ``public_key`` signed the CDR ``cdr_text`` into its tree at the head it
    signed."""
    transaction = document["transaction"].encode()
    body = json.loads(transaction)
    # 1. The transaction holds the CDR, byte for byte.
    assert body["asset"]["data"]["cdr"] == cdr_text
    # 2. Its id is the SHA3-256 of its body with "id" null.
    tx_id = body["id"]
    unidentified = transaction.replace(b'"id":"' + tx_id.encode() + b'"', b'"id":null', 1)
    assert hashlib.sha3_256(unidentified).hexdigest() == tx_id == document["transaction_id"]
    # 3. The hub signed it: Ed25519 over SHA3-256 of the body with "id" and the fulfillment
    #    null; the signature is the last 64 bytes of the fulfillment (base64url DER).
    fulfillment = body["inputs"][0]["fulfillment"]
    der = base64.urlsafe_b64decode(fulfillment + "=" * (-len(fulfillment) % 4))
    assert der[:4] == b"\xa4\x64\x80\x20" and der[4:36] == public_key and len(der) == 102
    unsigned = unidentified.replace(
        b'"fulfillment":"' + fulfillment.encode() + b'"', b'"fulfillment":null', 1
    )
    signature = der[38:]
    Ed25519PublicKey.from_public_bytes(public_key).verify(
        signature, hashlib.sha3_256(unsigned).digest()
    )
    # 4. The leaf: SHA-256(0x00 || 8-byte big-endian index || transaction).
    index, size = document["index"], document["tree_size"]
    leaf = hashlib.sha256(b"\x00" + struct.pack(">Q", index) + transaction).digest()
    # 5. The root from the path (RFC 9162 2.1.3.2).
    path = [base64.b64decode(h) for h in document["inclusion_path"]]
    fn, sn, root = index, size - 1, leaf
    for sibling in path:
        assert sn != 0
        if fn & 1 or fn == sn:
            root = hashlib.sha256(b"\x01" + sibling + root).digest()
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            root = hashlib.sha256(b"\x01" + root + sibling).digest()
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    # 6. The head: the checkpoint's text is origin, size, base64 root; its signature line is
    #    "— <origin> base64(key ID || Ed25519 signature of the text)".
    text, _, signatures = document["checkpoint"].partition("\n\n")
    origin, signed_size, signed_root = text.split("\n")[:3]
    assert int(signed_size) == size and base64.b64decode(signed_root) == root
    key_id = hashlib.sha256(origin.encode() + b"\n\x01" + public_key).digest()[:4]
    for line in signatures.splitlines():
        _, name, blob = line.split(" ")
        raw = base64.b64decode(blob)
        if name == origin and raw[:4] == key_id:
            Ed25519PublicKey.from_public_bytes(public_key).verify(raw[4:], (text + "\n").encode())
            return
    raise AssertionError("no signature of the hub's key on the checkpoint")


# --- end of the party's check ---


async def prove(net: Net, tmp_path: Path, *args: str) -> Any:
    env = incar_env(
        net.hub.settings.database_url,
        tmp_path,
        0,
        INCAR_LEDGER_KEY_FILE=str(net.hub.settings.ledger_key_path),
        INCAR_LEDGER_ORIGIN=net.key.name,
    )
    return await run_incar("ledger", "prove", *args, env=env)


async def test_a_party_verifies_its_cdr_from_the_printed_proof(tmp_path: Path) -> None:
    async with network() as net:
        texts = [json.dumps(cdr(CPO, f"PR{i}", EMSP), indent=i % 2 or None) for i in range(11)]
        for text in texts:
            assert (await net.post(text.encode())).status_code == 200
        done = await prove(net, tmp_path, "pr6", "--party", "nl*cpl")
        assert done.returncode == 0, done.stderr
        document = json.loads(done.stdout)
        assert document["index"] == 6 and document["tree_size"] == 11
        public = base64.b64decode(document["public_key"])
        assert public == net.key.public_bytes
        party_verifies(document, texts[6], public)
        # What the check refuses: another CDR, another index, a head that is not the hub's.
        for forged, text in [
            (document, texts[5]),
            ({**document, "index": 5}, texts[6]),
            (
                {**document, "checkpoint": document["checkpoint"].replace("\n11\n", "\n12\n")},
                texts[6],
            ),
        ]:
            with pytest.raises((AssertionError, InvalidSignature)):
                party_verifies(forged, text, public)
        async with net.hub.hub.db.transaction() as tx:  # an older head: the same document
            older = await proofs.cdr_inclusion_proof(tx, "PR6", size=7)
        assert older.document(net.key)["tree_size"] == 7
        party_verifies(older.document(net.key), texts[6], public)
        for args, message in [
            (["NOPE"], "incar ledger prove: CDR NOPE has no entry"),
            (["PR6", "--party", "NLCPL"], "incar ledger prove: not a party CC*PID: 'NLCPL'"),
        ]:
            refused = await prove(net, tmp_path, *args)
            assert refused.returncode != 0 and refused.stderr_lines == [message], refused.stderr
