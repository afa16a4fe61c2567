"""A CDR's entry in the hub's ledger, as the graph shows it: enough for a party to check the
entry on its own (the signed transaction holds the CDR's text; the tree head is signed by the
hub's key)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from subgraphs.accounting.graph.loaders import inclusion_proofs, latest_head
from subgraphs.accounting.ledger import proofs
from subgraphs.accounting.ledger.models import LedgerEntry as EntryRow
from subgraphs.accounting.ledger.models import LedgerTreeHead
from subgraphs.common.context import GraphContext
from subgraphs.common.errors import Code, bad_input, error


@strawberry.type(description="A signed head of the ledger's Merkle tree (RFC 9162).")
class TreeHead:
    size: int = strawberry.field(description="How many entries the tree holds.")
    root_hash: str = strawberry.field(description="The tree's root hash, hex.")
    checkpoint: str = strawberry.field(
        description="The head as the hub signed it: a C2SP signed note (checkpoint), verbatim."
    )
    signed_at: datetime = strawberry.field(description="When the hub signed it.")

    @classmethod
    def of(cls, row: LedgerTreeHead) -> TreeHead:
        return cls(
            size=row.size,
            root_hash=bytes(row.root_hash).hex(),
            checkpoint=row.checkpoint,
            signed_at=row.signed_at,
        )


@strawberry.type(
    description="The proof that an entry is in a signed head of the ledger (RFC 9162 "
    "inclusion proof), as `incar ledger prove` prints it: hashes in base64."
)
class InclusionProof:
    tree_size: int = strawberry.field(description="The size of the head it proves against.")
    leaf_hash: str = strawberry.field(
        description="The entry's leaf hash, base64: SHA-256 of 0x00, its index (uint64, "
        "big-endian) and its transaction's bytes."
    )
    audit_path: list[str] = strawberry.field(
        description="PATH(index, D[treeSize]) in base64, the sibling nearest the leaf first."
    )
    checkpoint: str = strawberry.field(
        description="That head as the hub signed it: a C2SP signed note, verbatim; its root "
        "is the one the path leads to."
    )

    @classmethod
    def of(cls, proof: proofs.InclusionProof) -> InclusionProof:
        document = proof.document()
        return cls(
            tree_size=document["tree_size"],
            leaf_hash=document["leaf_hash"],
            audit_path=document["inclusion_path"],
            checkpoint=document["checkpoint"],
        )


@strawberry.type(description="A CDR's entry in the hub's append-only ledger.")
class LedgerEntry:
    row: strawberry.Private[EntryRow]

    @strawberry.field(description="Its index: the leaf's position in the tree, from 0.")
    def index(self) -> int:
        return self.row.idx

    @strawberry.field(description="Its transaction's id: hex SHA3-256 of the transaction body.")
    def transaction_id(self) -> str:
        return self.row.tx_id

    @strawberry.field(
        description="The signed BigchainDB CREATE transaction as stored: its UTF-8 bytes are "
        "the tree's leaf, and its asset holds the CDR's text as the CPO sent it."
    )
    def transaction(self) -> str:
        return bytes(self.row.tx).decode()

    @strawberry.field(description="When it was appended.")
    def appended_at(self) -> datetime:
        return self.row.appended_at

    @strawberry.field(
        description="The first tree size that holds it (its index + 1): every head of at "
        "least this size includes it."
    )
    def included_from_size(self) -> int:
        return self.row.idx + 1

    @strawberry.field(
        description="The ledger's latest signed tree head, which includes this entry."
    )
    async def tree_head(self, info: Info[GraphContext, None]) -> TreeHead:
        head = await latest_head(info.context).load(None)
        assert head is not None and head.size > self.row.idx  # an entry is signed with its head
        return TreeHead.of(head)

    @strawberry.field(
        description="The proof that it is in a signed head: the latest, or the one of "
        "`treeSize` entries (a head the party saw). NOT_FOUND if the hub signed no such head "
        "or that head does not hold it."
    )
    async def inclusion_proof(
        self,
        info: Info[GraphContext, None],
        tree_size: Annotated[
            int | None,
            strawberry.argument(description="The size of a signed head; the latest if left out."),
        ] = None,
    ) -> InclusionProof:
        if tree_size is not None and tree_size < 1:
            raise bad_input(f"treeSize: a head holds at least one entry, not {tree_size}")
        try:  # the loader raises a key's ProofError from load()
            found = await inclusion_proofs(info.context).load((self.row.idx, tree_size))
        except proofs.ProofError as problem:
            raise error(Code.NOT_FOUND, str(problem)) from None
        return InclusionProof.of(found)
