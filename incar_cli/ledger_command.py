"""``incar ledger verify`` and ``incar ledger prove CDR_ID``: the CDR ledger checked whole, and
one CDR's inclusion proof for its parties (docs/ledger.md).

The key checked against is the hub's (its key file, read, never made here) or one given as a
C2SP verifier key: an auditor without the private key verifies with the public one.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the command line imports the database and the ledger only when it runs
    from incar.hub_key import HubKey
    from incar.settings import Settings

BAD_INPUT = 2


class _KeyError(ValueError):
    pass


def _key(settings: Settings, verifier: str | None) -> tuple[str, bytes, HubKey | None]:
    """The signer's name and public key; the hub's key when it is the one used."""
    from incar.hub_key import HubKey
    from subgraphs.accounting.ledger import checkpoint

    if verifier:
        try:
            name, public = checkpoint.parse_verifier(verifier)
        except (ValueError, checkpoint.InvalidCheckpoint) as error:
            raise _KeyError(str(error)) from None
        return name, public, None
    if not settings.ledger_key_path.exists():
        raise _KeyError(
            f"no hub key at {settings.ledger_key_path} (set INCAR_LEDGER_KEY_FILE, or give "
            "--verifier-key)"
        )
    key = HubKey(path=settings.ledger_key_path, name=settings.ledger_name)
    return key.name, key.public_bytes, key


async def verify(settings: Settings, args: argparse.Namespace) -> int:
    from incar.db import Database, migrate_async
    from subgraphs.accounting.ledger.verifier import verify_ledger

    if args.jobs is not None and args.jobs < 1:
        print("incar ledger verify: --jobs must be 1 or more", file=sys.stderr)
        return BAD_INPUT

    try:
        name, public, _ = _key(settings, args.verifier_key)
    except _KeyError as error:
        print(f"incar ledger verify: {error}", file=sys.stderr)
        return BAD_INPUT
    await migrate_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        report = await verify_ledger(
            db,
            public=public,
            name=name,
            jobs=args.jobs,
            driver=args.driver,
            every_head_signature=args.every_head_signature,
        )
    finally:
        await db.dispose()
    if args.json:
        summary = {"sound": report.sound, "entries": report.entries, "heads": report.heads}
        print(json.dumps({**summary, "findings": report.findings}))
    elif report.sound:
        print(report.summary())
    for finding in [] if args.json else report.findings:
        print(finding)
    if not report.sound:
        print(
            f"incar ledger verify: the ledger is not sound: {len(report.findings)} finding(s)",
            file=sys.stderr,
        )
        return 1
    return 0


async def prove(settings: Settings, args: argparse.Namespace) -> int:
    from incar.db import Database, migrate_async
    from incar.hub_key import HubKey
    from subgraphs.accounting.ledger.proofs import ProofError, cdr_inclusion_proof

    party = None
    if args.party:
        cc, star, pid = args.party.partition("*")
        if not star or len(cc) != 2 or not 1 <= len(pid) <= 3:
            print(f"incar ledger prove: not a party CC*PID: {args.party!r}", file=sys.stderr)
            return BAD_INPUT
        party = (cc, pid)
    await migrate_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as tx:
            proof = await cdr_inclusion_proof(tx, args.cdr_id, party=party, size=args.size)
    except ProofError as error:
        print(f"incar ledger prove: {error}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    key = HubKey(path=settings.ledger_key_path, name=settings.ledger_name)
    document: dict[str, Any] = proof.document(key if settings.ledger_key_path.exists() else None)
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0


def add(actions: Any, run_async: Any) -> None:
    """Adds ``verify`` and ``prove`` to ``incar ledger``'s actions."""
    checking = actions.add_parser(
        "verify",
        help="check every transaction, leaf, subtree root and head; name what was changed, "
        "removed, inserted or moved",
    )
    checking.add_argument("--verifier-key", help="check against this C2SP verifier key")
    checking.add_argument(
        "--jobs", type=int, help="processes checking signatures (default: one per core)"
    )
    checking.add_argument(
        "--driver", action="store_true", help="check transactions with bigchaindb-driver"
    )
    checking.add_argument(
        "--every-head-signature",
        action="store_true",
        help="verify every head's signature, not only the latest's and any that disagrees",
    )
    checking.add_argument("--json", action="store_true")
    checking.set_defaults(run=run_async(lambda args: verify(_settings(), args)))
    proving = actions.add_parser(
        "prove", help="print a CDR's inclusion proof with its transaction and signed head (JSON)"
    )
    proving.add_argument("cdr_id")
    proving.add_argument("--party", help="the CPO, as CC*PID, when the id is not unique")
    proving.add_argument("--size", type=int, help="a signed head's size (default: the latest)")
    proving.set_defaults(run=run_async(lambda args: prove(_settings(), args)))


def _settings() -> Settings:
    from incar.settings import Settings

    return Settings.from_env()
