"""The ledger's Merkle tree against two independent implementations, used as oracles.

pymerkle (GPL-3.0-or-later, a dev dependency: it is run by the tests, never shipped) gives the
same roots and, past its first element (the leaf itself), the same inclusion paths. Its
consistency proofs are of its own making, not RFC 9162's PROOF (for 4 -> 7 it sends four
hashes where the RFC's path has one, MTH(D[4:7])), so for consistency it can only confirm
that its own proof joins the same two roots. tlog-scales (Apache-2.0) computes the RFC's
PATH and PROOF literally over the tiles its writer lays out (c2sp.org/tlog-tiles), and checks
proofs by the RFC's verification algorithms: it is the oracle for the paths' exact hashes.
Its reader hashes every unaligned subtree from the leaves again, so exact comparisons with it
are sampled where ours are exhaustive.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymerkle
import pytest
from tlog_scales.reader import TilesReader
from tlog_scales.signing import DummySigner
from tlog_scales.tlog import ConsistencyProof, InclusionProof
from tlog_scales.writer import TilesWriter

from subgraphs.accounting.ledger.merkle import (
    EMPTY_ROOT,
    CompactRange,
    Tree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)


@dataclass
class Trees:
    entries: list[bytes]
    ours: Tree
    pymerkle: pymerkle.InmemoryTree
    tiles: TilesReader

    @property
    def size(self) -> int:
        return len(self.entries)


def build(entries: list[bytes], folder: Path) -> Trees:
    theirs = pymerkle.InmemoryTree()  # sha256, with RFC 9162's 0x00/0x01 prefixes
    theirs.append_entries(entries)
    writer = TilesWriter.create(folder / "tiles", "test.example/ledger")
    for entry in entries:
        writer.add_leaf(entry)
    writer.commit([DummySigner()])
    ours = Tree.of(leaf_hash(entry) for entry in entries)
    return Trees(entries=entries, ours=ours, pymerkle=theirs, tiles=writer.reader)


def entries(count: int, seed: int) -> list[bytes]:
    """Entries of varied length (the empty one included); only their hashes are compared."""
    rng = random.Random(seed)
    return [rng.randbytes(rng.choice((0, 1, 31, 32, 33, 64))) for _ in range(count)]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Trees:
    return build(entries(2000, seed=7), tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Trees:
    return build(entries(100_000, seed=8), tmp_path_factory.mktemp("large"))


def sampled_leaves(size: int, rng: random.Random) -> Iterator[int]:
    """Every leaf of the small sizes, the edges and a few others of the rest."""
    if size <= 128:
        yield from range(size)
        return
    yield from sorted({0, 1, size // 2, size - 2, size - 1, rng.randrange(size)})


def test_the_empty_tree_is_the_hash_of_nothing() -> None:
    assert Tree().root() == EMPTY_ROOT == CompactRange.empty().root()
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_roots_of_every_size_from_1_to_2000(small: Trees) -> None:
    edge = CompactRange.empty()
    for size in range(1, small.size + 1):
        edge = edge.append(small.ours.levels[0][size - 1])
        root = small.ours.root(size)
        assert root == small.pymerkle.get_root(size), size
        assert root == small.tiles.mth(0, size), size
        assert edge.root() == root, size
        assert CompactRange.decode(size, edge.encode()) == edge


def test_inclusion_proofs_of_every_size_from_1_to_2000(small: Trees) -> None:
    rng = random.Random(1)
    for size in range(1, small.size + 1):
        root = small.ours.root(size)
        for index in sampled_leaves(size, rng):
            leaf = small.ours.levels[0][index]
            path = small.ours.inclusion_path(index, size)
            assert path == small.pymerkle.prove_inclusion(index + 1, size).path[1:]
            assert verify_inclusion(leaf, index, size, path, root), (index, size)
            InclusionProof(index, size, path).check(leaf, root)  # raises if not
        if size % 37 == 0 or size & (size - 1) in (0, size - 1):
            index = rng.randrange(size)
            expected = small.tiles.get_inclusion_proof(index, size).node_hashes
            assert small.ours.inclusion_path(index, size) == expected, (index, size)


def test_consistency_proofs_of_every_pair_up_to_300(small: Trees) -> None:
    rng = random.Random(2)
    for new in range(1, 301):
        new_root = small.ours.root(new)
        for old in range(1, new + 1):
            old_root = small.ours.root(old)
            path = small.ours.consistency_path(old, new)
            assert verify_consistency(old, new, old_root, new_root, path), (old, new)
            ConsistencyProof(old, new, path).check(old_root, new_root)
            if rng.random() < 0.02:  # the oracles that cost more than ours, sampled
                expected = small.tiles.get_consistency_proof(old, new).node_hashes
                assert path == expected, (old, new)
                theirs = small.pymerkle.prove_consistency(old, new)
                pymerkle.verify_consistency(old_root, new_root, theirs)


def test_consistency_proofs_of_random_pairs_beyond(small: Trees) -> None:
    rng = random.Random(3)
    for _ in range(300):
        old, new = sorted(rng.sample(range(1, small.size + 1), 2))
        path = small.ours.consistency_path(old, new)
        assert path == small.tiles.get_consistency_proof(old, new).node_hashes, (old, new)
        old_root, new_root = small.ours.root(old), small.ours.root(new)
        assert verify_consistency(old, new, old_root, new_root, path)
        ConsistencyProof(old, new, path).check(old_root, new_root)


def test_a_tree_of_100000(large: Trees) -> None:
    size, rng = large.size, random.Random(4)
    edge = CompactRange.empty().extend(large.ours.levels[0])
    root = large.ours.root()
    assert root == large.pymerkle.get_root() == large.tiles.calculate_root_hash() == edge.root()
    for index in [0, 1, size // 2, size - 2, size - 1, *rng.sample(range(size), 60)]:
        leaf, path = large.ours.levels[0][index], large.ours.inclusion_path(index)
        assert leaf == leaf_hash(large.entries[index])
        assert path == large.pymerkle.prove_inclusion(index + 1).path[1:]
        assert path == large.tiles.get_inclusion_proof(index, size).node_hashes
        assert verify_inclusion(leaf, index, size, path, root)
    for _ in range(40):
        old, new = sorted(rng.sample(range(1, size + 1), 2))
        new = rng.choice((new, size))
        path = large.ours.consistency_path(old, new)
        assert path == large.tiles.get_consistency_proof(old, new).node_hashes, (old, new)
        assert verify_consistency(old, new, large.ours.root(old), large.ours.root(new), path)


def test_a_proof_holds_for_its_leaf_index_and_root_only(small: Trees) -> None:
    tree, size, index = small.ours, 1000, 613
    leaf, path, root = tree.levels[0][index], tree.inclusion_path(index, size), tree.root(size)
    assert verify_inclusion(leaf, index, size, path, root)
    assert not verify_inclusion(tree.levels[0][index + 1], index, size, path, root)
    assert not verify_inclusion(leaf, index + 1, size, path, root)
    assert not verify_inclusion(leaf, index, size, path, tree.root(size + 1))
    assert not verify_inclusion(leaf, index, size, path[:-1], root)
    assert not verify_inclusion(leaf, index, size, [*path, root], root)
    assert not verify_inclusion(leaf, size, size, path, root)


def test_a_consistency_proof_holds_for_its_two_heads_only(small: Trees) -> None:
    tree = small.ours
    for old, new in [(1, 2), (4, 7), (6, 8), (300, 1999), (1024, 1998)]:
        path, old_root, new_root = tree.consistency_path(old, new), tree.root(old), tree.root(new)
        assert verify_consistency(old, new, old_root, new_root, path)
        assert not verify_consistency(old, new, tree.root(old - 1 or 2), new_root, path)
        assert not verify_consistency(old, new, old_root, tree.root(new - 1), path)
        assert not verify_consistency(old, new + 1, old_root, tree.root(new + 1), path)
        assert not verify_consistency(old, new, old_root, new_root, path[:-1])
        assert not verify_consistency(old, new, old_root, new_root, [*path, new_root])
        assert not verify_consistency(new, old, new_root, old_root, path)
    # Nothing to prove: the same head, or an empty tree before.
    assert tree.consistency_path(5, 5) == [] == tree.consistency_path(0, 5)
    assert verify_consistency(5, 5, tree.root(5), tree.root(5), [])
    assert not verify_consistency(5, 5, tree.root(5), tree.root(6), [])
    assert verify_consistency(0, 5, EMPTY_ROOT, tree.root(5), [])


def test_sizes_beyond_the_tree_are_refused(small: Trees) -> None:
    for call in (
        lambda: small.ours.root(small.size + 1),
        lambda: small.ours.inclusion_path(5, 5),
        lambda: small.ours.inclusion_path(0, small.size + 1),
        lambda: small.ours.consistency_path(6, 5),
    ):
        with pytest.raises(ValueError, match=r"tree|leaf|consistency"):
            call()
    with pytest.raises(ValueError, match="compact range"):
        CompactRange.decode(3, bytes(32))
