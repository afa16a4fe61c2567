"""Who the viewer is to the accounting context, and the request's DataLoaders of CDR rows."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from subgraphs.accounting import entries, search
from subgraphs.accounting.ledger import log as ledger
from subgraphs.accounting.ledger import proofs
from subgraphs.accounting.ledger.models import LedgerEntry, LedgerTreeHead
from subgraphs.accounting.models import Cdr
from subgraphs.common.context import GraphContext, Viewer, ViewerKind
from subgraphs.common.errors import Code, error

CdrKey = tuple[str, str, str]


def viewer_audience(viewer: Viewer) -> search.Audience | None:
    """Whose CDRs the viewer sees: a driver those of their token at their eMSP, a party those
    it is the CPO or the eMSP of; anonymous callers none (None)."""
    if viewer.kind is ViewerKind.DRIVER and viewer.token_uid is not None:
        return search.Audience(party=viewer.party, token_uid=viewer.token_uid)
    if viewer.kind is ViewerKind.PARTY and viewer.party is not None:
        return search.Audience(party=viewer.party)
    return None


def audience_of(context: GraphContext) -> search.Audience:
    """The viewer's audience, or UNAUTHENTICATED: CDRs are never public."""
    found = viewer_audience(context.viewer)
    if found is None:
        raise error(Code.UNAUTHENTICATED, "log in, or use your OCPI credentials token")
    return found


def cdrs_by_key(context: GraphContext) -> DataLoader[CdrKey, Cdr | None]:
    def make(c: GraphContext) -> DataLoader[CdrKey, Cdr | None]:
        async def load(keys: list[CdrKey]) -> list[Cdr | None]:
            async with c.runtime.db.transaction() as tx:
                found = await search.by_keys(tx, keys)
            return [found.get(key) for key in keys]

        return DataLoader(load)

    return context.loader("accounting.cdrs_by_key", make)


def cdrs_by_session(context: GraphContext) -> DataLoader[CdrKey, list[Cdr]]:
    """A session's CDRs by (CPO country code, party id, session id), upper-cased."""

    def make(c: GraphContext) -> DataLoader[CdrKey, list[Cdr]]:
        async def load(keys: list[CdrKey]) -> list[list[Cdr]]:
            async with c.runtime.db.transaction() as tx:
                found = await search.by_sessions(tx, keys)
            return [found.get(key, []) for key in keys]

        return DataLoader(load)

    return context.loader("accounting.cdrs_by_session", make)


def ledger_entries(context: GraphContext) -> DataLoader[CdrKey, LedgerEntry | None]:
    def make(c: GraphContext) -> DataLoader[CdrKey, LedgerEntry | None]:
        async def load(keys: list[CdrKey]) -> list[LedgerEntry | None]:
            async with c.runtime.db.transaction() as tx:
                found = await entries.entries_of(tx, keys)
            return [found.get(key) for key in keys]

        return DataLoader(load)

    return context.loader("accounting.ledger_entries", make)


def latest_head(context: GraphContext) -> DataLoader[None, LedgerTreeHead | None]:
    """The ledger's latest signed tree head, read once per request however many CDRs ask."""

    def make(c: GraphContext) -> DataLoader[None, LedgerTreeHead | None]:
        async def load(keys: list[None]) -> list[LedgerTreeHead | None]:
            async with c.runtime.db.transaction() as tx:
                head = await ledger.latest_head(tx)
            return [head for _ in keys]

        return DataLoader(load)

    return context.loader("accounting.latest_head", make)


ProofKey = tuple[int, int | None]  # (entry index, tree size; None for the latest head)


def inclusion_proofs(context: GraphContext) -> DataLoader[ProofKey, proofs.InclusionProof]:
    """Inclusion proofs by (index, tree size): a page of CDRs asking for theirs in one head
    costs three queries, not two per CDR. A key with no proof gets its ProofError, which
    strawberry's DataLoader raises from that key's load()."""

    def make(c: GraphContext) -> DataLoader[ProofKey, proofs.InclusionProof]:
        async def load(keys: list[ProofKey]) -> list[proofs.InclusionProof | BaseException]:
            by_size: dict[int | None, list[int]] = {}
            for index, size in keys:
                by_size.setdefault(size, []).append(index)
            found: dict[ProofKey, proofs.InclusionProof | proofs.ProofError] = {}
            async with c.runtime.db.transaction() as tx:
                for size, indices in by_size.items():
                    try:
                        batch = await proofs.inclusion_proofs(tx, indices, size)
                    except proofs.ProofError as problem:
                        batch = dict.fromkeys(indices, problem)
                    found.update(((index, size), proof) for index, proof in batch.items())
            return [found[key] for key in keys]

        return DataLoader(load)

    return context.loader("accounting.inclusion_proofs", make)
