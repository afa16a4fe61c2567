"""A ledger leaf is its index and its transaction: the same transaction elsewhere is another
leaf, and the hash is RFC 9162's of those bytes, written out here by hand."""

from __future__ import annotations

import hashlib

from subgraphs.accounting.ledger.leaves import entry_hash, leaf_input


def test_the_leaf_input_is_the_big_endian_index_then_the_transaction() -> None:
    assert leaf_input(0, b"tx") == bytes(8) + b"tx"
    assert leaf_input(258, b"tx") == b"\x00\x00\x00\x00\x00\x00\x01\x02tx"
    assert leaf_input(2**64 - 1, b"") == b"\xff" * 8


def test_the_leaf_hash_binds_the_index() -> None:
    tx = b'{"asset":{"data":{"cdr":"{}"}}}'
    expected = hashlib.sha256(b"\x00" + (7).to_bytes(8, "big") + tx).digest()
    assert entry_hash(7, tx) == expected
    assert entry_hash(8, tx) != expected
    assert entry_hash(7, tx + b" ") != expected
