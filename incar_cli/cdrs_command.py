"""``incar cdrs export [FILTERS] > cdrs.csv``: the hub operator's CSV export of CDRs.

The operator runs the hub and holds its database, so the export sees every CDR the filters
find (parties and drivers export theirs over HTTP: ``GET /accounting/cdrs.csv``). It streams
a page at a time to stdout; a filter it cannot take is one line on stderr with exit status 2,
and nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from incar.settings import Settings

BAD_INPUT = 2


def add_export(commands: Any, run: Any) -> None:
    from subgraphs.accounting.filter_names import FILTERS

    cdrs = commands.add_parser("cdrs", help="charge detail records: export them as CSV")
    actions = cdrs.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="write the CDRs the filters find to stdout as CSV, one row per CDR, in the "
        "order their charging started (columns: docs/accounting.md)",
    )
    for param in FILTERS:
        export.add_argument(param.option, dest=param.name, help=param.help)
    export.set_defaults(run=run)


async def run_export(settings: Settings, args: argparse.Namespace) -> int:
    from incar.db import Database
    from subgraphs.accounting import export, search
    from subgraphs.accounting.filter_names import FILTERS

    try:
        chosen = export.filter_of({p.name: getattr(args, p.name) for p in FILTERS})
    except search.SearchError as problem:
        print(f"incar cdrs export: {problem}", file=sys.stderr)
        return BAD_INPUT
    db = Database(settings.database_url)
    try:
        async for text in export.csv_chunks(db, audience=search.Audience.hub(), filter=chosen):
            sys.stdout.write(text)
        sys.stdout.flush()
    finally:
        await db.dispose()
    return 0
