"""The ledger's outbox to a BigchainDB node, over real HTTP: a strict CPO posts CDRs through the
hub to a strict eMSP, and the hub posts each ledger transaction to a stand-in node
(tests/support/bigchaindb_node.py: the node's HTTP contract, checked with bigchaindb-driver).

- each transaction is posted once and marked delivered, the node holds it as the hub signed it;
- the hub answers CPOs while the node keeps its posts waiting;
- a node that was down gets what it missed, after retries;
- a hub restarted in the middle of its outbox delivers the rest, nothing twice;
- a transaction the node calls invalid (400) is not sent again, and is listed and logged;
- a killed ``incar serve`` process, started again, delivers what it owed;
- without INCAR_BIGCHAINDB_URL the ledger writes no outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from incar.db import Database
from incar.hub_key import HubKey
from subgraphs.accounting.ledger import outbox, transactions
from subgraphs.accounting.ledger.bigchaindb import Delivered, NodeClient, Refused
from tests.conformance.support import cdr
from tests.peers.strict.peer import running_peer
from tests.support.bigchaindb_node import StandInNode, running_node
from tests.support.databases import fresh_database
from tests.support.hub import HubUnderTest, serving_hub
from tests.support.hub_process import (
    free_port,
    hub_process,
    incar_env,
    onboard,
    register_at,
    run_incar,
)
from tests.test_cdr_ledger import CPO, EMSP, Net, network, spelt, status

FAST: dict[str, Any] = {
    "bigchaindb_retry_first": 0.05,
    "bigchaindb_retry_longest": 0.2,
    "bigchaindb_poll_interval": 0.05,
}


@contextlib.asynccontextmanager
async def mirrored(node_url: str, database_url: str) -> AsyncIterator[Net]:
    async with (
        serving_hub(database_url, bigchaindb_url=node_url, **FAST) as hub,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        await cpo.register(hub)
        await emsp.register(hub)
        await hub.settle()
        yield Net(hub, cpo, emsp)


async def rows(hub: HubUnderTest) -> list[dict[str, Any]]:
    async with hub.hub.db.transaction() as tx:
        found = await tx.execute(
            sa.text(
                "SELECT o.idx, o.state, o.attempts, o.last_error, e.tx_id, e.tx "
                "FROM ledger_outbox o JOIN ledger_entry e ON e.idx = o.idx ORDER BY o.idx"
            )
        )
        return [dict(row._mapping) for row in found]


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    try:
        async with asyncio.timeout(30):
            while not await check():  # noqa: ASYNC110 (rows of another task: no event)
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"not within 30 s: {what}")


def delivered(hub: HubUnderTest, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        states = [r["state"] for r in await rows(hub)]
        return states == ["delivered"] * count

    return check


async def post_cdrs(net: Net, *ids: str) -> None:
    for cdr_id in ids:
        assert status(await net.post(spelt(cdr(CPO, cdr_id, EMSP)))) == 1000


async def test_each_transaction_is_posted_once_and_marked_delivered() -> None:
    node = StandInNode()
    async with (
        fresh_database() as database,
        running_node(node) as url,
        mirrored(url, database) as net,
    ):
        await post_cdrs(net, "BO1", "BO2", "BO3")
        await post_cdrs(net, "BO2")  # a retry: its entry, no second row
        await eventually(delivered(net.hub, 3), "all delivered")
        found = await rows(net.hub)
        assert sorted(node.posts) == sorted(r["tx_id"] for r in found)  # once each
        for row in found:
            assert node.held[row["tx_id"]] == orjson.loads(row["tx"])  # as the hub signed it
            assert row["attempts"] == 1 and row["last_error"] is None


async def test_the_hub_answers_while_the_node_keeps_its_posts_waiting() -> None:
    node = StandInNode(hold=asyncio.Event())
    async with (
        fresh_database() as database,
        running_node(node) as url,
        mirrored(url, database) as net,
    ):
        await post_cdrs(net, "BW1")
        await eventually(lambda: _true(len(node.posts) == 1), "the post is waiting")
        await post_cdrs(net, "BW2")  # answered while the node still holds the first post
        assert [r["state"] for r in await rows(net.hub)] == ["pending", "pending"]
        assert node.hold is not None
        node.hold.set()
        await eventually(delivered(net.hub, 2), "both delivered")


async def _true(value: bool) -> bool:
    return value


async def test_a_node_that_was_down_gets_what_it_missed() -> None:
    node, port = StandInNode(), free_port()
    async with fresh_database() as database, mirrored(f"http://127.0.0.1:{port}", database) as net:
        await post_cdrs(net, "BD1", "BD2", "BD3")

        async def retried() -> bool:
            first = (await rows(net.hub))[0]
            return first["attempts"] >= 2 and bool(first["last_error"])

        await eventually(retried, "retried while the node is down")
        assert all(r["state"] == "pending" for r in await rows(net.hub))
        async with running_node(node, port=port):
            await eventually(delivered(net.hub, 3), "delivered once the node is up")
        assert sorted(node.posts) == sorted(r["tx_id"] for r in await rows(net.hub))


async def test_a_restarted_hub_delivers_the_rest_and_nothing_twice() -> None:
    node = StandInNode()
    async with fresh_database() as database, running_node(node) as url:
        async with mirrored(url, database) as net:
            await post_cdrs(net, "BR1", "BR2")
            await eventually(delivered(net.hub, 2), "the first two delivered")
            node.fail = 10**6  # from here on the node answers 503
            await post_cdrs(net, "BR3", "BR4", "BR5")
            await eventually(lambda: _true(len(node.posts) > 2), "a post failed")
            states = [r["state"] for r in await rows(net.hub)]
            assert states == ["delivered"] * 2 + ["pending"] * 3  # stopped mid-outbox
        first = set(node.posts[:2])
        node.fail = 0
        async with serving_hub(database, bigchaindb_url=url, **FAST) as restarted:
            await eventually(delivered(restarted, 5), "the rest delivered after the restart")
            found = await rows(restarted)
        assert set(node.held) == {r["tx_id"] for r in found}
        assert all(node.posts.count(tx_id) == 1 for tx_id in first)  # delivered: not again


async def test_an_invalid_transaction_is_not_sent_again_and_is_listed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = StandInNode(hold=asyncio.Event())
    caplog.set_level(logging.ERROR, logger="incar.ledger.outbox")
    async with (
        fresh_database() as database,
        running_node(node) as url,
        mirrored(url, database) as net,
    ):
        await post_cdrs(net, "BI1", "BI2", "BI3")
        refused_id = (await rows(net.hub))[0]["tx_id"]
        node.refuse.add(refused_id)  # before the node answers the post it holds
        assert node.hold is not None
        node.hold.set()

        async def settled() -> bool:
            return [r["state"] for r in await rows(net.hub)] == ["refused", *["delivered"] * 2]

        await eventually(settled, "one refused, the others delivered")
        await asyncio.sleep(20 * FAST["bigchaindb_poll_interval"])  # rounds go on meanwhile
        assert node.posts.count(refused_id) == 1
        refused = (await rows(net.hub))[0]
        assert refused["attempts"] == 1 and "refused by the test" in refused["last_error"]
        async with net.hub.hub.db.transaction() as tx:
            assert await outbox.counts(tx) == {"pending": 0, "delivered": 2, "refused": 1}
            assert [r.idx for r in await outbox.refused(tx)] == [0]
        assert any(refused_id in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
        # An operator sees it too.
        with tempfile.TemporaryDirectory() as data_dir:
            env = incar_env(database, Path(data_dir), free_port())
            shown = await run_incar("ledger", "outbox", "--json", env=env)
        assert shown.returncode == 0, shown.stderr
        listed = json.loads(shown.stdout)
        assert (listed["pending"], listed["delivered"]) == (0, 2)
        assert [r["idx"] for r in listed["refused"]] == [0]
        assert "refused by the test" in listed["refused"][0]["error"]


async def test_without_a_node_the_ledger_writes_no_outbox() -> None:
    async with network() as net:
        await post_cdrs(net, "BN1")
        assert await net.audit() == 1
        assert await rows(net.hub) == []


def test_the_backoff_doubles_up_to_the_longest_with_jitter() -> None:
    def wait(failures: int, r: float) -> float:
        return outbox.backoff(failures, first=1.0, longest=8.0, rng=lambda: r)

    assert [wait(n, 1.0) for n in (1, 2, 3, 4, 5, 1000)] == [1, 2, 4, 8, 8, 8]
    assert [wait(n, 0.0) for n in (1, 4, 1000)] == [0.5, 4, 4]  # at least half of it


async def test_the_stand_in_refuses_what_a_node_refuses() -> None:
    key = HubKey.of(Ed25519PrivateKey.generate(), "incar/test")
    signed = transactions.create('{"id":"X1"}', key)
    other = orjson.loads(transactions.create('{"id":"X2"}', key).body)
    data = orjson.loads(signed.body)
    node = StandInNode()
    async with running_node(node) as url:
        client = NodeClient(url, timeout=10)
        try:
            assert await client.post(signed.id, signed.body) == Delivered()
            # Posted again (a lost answer): the node refuses a duplicate, the lookup finds it.
            assert await client.post(signed.id, signed.body) == Delivered()
            tampered = {**data, "asset": {"data": {"cdr": '{"id":"X9"}'}}}
            answer = await client.post(signed.id, orjson.dumps(tampered))
            assert isinstance(answer, Refused) and "InvalidHash" in answer.reason
            # Another transaction's signature under a correct id: the signature is checked.
            forged = {**data, "inputs": other["inputs"], "id": None}
            forged["id"] = hashlib.sha3_256(_canonical(forged)).hexdigest()
            answer = await client.post(forged["id"], _canonical(forged))
            assert isinstance(answer, Refused) and "InvalidSignature" in answer.reason
            async with httpx.AsyncClient() as plain:
                schema = await plain.post(f"{url}/api/v1/transactions/", content=b"[1]")
                assert schema.status_code == 400 and "schema" in schema.json()["message"]
                missing = await plain.get(f"{url}/api/v1/transactions/{'0' * 64}")
                assert missing.status_code == 404
        finally:
            await client.close()
    assert list(node.held) == [signed.id]


def _canonical(data: dict[str, Any]) -> bytes:
    from bigchaindb_driver.common.utils import serialize

    return str(serialize(data)).encode()


async def test_a_killed_incar_serve_delivers_the_rest_when_started_again() -> None:
    """The sender of a real ``incar serve`` process, killed (SIGKILL) with entries owed."""
    node = StandInNode(fail=10**6)  # 503 until the test says otherwise
    async with (
        fresh_database() as database,
        running_node(node) as url,
        running_peer(role="CPO", country_code=CPO[0], party_id=CPO[1]) as cpo,
        running_peer(role="EMSP", country_code=EMSP[0], party_id=EMSP[1]) as emsp,
    ):
        with tempfile.TemporaryDirectory(prefix="incar-outbox-") as folder:
            port = free_port()
            env = incar_env(
                database,
                Path(folder) / "data",
                port,
                INCAR_BIGCHAINDB_URL=url,
                INCAR_BIGCHAINDB_RETRY_FIRST="0.05",
                INCAR_BIGCHAINDB_RETRY_LONGEST="0.2",
                INCAR_BIGCHAINDB_POLL_INTERVAL="0.05",
            )
            async with hub_process(env, port, Path(folder) / "hub.log") as hub:
                for peer, role, party in ((cpo, "CPO", CPO), (emsp, "EMSP", EMSP)):
                    await register_at(peer, hub.url, await onboard(database, role, party))
                for cdr_id in ("BK1", "BK2", "BK3"):
                    body = spelt(cdr(CPO, cdr_id, EMSP))
                    answer = await cpo.call(
                        "POST", hub.endpoint("cdrs", "receiver"), to=EMSP, content=body
                    )
                    assert status(answer) == 1000
                await eventually(lambda: _true(len(node.posts) >= 3), "posts failed")
                hub.signal(signal.SIGKILL)
                await hub.wait_exit()
                db = Database(database)
                try:
                    states = await _states(db)
                    assert states == ["pending"] * 3, states
                    node.fail = 0
                    await hub.start()

                    async def all_delivered() -> bool:
                        return await _states(db) == ["delivered"] * 3

                    await eventually(all_delivered, f"delivered after the restart\n{hub.output()}")
                finally:
                    await db.dispose()
    assert len(node.held) == 3


async def _states(db: Database) -> list[str]:
    async with db.transaction() as tx:
        found = await tx.execute(sa.text("SELECT state FROM ledger_outbox ORDER BY idx"))
        return [state for (state,) in found]
