"""The SQL statements a database's engine runs (through SQLAlchemy or ``incar.direct``), for
tests that count what a path costs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from incar import direct
from incar.db import Database


@contextmanager
def statements(db: Database, matching: Callable[[str], bool] = bool) -> Iterator[list[str]]:
    """The statements ``db`` runs while inside that ``matching`` accepts (all, by default);
    an executemany counts once, as it is one call to the driver."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if matching(statement):
            seen.append(statement)

    engine = db.engine.sync_engine

    def count_direct(bind: Any, statement: str) -> None:
        if bind is engine and matching(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    direct.observers.append(count_direct)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
        direct.observers.remove(count_direct)


def starting(prefix: str) -> Callable[[str], bool]:
    """Accepts the statements that begin with ``prefix`` (``"INSERT INTO event_log"``)."""
    return lambda statement: statement.lstrip().startswith(prefix)
