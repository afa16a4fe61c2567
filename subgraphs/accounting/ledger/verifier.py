"""The whole ledger checked from its tables, as ``incar ledger verify`` reports it.

What is trusted is what the hub's key signed: each transaction (its CDR) and each tree head's
checkpoint. Everything else in the tables (indices, leaf hashes, the stored subtree roots, the
heads' roots and right edges, the CDR documents) is checked against those. A finding names
the entry (by index) or the head (by size) and what is wrong with it:

- *changed*: an entry whose transaction is not the hub's (id, signature, shape);
- *moved*: a signed transaction at another index than the one its leaf hash was made for (the
  leaf input holds the index); runs of them are reported as one line;
- *removed*: an index below the latest signed size that no entry holds or claims;
- *inserted*: an entry past the latest signed head, a forged one where a moved one claims the
  index, or two entries claiming one index;
- a *head* whose checkpoint's signature, text, root or right edge disagree, and the first signed
  head the rebuilt tree does not match: with one head per append, that names the entry even
  when an attacker recomputed every derived column.

The tables are read in one snapshot (REPEATABLE READ on PostgreSQL; SQLite's read transaction)
as one stream ordered by index, in O(log n) memory; the signature checks, which are most of the
time (Ed25519 verification, some 90 us each here), run in ``jobs`` processes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from incar.db import Database
from subgraphs.accounting.ledger import checkpoint, transactions
from subgraphs.accounting.ledger.leaves import entry_hash
from subgraphs.accounting.ledger.merkle import CompactRange

CHUNK = 4000  # rows a worker checks at a time
PARALLEL_FROM = 20_000  # below this, starting processes costs more than it saves
SEARCH_ALL = 8  # rows whose original index is searched for in the whole ledger; then nearby
NEARBY = 64
SHOWN = 20  # findings of one kind listed before "and N more"

_ROWS = text(
    "SELECT e.idx, e.tx, e.country_code, e.party_id, e.cdr_id, e.leaf_hash, e.nodes, "
    "h.root_hash, h.compact_range, h.checkpoint "
    "FROM ledger_entry e LEFT JOIN ledger_tree_head h ON h.size = e.idx + 1 ORDER BY e.idx"
)


@dataclass(frozen=True)
class Report:
    entries: int
    heads: int
    latest: checkpoint.Checkpoint | None
    findings: list[str]

    @property
    def sound(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        if self.latest is None:
            return f"ledger sound: empty ({self.entries} entries, no signed head)"
        root = base64.b64encode(self.latest.root).decode()
        return (
            f"ledger sound: {self.entries} entries, {self.heads} signed heads, every "
            f"transaction signed by {self.latest.origin}; latest head {self.latest.size} {root}"
        )


async def verify_ledger(
    db: Database,
    *,
    public: bytes,
    name: str,
    jobs: int | None = None,
    driver: bool = False,
    every_head_signature: bool = False,
    documents: bool = True,
) -> Report:
    """Checks the ledger of ``db`` against the hub key ``public`` (signer ``name``).

    ``driver`` checks each transaction with bigchaindb-driver (the reference; some 0.2 ms an
    entry more) instead of ``transactions.verify_fast``. ``documents`` also checks the stored
    CDRs against the entries (off only for a ledger kept without them: the bench's). Every
    head's text, root and right edge
    are checked against the rebuilt tree; its signature is checked for the latest head, for
    every head that disagrees, and for all of them with ``every_head_signature``."""
    async with db.transaction() as tx:
        if tx.get_bind().dialect.name == "postgresql":
            await tx.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        scan = _Scan(public=public, name=name, driver=driver, every=every_head_signature)
        await scan.prepare(tx)
        workers = jobs or os.cpu_count() or 1
        pool: Executor | None = None
        if workers > 1 and scan.count >= PARALLEL_FROM:
            pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
        try:
            await scan.run(tx, pool, in_flight=2 * workers)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        if documents:
            await scan.cross_check(tx)
    return scan.report()


@dataclass
class _Scan:
    public: bytes
    name: str
    driver: bool
    every: bool
    count: int = 0
    end: int = 0  # past the last entry's index
    heads: int = 0
    latest: Any = None  # the latest head's row
    findings: list[str] = field(default_factory=list)
    changed: dict[int, str] = field(default_factory=dict)  # index: why its transaction is not
    moved: dict[int, int | None] = field(default_factory=dict)  # index: original (None: unknown)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    nodes_wrong: list[int] = field(default_factory=list)
    first_bad_head: int | None = None
    last_good_head: int = 0
    searched: int = 0

    async def prepare(self, tx: AsyncSession) -> None:
        self.count, self.heads = (
            await tx.execute(
                text(
                    "SELECT (SELECT count(*) FROM ledger_entry), "
                    "(SELECT count(*) FROM ledger_tree_head)"
                )
            )
        ).one()
        self.latest = (
            await tx.execute(
                text(
                    "SELECT size, root_hash, compact_range, checkpoint FROM ledger_tree_head "
                    "ORDER BY size DESC LIMIT 1"
                )
            )
        ).first()
        if self.latest is not None:
            self._check_note(self.latest.size, self.latest.checkpoint)
        orphans = await tx.execute(
            text(
                "SELECT h.size FROM ledger_tree_head h WHERE NOT EXISTS "
                "(SELECT 1 FROM ledger_entry e WHERE e.idx = h.size - 1) ORDER BY h.size"
            )
        )
        for (size,) in orphans:
            if size == 0:
                self.findings.append("head 0: the hub signs no empty tree (inserted)")
            else:
                self.findings.append(f"head {size}: there is no entry {size - 1} it covers")

    @property
    def signed_size(self) -> int:
        return 0 if self.latest is None else int(self.latest.size)

    async def run(self, tx: AsyncSession, pool: Executor | None, *, in_flight: int) -> None:
        pending: list[asyncio.Future[list[tuple[int, str]]]] = []
        edge, stored_edge, expected = CompactRange.empty(), CompactRange.empty(), 0
        rows = await tx.stream(_ROWS.execution_options(yield_per=CHUNK))
        async for chunk in rows.partitions(CHUNK):
            work = [(r.idx, bytes(r.tx), r.country_code, r.party_id, r.cdr_id) for r in chunk]
            notes = [
                (r.idx + 1, bytes(r.root_hash), r.checkpoint)
                for r in chunk
                if self.every and r.checkpoint is not None
            ]
            if pool is None:
                self._collect(_check_transactions(self.public, self.name, self.driver, work, notes))
            else:
                loop = asyncio.get_running_loop()
                pending.append(
                    loop.run_in_executor(
                        pool, _check_transactions, self.public, self.name, self.driver, work, notes
                    )
                )
                if len(pending) >= in_flight:
                    self._collect(await pending.pop(0))
            for row in chunk:
                index, body = row.idx, bytes(row.tx)
                if index != expected:  # the tree cannot be rebuilt past a gap
                    self.gaps.append((expected, index))
                    expected = index
                leaf = entry_hash(index, body)
                stored = bytes(row.leaf_hash)
                if stored != leaf:
                    self.moved[index] = self._original(index, body, stored)
                stored_edge, completed = stored_edge.append_nodes(stored)
                if not self.gaps and b"".join(completed) != bytes(row.nodes):
                    self.nodes_wrong.append(index)
                edge = edge.append(leaf)
                expected = self.end = index + 1
                if row.checkpoint is not None and not self.gaps:
                    self._check_head(index + 1, row, edge)
        for future in pending:
            self._collect(await future)

    def _collect(self, failures: Iterable[tuple[int, str]]) -> None:
        for index, reason in failures:
            if index < 0:  # a head's signature, checked with every_head_signature
                self.findings.append(reason)
            else:
                self.changed[index] = reason

    def _original(self, index: int, body: bytes, stored: bytes) -> int | None:
        """The index the stored leaf hash was made for, searched near ``index`` first."""
        upper = max(self.signed_size, self.count) + 1
        reach = upper if self.searched < SEARCH_ALL else NEARBY
        self.searched += 1
        for distance in range(1, reach + 1):
            for candidate in (index - distance, index + distance):
                if 0 <= candidate < upper and entry_hash(candidate, body) == stored:
                    return candidate
        return None

    def _check_head(self, size: int, row: Any, edge: CompactRange) -> None:
        root, stored_root, note = edge.root(), bytes(row.root_hash), row.checkpoint
        if not note.startswith(checkpoint.Checkpoint(self.name, size, root).text() + "\n"):
            opened, problem = self._open(note)
            if opened is None:
                self.findings.append(f"head {size}: its checkpoint is tampered: {problem}")
            elif opened.size != size:
                self.findings.append(f"head {size}: its checkpoint is of size {opened.size}")
            elif self.first_bad_head is None:  # signed, but not over these entries
                self.first_bad_head = size
        elif stored_root != root:
            self.findings.append(f"head {size}: its stored root is not the one it signs")
        elif self.first_bad_head is None:
            self.last_good_head = size
        if bytes(row.compact_range) != edge.encode():
            self.findings.append(
                f"head {size}: its stored right edge is not the tree's (the next append "
                "would fork the tree)"
            )

    def _open(self, note: str) -> tuple[checkpoint.Checkpoint | None, str]:
        try:
            verifier = checkpoint.verifier_key(self.name, self.public)
            return checkpoint.open_note(note, verifier), ""
        except checkpoint.InvalidCheckpoint as error:
            return None, str(error)

    def _check_note(self, size: int, note: str) -> None:
        opened, problem = self._open(note)
        if opened is None:
            self.findings.append(f"head {size} (the latest): not signed by the hub: {problem}")
        elif opened.size != size:
            self.findings.append(f"head {size} (the latest): its checkpoint is of {opened.size}")

    async def cross_check(self, tx: AsyncSession) -> None:
        """Every stored CDR has an entry and every entry's CDR is stored: a CDR removed with
        its entry and its head shows here."""
        unlogged = await tx.execute(
            text(
                "SELECT c.country_code, c.party_id, c.object_id FROM cdr c WHERE NOT EXISTS "
                "(SELECT 1 FROM ledger_entry e WHERE e.country_code = c.country_code AND "
                "e.party_id = c.party_id AND e.cdr_id = c.object_id) "
                f"ORDER BY c.country_code, c.party_id, c.object_id LIMIT {SHOWN + 1}"
            )
        )
        for cc, pid, oid in _shown(list(unlogged)):
            self.findings.append(f"CDR {oid} of {cc}*{pid} is stored but has no ledger entry")
        unstored = await tx.execute(
            text(
                "SELECT e.idx FROM ledger_entry e WHERE NOT EXISTS (SELECT 1 FROM cdr c WHERE "
                "e.country_code = c.country_code AND e.party_id = c.party_id AND "
                f"e.cdr_id = c.object_id) ORDER BY e.idx LIMIT {SHOWN + 1}"
            )
        )
        for (index,) in _shown(list(unstored)):
            self.findings.append(f"entry {index}: its CDR is not stored (the document was removed)")

    def report(self) -> Report:
        findings = [*self._entry_findings(), *self.findings]
        latest = None
        if self.latest is not None:
            latest = checkpoint.Checkpoint(
                self.name, int(self.latest.size), bytes(self.latest.root_hash)
            )
        return Report(entries=self.count, heads=self.heads, latest=latest, findings=findings)

    def _entry_findings(self) -> list[str]:
        lines = [
            f"{_span(start, end - 1)}: missing (removed); the tree is not rebuilt past them"
            for start, end in self.gaps
        ]
        gap = {i for start, end in self.gaps for i in range(start, end)}
        odd = set(self.moved) | set(self.changed)
        # The index each odd entry was appended at: where its leaf hash says, else its own.
        claim = {i: o if (o := self.moved.get(i)) is not None else i for i in odd}
        holders: dict[int, list[int]] = {}
        for index, original in sorted(claim.items()):
            holders.setdefault(original, []).append(index)
        for original, held in holders.items():
            if original not in odd and original not in gap and original < self.end:
                held.insert(0, original)  # the entry in place claims its own index too
        runs: list[tuple[int, int, int]] = []  # (first index, last index, original - index)
        for index, moved_from in sorted(self.moved.items()):
            if index in self.changed:
                continue
            if moved_from is None:
                lines.append(f"entry {index}: changed: its leaf hash is not of its transaction")
                continue
            delta = moved_from - index
            if runs and runs[-1][1] == index - 1 and runs[-1][2] == delta:
                runs[-1] = (runs[-1][0], index, delta)
            else:
                runs.append((index, index, delta))
        for first, last, delta in runs:
            what = "it holds the transaction" if first == last else "they hold the transactions"
            where = str(first + delta) if first == last else f"{first + delta} to {last + delta}"
            lines.append(f"{_span(first, last)}: moved: {what} appended at {where}")
        changed = sorted(self.changed.items())
        for index, reason in changed[:SHOWN]:
            kind = "inserted" if len(holders[claim[index]]) > 1 else "changed"
            lines.append(f"entry {index}: {kind}: {reason}")
        if len(changed) > SHOWN:
            lines.append(f"and {len(changed) - SHOWN} more entries changed or inserted")
        for original, held in sorted(holders.items()):
            if len(held) > 1 and not any(i in self.changed for i in held):
                lines.append(
                    f"entries {', '.join(map(str, held))} hold transactions appended at "
                    f"{original}: all but one were inserted"
                )
        for original in sorted(odd - set(holders)):
            if original < self.signed_size:
                lines.append(f"entry {original}: removed (no entry holds its transaction)")
        for index in range(self.signed_size, min(self.end, self.signed_size + SHOWN)):
            lines.append(f"entry {index}: past the latest signed head {self.signed_size}: inserted")
        if self.first_bad_head is not None:
            lines.append(
                f"head {self.first_bad_head}: the entries do not make the tree it signs, the "
                f"first such head (head {self.last_good_head} holds): an entry from "
                f"{self.last_good_head} to {self.first_bad_head - 1} was changed or moved"
            )
        lines.extend(
            f"entry {index}: its stored subtree roots are not those of the leaves"
            for index in _shown(self.nodes_wrong)
        )
        return lines


def _shown(items: Sequence[Any]) -> list[Any]:
    return list(items[:SHOWN])


def _span(first: int, last: int) -> str:
    return f"entry {first}" if first == last else f"entries {first} to {last}"


def _check_transactions(
    public: bytes,
    name: str,
    driver: bool,
    rows: Sequence[tuple[int, bytes, str, str, str]],
    notes: Sequence[tuple[int, bytes, str]],
) -> list[tuple[int, str]]:
    """The rows whose transaction is not the hub's CDR of the row's key, with why; then the
    heads of ``notes`` whose signature does not verify (index -1). Runs in a worker."""
    check = transactions.verify if driver else transactions.verify_fast
    failures: list[tuple[int, str]] = []
    for index, body, cc, pid, cdr_id in rows:
        try:
            cdr = check(body, public=public)
        except transactions.InvalidTransaction as error:
            failures.append((index, str(error)))
            continue
        try:
            data = json.loads(cdr)
            key = (data["country_code"].upper(), data["party_id"].upper(), data["id"].upper())
        except (ValueError, KeyError, TypeError, AttributeError):
            failures.append((index, "its CDR has no country_code, party_id and id"))
            continue
        if key != (cc, pid, cdr_id):
            failures.append((index, f"its CDR is {key[2]} of {key[0]}*{key[1]}, not {cdr_id}"))
    verifier = checkpoint.verifier_key(name, public)
    for size, root, note in notes:
        try:
            opened = checkpoint.open_note(note, verifier)
        except checkpoint.InvalidCheckpoint as error:
            failures.append((-1, f"head {size}: {error}"))
            continue
        if opened != checkpoint.Checkpoint(name, size, root):
            failures.append((-1, f"head {size}: its checkpoint is not of its size and root"))
    return failures
