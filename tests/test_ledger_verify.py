"""``incar ledger verify`` over a hub that received real CDRs over HTTP, after the database was
edited behind the hub's back as an attacker with the database's owner rights would: the
append-only triggers dropped (SQLite) or disabled (PostgreSQL), then entries changed, moved,
removed or inserted, heads and stored subtree roots tampered with. Each finding names the
entry's index or the head's size; a sound ledger is one line and exit status 0.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from incar.hub_key import HubKey
from subgraphs.accounting.ledger import checkpoint, transactions
from subgraphs.accounting.ledger.leaves import entry_hash
from subgraphs.accounting.ledger.merkle import CompactRange
from subgraphs.accounting.ledger.proofs import ProofError, inclusion_proof
from tests.conformance.support import cdr
from tests.support.hub_process import Completed, incar_env, run_incar
from tests.support.ledger import CPO, EMSP, Net, network

COUNT = 8


@pytest.fixture
async def net() -> AsyncIterator[Net]:
    async with network() as n:
        for i in range(COUNT):
            body = json.dumps(cdr(CPO, f"V{i}", EMSP)).encode()
            assert (await n.post(body)).status_code == 200
        yield n


async def attack(net: Net, *statements: str, **params: object) -> None:
    """Runs ``statements`` past the ledger's guards, as its owner could."""
    async with net.hub.hub.db.transaction() as tx:
        if tx.get_bind().dialect.name == "postgresql":
            for table in ("ledger_entry", "ledger_tree_head"):
                await tx.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        else:
            for table in ("ledger_entry", "ledger_tree_head"):
                for operation in ("update", "delete"):
                    await tx.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}"))
        for statement in statements:
            await tx.execute(sa.text(statement), params)


async def findings(net: Net, **options: object) -> list[str]:
    report = await net.verify(**options)
    assert not report.sound
    return report.findings


async def rows(net: Net) -> list[tuple[int, bytes]]:
    async with net.hub.hub.db.transaction() as tx:
        found = await tx.execute(sa.text("SELECT idx, tx FROM ledger_entry ORDER BY idx"))
        return [(int(index), bytes(body)) for index, body in found]


async def recompute(net: Net) -> None:
    """What a careful attacker does after moving entries: every derived column made again
    from the rows as they now are (leaf hashes, subtree roots, the heads' roots and right
    edges); only the signatures cannot be made."""
    edge = CompactRange.empty()
    async with net.hub.hub.db.transaction() as tx:
        for index, body in await rows(net):
            leaf = entry_hash(index, bytes(body))
            edge, nodes = edge.append_nodes(leaf)
            await tx.execute(
                sa.text("UPDATE ledger_entry SET leaf_hash = :l, nodes = :n WHERE idx = :i"),
                {"l": leaf, "n": b"".join(nodes), "i": index},
            )
            await tx.execute(
                sa.text(
                    "UPDATE ledger_tree_head SET root_hash = :r, compact_range = :c WHERE size = :s"
                ),
                {"r": edge.root(), "c": edge.encode(), "s": index + 1},
            )


