"""``incar ledger outbox`` and ``incar ledger backfill``: the CDR ledger's upkeep by an operator.

``outbox`` shows what is owed to the BigchainDB node (``INCAR_BIGCHAINDB_URL``) and lists each
transaction the node refused, with its message. ``backfill`` appends the CDRs stored before
the ledger existed (``subgraphs/accounting/ledger/backfill.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from incar.db import Database, migrate_async
from incar.runtime import attach_ledger
from incar.settings import Settings


async def run_outbox(settings: Settings, *, as_json: bool) -> int:
    from subgraphs.accounting.ledger import outbox

    await migrate_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as tx:
            counts = await outbox.counts(tx)
            refused = await outbox.refused(tx)
    finally:
        await db.dispose()
    listed = [{"idx": r.idx, "attempts": r.attempts, "error": r.last_error} for r in refused]
    if as_json:
        print(json.dumps({"node": settings.bigchaindb_url or None, **counts, "refused": listed}))
        return 0
    node = settings.bigchaindb_url or "none (INCAR_BIGCHAINDB_URL is not set: embedded)"
    print(f"node: {node}")
    print(", ".join(f"{state}: {n}" for state, n in counts.items()))
    for row in listed:
        print(f"refused: entry {row['idx']} after {row['attempts']} attempt(s): {row['error']}")
    return 0


async def run_backfill(settings: Settings, *, batch: int, force: bool) -> int:
    from subgraphs.accounting.ledger.backfill import LedgerGap, backfill

    await migrate_async(settings.database_url)
    db = Database(settings.database_url)
    attach_ledger(db, settings)
    try:
        appended = await backfill(db, batch=batch, force=force)
    except LedgerGap as gap:
        print(f"incar ledger backfill: {gap}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    print(f"appended {appended} CDRs without a ledger entry")
    return 0


def _batch(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"a batch is a whole number 1 or more, got {value!r}")
    return int(value)


def add(actions: Any, *, settings: Callable[[argparse.Namespace], Settings]) -> None:
    """Adds the actions to ``incar ledger``; ``settings`` reads the settings of a call."""
    import asyncio

    shown = actions.add_parser(
        "outbox", help="what is owed to the BigchainDB node; the transactions it refused"
    )
    shown.add_argument("--json", action="store_true")
    shown.set_defaults(run=lambda args: asyncio.run(run_outbox(settings(args), as_json=args.json)))

    backfilling = actions.add_parser(
        "backfill",
        help="append every stored CDR without a ledger entry (stored before the ledger), in "
        "stored order, once (each hub start does it too, into an empty ledger only)",
    )
    backfilling.add_argument(
        "--batch", type=_batch, default=500, help="CDRs per transaction (default 500)"
    )
    backfilling.add_argument(
        "--force",
        action="store_true",
        help="append them even though the ledger has entries (CDRs whose entries were removed "
        "behind the hub's back: run incar ledger verify first)",
    )
    backfilling.set_defaults(
        run=lambda args: asyncio.run(
            run_backfill(settings(args), batch=args.batch, force=args.force)
        )
    )
