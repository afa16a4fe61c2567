"""The caller and registry cache under load: concurrent misses share one read, and a read
begun before a change is never handed to those who ask after it (a real database)."""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager

from incar.db import Database
from ocpi_adapter.platforms.callers import CallerCache
from tests.conformance.support import token_header
from tests.support.hub import HubUnderTest
from tests.support.statements import statements


def platform_reads(db: Database) -> AbstractContextManager[list[str]]:
    """The SELECTs of ``hub_platform`` the engine runs while inside."""
    return statements(db, lambda s: s.lstrip().startswith("SELECT") and "FROM hub_platform" in s)


async def test_concurrent_registry_misses_share_one_read(hub: HubUnderTest) -> None:
    await hub.onboard("CPO", "DE", "AAA")
    cache = CallerCache(hub.hub.db, ttl=60)
    with platform_reads(hub.hub.db) as reads:
        found = await asyncio.gather(*(cache.registry() for _ in range(20)))
    assert len(reads) == 1
    assert all(result is found[0] for result in found)
    assert [platform.name for platform, _ in found[0]] == ["CPO DE*AAA"]


async def test_a_read_begun_before_a_change_is_not_shared_after_it(hub: HubUnderTest) -> None:
    await hub.onboard("CPO", "DE", "AAA")
    cache = CallerCache(hub.hub.db, ttl=60)
    with platform_reads(hub.hub.db) as reads:
        before = asyncio.ensure_future(cache.registry())
        await asyncio.sleep(0)
        assert not before.done()  # the read is in flight
        await hub.onboard("EMSP", "NL", "BBB")
        cache.clear()
        after = await cache.registry()
        await before
    assert len(reads) == 2
    assert sorted(platform.name for platform, _ in after) == ["CPO DE*AAA", "EMSP NL*BBB"]
    # The later read is the one kept.
    assert await cache.registry() is after


async def test_concurrent_lookups_of_one_token_share_one_read(hub: HubUnderTest) -> None:
    token = await hub.onboard("CPO", "DE", "AAA")
    cache = CallerCache(hub.hub.db, ttl=60)
    authorization = token_header(token)["Authorization"]
    with platform_reads(hub.hub.db) as reads:
        callers = await asyncio.gather(*(cache.lookup(authorization) for _ in range(20)))
    # One authentication: a registration token is looked for as token C, then as token A.
    assert len(reads) == 2
    assert {caller.platform.name for caller in callers if caller is not None} == {"CPO DE*AAA"}
    assert await cache.lookup("Token bm90LWEtdG9rZW4=") is None


async def test_a_waiter_cancelled_does_not_cancel_the_shared_read(hub: HubUnderTest) -> None:
    await hub.onboard("CPO", "DE", "AAA")
    cache = CallerCache(hub.hub.db, ttl=60)
    with platform_reads(hub.hub.db) as reads:
        gone = asyncio.ensure_future(cache.registry())
        staying = asyncio.ensure_future(cache.registry())
        await asyncio.sleep(0)
        gone.cancel()
        found = await staying
    assert len(reads) == 1
    assert [platform.name for platform, _ in found] == ["CPO DE*AAA"]
