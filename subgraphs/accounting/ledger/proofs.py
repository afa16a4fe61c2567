"""Inclusion and consistency proofs read from the stored subtree roots, in O(log n).

Each entry keeps the roots of the complete subtrees its leaf completes (``LedgerEntry.nodes``),
so any subtree a proof names is a fold of at most log2(n) stored roots; the roots a proof needs
are one query of some 2 log2(n) rows by primary key (those of a page of proofs, one query too),
whatever the size of the ledger, and no leaf is hashed again. A proof is checked against its
head's root before it is handed out: stored roots that do not make the signed root are an
error (``incar ledger verify`` says which), not a proof.

A proof is for a tree size that has a signed head (batched appends leave gaps in the sizes);
by default the latest.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from incar.hub_key import HubKey
from subgraphs.accounting.ledger import checkpoint
from subgraphs.accounting.ledger.log import CdrKey
from subgraphs.accounting.ledger.merkle import (
    HASH_SIZE,
    complete_subtrees,
    consistency_subtrees,
    fold,
    inclusion_subtrees,
    verify_consistency,
    verify_inclusion,
)


class ProofError(LookupError):
    """No such entry or head, or the stored tree cannot prove it."""


@dataclass(frozen=True)
class Head:
    size: int
    root: bytes
    checkpoint: str  # the signed note


@dataclass(frozen=True)
class InclusionProof:
    index: int
    tx_id: str
    tx: bytes  # the signed transaction, as signed; its asset holds the CDR's text
    leaf_hash: bytes
    path: list[bytes]  # RFC 9162 PATH(index, D[size]), the sibling nearest the leaf first
    head: Head

    def document(self, key: HubKey | None = None) -> dict[str, Any]:
        """The proof as ``incar ledger prove`` prints it (docs/ledger.md): hashes in base64,
        as in the checkpoint; the transaction as its exact text."""
        document: dict[str, Any] = {
            "index": self.index,
            "tree_size": self.head.size,
            "transaction_id": self.tx_id,
            "transaction": self.tx.decode(),
            "leaf_hash": _b64(self.leaf_hash),
            "inclusion_path": [_b64(h) for h in self.path],
            "checkpoint": self.head.checkpoint,
        }
        if key is not None:
            document["public_key"] = _b64(key.public_bytes)
            document["verifier_key"] = checkpoint.verifier_key(key.name, key.public_bytes)
        return document


_HEAD = text("SELECT size, root_hash, checkpoint FROM ledger_tree_head WHERE size = :size")
_ENTRIES = text(
    "SELECT idx, tx_id, tx, leaf_hash FROM ledger_entry WHERE idx IN :indices"
).bindparams(bindparam("indices", expanding=True))
_LATEST = text(
    "SELECT size, root_hash, checkpoint FROM ledger_tree_head ORDER BY size DESC LIMIT 1"
)
_NODES = text("SELECT idx, leaf_hash, nodes FROM ledger_entry WHERE idx IN :indices").bindparams(
    bindparam("indices", expanding=True)
)
_BY_CDR = text(
    "SELECT idx FROM ledger_entry WHERE country_code = :cc AND party_id = :pid AND cdr_id = :id"
)
_BY_CDR_ID = text("SELECT idx, country_code, party_id FROM ledger_entry WHERE cdr_id = :id")


async def head(tx: AsyncSession, size: int | None = None) -> Head:
    """The signed head of ``size`` entries; the latest when ``size`` is None."""
    if size is None:
        row = (await tx.execute(_LATEST)).first()
        if row is None:
            raise ProofError("the ledger is empty: no signed head yet")
    else:
        row = (await tx.execute(_HEAD, {"size": size})).first()
        if row is None:
            raise ProofError(f"the hub signed no head of size {size}")
    return Head(size=int(row.size), root=bytes(row.root_hash), checkpoint=row.checkpoint)


async def inclusion_proof(tx: AsyncSession, index: int, size: int | None = None) -> InclusionProof:
    """The proof that the entry at ``index`` is in the signed tree of ``size`` (the latest by
    default)."""
    found = (await inclusion_proofs(tx, [index], size))[index]
    if isinstance(found, ProofError):
        raise found
    return found


async def inclusion_proofs(
    tx: AsyncSession, indices: Sequence[int], size: int | None = None
) -> dict[int, InclusionProof | ProofError]:
    """``inclusion_proof`` of each of ``indices`` in one signed tree, in three queries however
    many (a page of CDRs asks for its entries' proofs at once): the head, the entries, and the
    stored roots all their paths need. An index with no proof gets its ProofError."""
    signed = await head(tx, size)
    wanted = sorted(set(indices))
    inside = [i for i in wanted if 0 <= i < signed.size]
    entries = (
        {int(r.idx): r for r in await tx.execute(_ENTRIES, {"indices": inside})} if inside else {}
    )
    present = [i for i in inside if i in entries]
    subtrees = [inclusion_subtrees(i, signed.size) for i in present]
    roots = iter(await _roots(tx, [subtree for part in subtrees for subtree in part]))
    found: dict[int, InclusionProof | ProofError] = {}
    for index in wanted:
        if not 0 <= index < signed.size:
            found[index] = ProofError(f"entry {index} is not in the tree of {signed.size} entries")
        elif index not in entries:
            found[index] = ProofError(f"there is no entry {index}")
    for index, part in zip(present, subtrees, strict=True):
        entry = entries[index]
        path = [next(roots) for _ in part]
        leaf = bytes(entry.leaf_hash)
        if not verify_inclusion(leaf, index, signed.size, path, signed.root):
            found[index] = ProofError(
                f"the stored tree does not prove entry {index} in head {signed.size}: "
                "run incar ledger verify"
            )
            continue
        found[index] = InclusionProof(
            index=index,
            tx_id=entry.tx_id,
            tx=bytes(entry.tx),
            leaf_hash=leaf,
            path=path,
            head=signed,
        )
    return found


async def cdr_inclusion_proof(
    tx: AsyncSession, cdr_id: str, *, party: tuple[str, str] | None = None, size: int | None = None
) -> InclusionProof:
    """``inclusion_proof`` of the entry of a CDR, by its id (upper-cased like the stored key)
    and, where two CPOs used one id, the CPO's country code and party id."""
    cdr_id = cdr_id.upper()
    if party is not None:
        key = CdrKey(party[0].upper(), party[1].upper(), cdr_id)
        row = (
            await tx.execute(
                _BY_CDR, {"cc": key.country_code, "pid": key.party_id, "id": key.cdr_id}
            )
        ).first()
        if row is None:
            raise ProofError(f"CDR {cdr_id} of {key.country_code}*{key.party_id} has no entry")
        return await inclusion_proof(tx, int(row.idx), size)
    rows = (await tx.execute(_BY_CDR_ID, {"id": cdr_id})).all()
    if not rows:
        raise ProofError(f"CDR {cdr_id} has no entry")
    if len(rows) > 1:
        parties = ", ".join(sorted(f"{r.country_code}*{r.party_id}" for r in rows))
        raise ProofError(f"CDR {cdr_id} is the id of CDRs of {parties}: name the party")
    return await inclusion_proof(tx, int(rows[0].idx), size)


async def consistency_proof(
    tx: AsyncSession, old_size: int, new_size: int | None = None
) -> list[bytes]:
    """PROOF(old_size, D[new_size]) between two signed heads (the latest by default)."""
    old, new = await head(tx, old_size), await head(tx, new_size)
    if old.size > new.size:
        raise ProofError(f"head {old.size} is newer than head {new.size}")
    path = await _roots(tx, consistency_subtrees(old.size, new.size))
    if not verify_consistency(old.size, new.size, old.root, new.root, path):
        raise ProofError(
            f"the stored tree does not prove head {new.size} consistent with head {old.size}: "
            "run incar ledger verify"
        )
    return path


async def _roots(tx: AsyncSession, subtrees: list[tuple[int, int]]) -> list[bytes]:
    """The roots of the subtrees (start, n), each folded from the stored roots of its complete
    subtrees, in one query."""
    parts = [complete_subtrees(start, n) for start, n in subtrees]
    wanted = {_holder(height, position) for part in parts for height, position in part}
    if not wanted:
        return []
    rows = {
        int(r.idx): (bytes(r.leaf_hash), bytes(r.nodes))
        for r in await tx.execute(_NODES, {"indices": sorted(wanted)})
    }
    roots: list[bytes] = []
    for part in parts:
        hashes = []
        for height, position in part:
            row = rows.get(_holder(height, position))
            node = None if row is None else _node(row, height)
            if node is None:
                raise ProofError(
                    f"the stored tree lacks the root of {1 << height} entries from "
                    f"{position << height}: run incar ledger verify"
                )
            hashes.append(node)
        roots.append(fold(hashes))
    return roots


def _holder(height: int, position: int) -> int:
    """The entry that keeps the root of subtree (height, position): its last leaf."""
    return ((position + 1) << height) - 1


def _node(row: tuple[bytes, bytes], height: int) -> bytes | None:
    leaf, nodes = row
    if height == 0:
        return leaf
    node = nodes[(height - 1) * HASH_SIZE : height * HASH_SIZE]
    return node if len(node) == HASH_SIZE else None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