async def test_a_sound_ledger_is_one_line_and_exit_0(net: Net, tmp_path: Path) -> None:
    report = await net.verify()
    assert report.sound and report.entries == COUNT and report.heads == COUNT
    assert report.summary().startswith(f"ledger sound: {COUNT} entries, {COUNT} signed heads")
    assert (await net.verify(driver=True, every_head_signature=True)).sound
    done = await verify_command(net, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [report.summary()] and not done.stderr


async def verify_command(net: Net, tmp_path: Path, *args: str) -> Completed:
    key = net.key
    env = incar_env(net.hub.settings.database_url, tmp_path, 0)
    verifier = checkpoint.verifier_key(key.name, key.public_bytes)
    return await run_incar("ledger", "verify", "--verifier-key", verifier, *args, env=env)


async def test_a_changed_entry_is_named(net: Net, tmp_path: Path) -> None:
    await attack(net, "UPDATE ledger_entry SET tx = :tx WHERE idx = 3", tx=await changed_tx(net, 3))
    found = await findings(net)
    assert found[0] == "entry 3: changed: the signature does not verify", found
    assert any(f.startswith("head 4: the entries do not make the tree") for f in found)
    done = await verify_command(net, tmp_path)
    assert done.returncode == 1
    assert "entry 3: changed: the signature does not verify" in done.stdout.splitlines()
    assert done.stderr.strip().endswith("finding(s)") and len(done.stderr.splitlines()) == 1


async def changed_tx(net: Net, index: int, *, refit_id: bool = True) -> bytes:
    """Entry ``index``'s transaction with its CDR's address changed and, with ``refit_id``,
    its id made to fit the new body (then only the signature tells)."""
    body = (await rows(net))[index][1]
    tampered = body.replace(b"Mannerheimintie 1", b"Mannerheimintie 2")
    assert tampered != body
    if refit_id:
        old = json.loads(tampered)["id"].encode()
        unidentified = tampered.replace(b'"id":"' + old + b'"', b'"id":null')
        new = hashlib.sha3_256(unidentified).hexdigest().encode()
        tampered = tampered.replace(old, new)
    return tampered


async def test_an_entry_the_driver_refuses_is_named_by_the_driver_check_too(net: Net) -> None:
    await attack(
        net,
        "UPDATE ledger_entry SET tx = :tx WHERE idx = 5",
        tx=await changed_tx(net, 5, refit_id=False),
    )
    found = await findings(net, driver=True)
    assert found[0].startswith("entry 5: changed: rejected by the driver"), found


async def test_two_swapped_entries_are_named_as_moved(net: Net) -> None:
    await attack(
        net,
        "UPDATE ledger_entry SET idx = -1 WHERE idx = 2",
        "UPDATE ledger_entry SET idx = 2 WHERE idx = 5",
        "UPDATE ledger_entry SET idx = 5 WHERE idx = -1",
    )
    found = await findings(net)
    assert "entry 2: moved: it holds the transaction appended at 5" in found, found
    assert "entry 5: moved: it holds the transaction appended at 2" in found, found


async def test_a_move_with_every_derived_column_recomputed_is_named_by_the_heads(
    net: Net,
) -> None:
    await attack(
        net,
        "UPDATE ledger_entry SET idx = -1 WHERE idx = 4",
        "UPDATE ledger_entry SET idx = 4 WHERE idx = 6",
        "UPDATE ledger_entry SET idx = 6 WHERE idx = -1",
    )
    await recompute(net)
    found = await findings(net)
    # One signed head per append: the first that disagrees names the first entry moved.
    assert found == [
        "head 5: the entries do not make the tree it signs, the first such head (head 4 "
        "holds): an entry from 4 to 4 was changed or moved"
    ], found


async def test_a_removed_entry_is_named(net: Net) -> None:
    await attack(net, "DELETE FROM ledger_entry WHERE idx = 4")
    found = await findings(net)
    assert found[0].startswith("entry 4: missing (removed)"), found
    assert "head 5: there is no entry 4 it covers" in found
    assert any("its CDR is not stored" in f or "has no ledger entry" in f for f in found)


async def test_a_removed_entry_with_the_rest_moved_up_is_named(net: Net) -> None:
    last = COUNT - 1
    await attack(
        net,
        "DELETE FROM ledger_entry WHERE idx = 4",
        "UPDATE ledger_entry SET idx = -idx WHERE idx > 4",
        "UPDATE ledger_entry SET idx = -idx - 1 WHERE idx < 0",
        f"DELETE FROM ledger_tree_head WHERE size = {COUNT}",
    )
    found = await findings(net)
    assert (
        f"entries 4 to {last - 1}: moved: they hold the transactions appended at 5 to {last}"
        in (found)
    ), found
    assert "entry 4: removed (no entry holds its transaction)" in found, found


async def test_an_inserted_entry_is_named(net: Net) -> None:
    stranger = HubKey.of(Ed25519PrivateKey.generate(), net.key.name)
    forged = transactions.create(json.dumps(cdr(CPO, "FORGED", EMSP)), stranger)
    await attack(
        net,
        "UPDATE ledger_entry SET idx = -idx - 1 WHERE idx >= 3",
        "UPDATE ledger_entry SET idx = -idx WHERE idx < 0",
        "INSERT INTO ledger_entry (idx, tx_id, tx, country_code, party_id, cdr_id, leaf_hash, "
        "nodes, appended_at) VALUES (3, :id, :tx, 'NL', 'CPL', 'FORGED', :leaf, :nodes, "
        "'2026-01-01T00:00:00+00:00')",
        id=forged.id,
        tx=forged.body,
        leaf=entry_hash(3, forged.body),
        nodes=b"",
    )
    found = await findings(net)
    assert "entry 3: inserted: not signed by the hub's key" in found, found
    assert (
        f"entries 4 to {COUNT}: moved: they hold the transactions appended at 3 to {COUNT - 1}"
        in (found)
    ), found
    assert f"entry {COUNT}: past the latest signed head {COUNT}: inserted" in found


async def test_a_tampered_head_is_named(net: Net) -> None:
    async with net.hub.hub.db.transaction() as tx:
        note = (
            await tx.execute(sa.text("SELECT checkpoint FROM ledger_tree_head WHERE size = 3"))
        ).scalar_one()
    text, _, signature = note.partition("\n\n")
    lines = text.split("\n")
    forged = "\n".join([lines[0], lines[1], "A" * 43 + "="]) + "\n\n" + signature
    await attack(net, "UPDATE ledger_tree_head SET checkpoint = :c WHERE size = 3", c=forged)
    found = await findings(net)
    assert found == [
        f"head 3: its checkpoint is tampered: the signature of {net.key.name} does not verify"
    ], found


async def test_a_heads_stored_root_and_the_latest_head_are_checked(net: Net) -> None:
    await attack(
        net, f"UPDATE ledger_tree_head SET root_hash = :r WHERE size = {COUNT}", r=bytes(32)
    )
    found = await findings(net)
    assert found == [f"head {COUNT}: its stored root is not the one it signs"], found


async def test_a_bad_signature_on_an_older_head_is_found_with_every_head_signature(
    net: Net,
) -> None:
    async with net.hub.hub.db.transaction() as tx:
        note = (
            await tx.execute(sa.text("SELECT checkpoint FROM ledger_tree_head WHERE size = 2"))
        ).scalar_one()
    text, _, line = note.partition("\n\n")
    signer, _, blob = line.rstrip("\n").rpartition(" ")
    other = "AAAAA" if blob[-6:-1] != "AAAAA" else "BBBBB"  # in the signature, not the key ID
    broken = f"{text}\n\n{signer} {blob[:-6]}{other}{blob[-1]}\n"
    await attack(net, "UPDATE ledger_tree_head SET checkpoint = :c WHERE size = 2", c=broken)
    assert (await net.verify()).sound  # the text and root agree with the tree
    found = await findings(net, every_head_signature=True)
    assert found == [f"head 2: the signature of {net.key.name} does not verify"], found


async def test_tampered_subtree_roots_are_named_and_give_no_proof(net: Net) -> None:
    await attack(net, "UPDATE ledger_entry SET nodes = :n WHERE idx = 3", n=bytes(64))
    found = await findings(net)
    assert found == ["entry 3: its stored subtree roots are not those of the leaves"], found
    async with net.hub.hub.db.transaction() as tx:
        with pytest.raises(ProofError, match="does not prove entry 5"):
            await inclusion_proof(tx, 5)
        assert (await inclusion_proof(tx, 2, 3)).head.size == 3  # below it: still sound
