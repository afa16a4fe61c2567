"""The CDR ledger's headers (docs/ledger-headers.md): what the hub tells each party of the
entries of its CDRs beside the CDRs, never inside them (a CDR's body is relayed byte for byte).

- ``INCAR-Ledger-Checkpoint``: the signed tree head (a C2SP signed note), base64 of its UTF-8
  bytes (the note has newlines and an em dash, which a header cannot carry as they are);
- ``INCAR-Ledger-Index``: the entry's index in the tree; on a page, one per CDR of the page in
  its order, comma-separated, ``-`` for a CDR that has no entry;
- ``INCAR-Ledger-Transaction-Id``: the entry's transaction id (hex SHA3-256), on a single CDR.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from incar import documents, exactjson
from incar.documents import Page
from subgraphs.accounting.ledger import heads
from subgraphs.accounting.ledger.log import CdrKey, latest_head

CHECKPOINT = "INCAR-Ledger-Checkpoint"
INDEX = "INCAR-Ledger-Index"
TRANSACTION_ID = "INCAR-Ledger-Transaction-Id"
NO_ENTRY = "-"


def encode_checkpoint(note: str) -> str:
    return base64.b64encode(note.encode()).decode()


def decode_checkpoint(value: str) -> str:
    """The signed note of a header's value (a party's side; the tests use it)."""
    return base64.b64decode(value, validate=True).decode()


def cdr_key(cdr: Mapping[str, object]) -> CdrKey:
    key = documents.key(str(cdr["country_code"]), str(cdr["party_id"]), str(cdr["id"]))
    return CdrKey(key["country_code"], key["party_id"], key["object_id"])


async def of_cdr(tx: AsyncSession, cdr: Mapping[str, object]) -> dict[str, str]:
    """The headers of one stored CDR: its entry and the head its append signed; none for a
    CDR without an entry (stored before the ledger, until ``incar ledger backfill``)."""
    key = cdr_key(cdr)
    entry = (await heads.entries_of(tx, [key])).get(key)
    head = None if entry is None else await heads.covering(tx, entry.idx)
    if entry is None or head is None:
        return {}
    return {
        CHECKPOINT: encode_checkpoint(head.checkpoint),
        INDEX: str(entry.idx),
        TRANSACTION_ID: entry.tx_id,
    }


async def of_page(tx: AsyncSession, page: Page) -> dict[str, str]:
    """The headers of a page of CDRs: the latest head (read after the page, so it covers
    every entry named) and each CDR's index, in the page's order."""
    # The stored texts, read as the hub reads what it stored (a 1E400 is not a float here).
    keys = [cdr_key(exactjson.parse_stored(text)) for text in page.items]
    entries = await heads.entries_of(tx, keys)
    head = await latest_head(tx)
    if head is None:
        return {}
    headers = {CHECKPOINT: encode_checkpoint(head.checkpoint)}
    if keys:
        indices = (entries.get(key) for key in keys)
        headers[INDEX] = ",".join(NO_ENTRY if e is None else str(e.idx) for e in indices)
    return headers
