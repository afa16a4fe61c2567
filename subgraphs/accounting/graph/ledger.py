"""A CDR's entry in the hub's ledger, as the graph shows it: enough for a party to check the
entry on its own (the signed transaction holds the CDR's text; the tree head is signed by the
hub's key)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from subgraphs.accounting.graph.loaders import latest_head
from subgraphs.accounting.ledger.models import LedgerEntry as EntryRow
from subgraphs.accounting.ledger.models import LedgerTreeHead
from subgraphs.common.context import GraphContext


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
