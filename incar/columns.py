"""Column types shared by every context's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

from incar import exactjson


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite (which has no zones) and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


# Plain JSON, not JSONB: PostgreSQL keeps the text as given (JSONB would reorder keys, drop
# duplicates and reformat numbers). Written by the exact writer (``incar.db``).
Json = sa.JSON


class ExactJson(TypeDecorator[Any]):
    """A document column that keeps the JSON text it is given, byte for byte.

    Written: an ``ExactObject``'s own text (a body as the owner sent it), anything else through
    the exact writer. Read: the stored text (``CAST(... AS TEXT)``: PostgreSQL's ``json`` type
    gives back the text it was given, SQLite stores text), parsed by the exact reader into an
    ``ExactObject`` that keeps it. Select ``cast(column, Text)`` to get the text unparsed.
    """

    impl = sa.JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: Any) -> str | None:
            return None if value is None else exactjson.dumps_text(value)

        return process

    def column_expression(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # Read as text, so that no driver parses it first (asyncpg decodes json itself).
        return sa.type_coerce(sa.cast(column, sa.Text), self)

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        def process(value: str | None) -> Any:
            return None if value is None else exactjson.parse_stored(value)

        return process

    def compare_values(self, x: Any, y: Any) -> bool:
        # A new value is always written: equal as Python values is not equal as text
        # (1.0 == 1.00, and a 30-digit integer equals its float).
        return x is y


class StrEnumColumn[E: StrEnum](TypeDecorator[E]):
    """A StrEnum stored as its plain string value, read back as the enum member."""

    impl = sa.String(16)
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)
