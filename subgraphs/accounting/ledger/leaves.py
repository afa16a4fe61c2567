"""What the ledger's tree hashes for an entry: its index, then its transaction's bytes.

RFC 9162 leaves are opaque bytes; ours are ``uint64 big-endian index || transaction``, so
the leaf hash ``SHA-256(0x00 || index || transaction)`` names the position it was appended
at: an entry moved to another index no longer hashes to its leaf, and the signed head says
where. The transaction itself carries no index: one CDR text still makes one transaction id.
"""

from __future__ import annotations

import struct

from subgraphs.accounting.ledger.merkle import leaf_hash

_INDEX = struct.Struct(">Q")


def leaf_input(index: int, tx: bytes) -> bytes:
    return _INDEX.pack(index) + tx


def entry_hash(index: int, tx: bytes) -> bytes:
    """The leaf hash of the entry at ``index`` holding the transaction bytes ``tx``."""
    return leaf_hash(leaf_input(index, tx))
