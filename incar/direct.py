"""Statements of the hot path run straight on a ``tx``'s driver connection, in its transaction.

Through ``AsyncSession.execute`` a statement costs SQLAlchemy's whole execution machinery
each time (a greenlet hand-off, the ORM's and the engine's execution contexts, a cache key
built anew for the compiled-statement cache, the result's metadata), about 150 us of CPU a
statement on these machines, more than asyncpg spends sending it and reading its answer.
An EVSE status PATCH runs five statements in its transaction.

Here a Core statement is compiled once per dialect (and per set of parameter names); each run
applies the column types' own bind and result processors, as SQLAlchemy would, and hands the
SQL to the driver: asyncpg on PostgreSQL (which prepares it once and caches it), one thread
hand-off of ``incar.sqlite_driver`` on SQLite. The transaction is still the ``tx``'s:
SQLAlchemy begins, commits and rolls it back, and its ``after_commit`` hooks run as ever.

Only statements whose compiled text does not depend on the values fit (no expanding IN, no
literal-rendered limits); ``execute`` refuses others. Driver errors come as the driver raises
them (asyncpg's or sqlite3's), not wrapped in SQLAlchemy's exception classes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler

from incar import sqlite_driver

_ADAPTER = "incar.direct.adapter"

Processor = Callable[[Any], Any] | None

#: Called with the engine and the SQL of each statement run here, before it runs: SQLAlchemy's
#: cursor events do not see these (tests count statements by both).
observers: list[Callable[[Any, str], None]] = []


@dataclass(frozen=True, slots=True)
class Rows:
    rows: list[tuple[Any, ...]]
    #: Rows returned, or changed by DML without RETURNING; for several sets of values on
    #: PostgreSQL, the count of sets (asyncpg's executemany reports no counts).
    rowcount: int


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in their positional order
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...] | None  # None: a statement that returns no rows
    constants: Mapping[str, Any]  # values the statement carries itself (``.values(txid=0)``)

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        given = [values[n] if n in values else self.constants[n] for n in self.names]
        return [
            value if process is None else process(value)
            for value, process in zip(given, self.binds, strict=True)
        ]

    def rows(self, fetched: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        assert self.results is not None
        if not any(self.results):
            return [tuple(row) for row in fetched]
        return [
            tuple(
                value if process is None else process(value)
                for value, process in zip(row, self.results, strict=True)
            )
            for row in fetched
        ]


async def execute(
    tx: AsyncSession,
    statement: Executable,
    values: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> Rows:
    """Runs ``statement`` with ``values`` (one set, or several for an INSERT or UPDATE without
    RETURNING, in one round trip) in ``tx``'s transaction, beginning it if need be."""
    many = not isinstance(values, Mapping)
    sets: Sequence[Mapping[str, Any]] = values if many else [values]  # type: ignore[list-item,assignment]
    if not sets:
        return Rows([], 0)
    if tx.new or tx.deleted or tx.dirty:
        # SQLAlchemy's autoflush, which its own execute would do: rows the ORM holds pending
        # are written before a statement that might read or refer to them.
        await tx.flush()
    adapter = await _adapter(tx)
    dialect = tx.get_bind().dialect
    compiled = _compile(statement, dialect, tuple(sorted(sets[0])))
    if many and compiled.results is not None:
        raise ValueError("several sets of values for a statement that returns rows")
    for observe in observers:
        observe(tx.get_bind(), compiled.sql)
    if dialect.name == "postgresql":
        return await _postgres(adapter, compiled, sets, many)
    return await _sqlite(adapter, compiled, sets, many)


async def _adapter(tx: AsyncSession) -> Any:
    """The DB-API adapter of the connection ``tx``'s transaction holds, its transaction begun
    on the server (SQLAlchemy's asyncpg adapter begins one only at the first statement)."""
    transaction = tx.sync_session.get_transaction()
    held = tx.info.get(_ADAPTER)
    if held is not None and transaction is not None and held[0] is transaction:
        return held[1]
    connection = await tx.connection()
    adapter: Any = (await connection.get_raw_connection()).dbapi_connection
    if getattr(adapter, "_transaction", False) is None:  # asyncpg: BEGIN not sent yet
        await adapter._start_transaction()
    tx.info[_ADAPTER] = (tx.sync_session.get_transaction(), adapter)
    return adapter


async def _postgres(
    adapter: Any, compiled: _Compiled, sets: Sequence[Mapping[str, Any]], many: bool
) -> Rows:
    # The asyncpg connection. Not under the adapter's mutex: a tx runs one statement at a time,
    # and this is the tx's.
    connection = adapter._connection
    if many:
        await connection.executemany(compiled.sql, [compiled.args(v) for v in sets])
        return Rows([], len(sets))
    args = compiled.args(sets[0])
    if compiled.results is not None:
        fetched = await connection.fetch(compiled.sql, *args)
        return Rows(compiled.rows(fetched), len(fetched))
    status: str = await connection.execute(compiled.sql, *args)
    # "UPDATE 3", "DELETE 0", "INSERT 0 1": the count is the last word.
    last = status.rsplit(" ", 1)[-1]
    return Rows([], int(last) if last.isdigit() else -1)


async def _sqlite(
    adapter: Any, compiled: _Compiled, sets: Sequence[Mapping[str, Any]], many: bool
) -> Rows:
    parameters: Any = [compiled.args(v) for v in sets] if many else compiled.args(sets[0])
    _, fetched, rowcount, _ = await sqlite_driver.run(adapter, compiled.sql, parameters, many)
    if compiled.results is None:
        return Rows([], rowcount)
    return Rows(compiled.rows(fetched), len(fetched))


@functools.lru_cache(maxsize=256)
def _compile(statement: Executable, dialect: Dialect, keys: tuple[str, ...]) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))  # type: ignore[attr-defined]
    assert isinstance(compiled, SQLCompiler)
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("a statement whose text depends on its values cannot run directly")
    if not compiled.positional or compiled.positiontup is None:
        raise ValueError(f"the {dialect.name} dialect's parameters are not positional")
    names = tuple(compiled.positiontup)
    bound = {name: bind for bind, name in compiled.bind_names.items()}
    missing = [n for n in names if n not in keys and bound[n].required]
    if missing:
        raise ValueError(f"no value given for {', '.join(missing)}")
    constants = {n: bound[n].effective_value for n in names if n not in keys}
    binds = tuple(bound[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names)
    # What it returns: a SELECT's columns, an INSERT's or UPDATE's RETURNING, a text()'s
    # .columns(); none for other DML.
    columns = list(getattr(statement, "exported_columns", ()))
    results = (
        tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
        if columns
        else None
    )
    return _Compiled(compiled.string, names, binds, results, constants)
