from __future__ import annotations

import pytest

from incar.events import MemoryBus, PostgresBus, create_bus
from incar.settings import Settings


def test_memory_bus_for_the_embedded_default() -> None:
    settings = Settings()
    assert settings.event_bus == "memory"

    assert isinstance(create_bus(settings.event_bus, "sqlite+aiosqlite:///var/incar.db"), MemoryBus)


def test_postgres_bus_for_a_postgresql_database() -> None:
    bus = create_bus("postgres", "postgresql+asyncpg://postgres@127.0.0.1:5432/incar")

    assert isinstance(bus, PostgresBus)
    assert bus.channel == "incar_events"


def test_postgres_bus_refuses_another_database() -> None:
    with pytest.raises(ValueError, match="PostgreSQL URL"):
        create_bus("postgres", "sqlite+aiosqlite:///var/incar.db")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event bus 'redis'"):
        create_bus("redis", "sqlite+aiosqlite:///var/incar.db")
