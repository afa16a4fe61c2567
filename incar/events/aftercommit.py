"""Callbacks tied to a database transaction (a ``tx``): run once it commits, dropped on rollback.

A callback registered inside a savepoint follows the savepoint: released, it joins the enclosing
transaction; rolled back, it is dropped. Callbacks run from SQLAlchemy's ``after_commit`` hook,
after the database has confirmed the commit, on the thread that committed (for an AsyncSession,
the event loop's thread); they must be quick and must not raise, since the commit has already
happened and an error there would make the caller believe it had not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from incar.events.bus import NotInTransaction

log = logging.getLogger(__name__)

_PENDING = "incar.events.after_commit"


@dataclass(slots=True)
class _Pending:
    owner: SessionTransaction
    callback: Callable[[], None]


def after_commit(tx: AsyncSession | Session, callback: Callable[[], None]) -> None:
    """Runs ``callback`` once the transaction ``tx`` is in commits, never if it rolls back."""
    sync = tx.sync_session if isinstance(tx, AsyncSession) else tx
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    if transaction is None:
        raise NotInTransaction("after_commit needs a tx inside a transaction")
    if not event.contains(sync, "after_commit", _on_commit):
        event.listen(sync, "after_commit", _on_commit)
        event.listen(sync, "after_transaction_end", _on_end)
    pending: list[_Pending] = sync.info.setdefault(_PENDING, [])
    pending.append(_Pending(transaction, callback))


def _on_commit(tx: Session) -> None:
    pending: list[_Pending] | None = tx.info.get(_PENDING)
    if not pending:
        return
    # The hook does not say which transaction committed; at this point it is still the
    # innermost one (inner savepoints are committed before their parents).
    committed = tx.get_nested_transaction() or tx.get_transaction()
    if committed is None:
        return
    if committed.nested:
        for item in pending:
            if item.owner is committed and committed.parent is not None:
                item.owner = committed.parent
        return
    due = [item for item in pending if item.owner is committed]
    pending[:] = [item for item in pending if item.owner is not committed]
    for item in due:
        try:
            item.callback()
        except Exception:
            log.exception("an after-commit callback failed; the transaction stays committed")


def _on_end(tx: Session, transaction: SessionTransaction) -> None:
    # Anything still owned by an ending transaction was not committed: rolled back, or closed
    # unfinished.
    pending: list[_Pending] | None = tx.info.get(_PENDING)
    if pending:
        pending[:] = [item for item in pending if item.owner is not transaction]
