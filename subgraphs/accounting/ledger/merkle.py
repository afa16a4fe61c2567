"""The ledger's Merkle tree as RFC 9162 (Certificate Transparency v2), section 2.1, defines it.

SHA-256; a leaf is hashed as ``HASH(0x00 || entry)`` (the ledger's entries are
``leaves.leaf_input``), an inner node as ``HASH(0x01 || left || right)``, the root of ``n``
leaves (MTH) splits them at the largest power of two below ``n``.
``Tree`` keeps the root of every complete, aligned subtree (the ones the split produces), so a
root, an inclusion path or a consistency path takes O(log n) of them, and no hashing beyond
the right edge. ``CompactRange`` is what an append needs of the tree: the roots of the complete
subtrees along its right edge, one per set bit of the size, from which the next root follows.
The verifiers follow the RFC's numbered steps, so a proof is checked by the algorithm the RFC
gives, not by the code that made it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = HASH()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1): the size of the left subtree."""
    return 1 << ((n - 1).bit_length() - 1)


def complete_subtrees(start: int, n: int) -> list[tuple[int, int]]:
    """The complete, aligned subtrees of the ``n`` leaves from ``start``, as (height, position)
    left to right: one per set bit of ``n``, largest first; their roots folded from the right
    (``fold``) are the MTH. ``start`` must be a multiple of the largest power of two not above
    ``n``, as it is of every subtree the RFC's split makes."""
    subtrees: list[tuple[int, int]] = []
    while n:
        height = n.bit_length() - 1
        subtrees.append((height, start >> height))
        start, n = start + (1 << height), n - (1 << height)
    return subtrees


def fold(roots: Sequence[bytes]) -> bytes:
    """The MTH of consecutive subtrees, each twice the size of the next or more (the roots
    ``complete_subtrees`` names, or a compact range's)."""
    if not roots:
        return EMPTY_ROOT
    root = roots[-1]
    for left in reversed(roots[:-1]):
        root = node_hash(left, root)
    return root


def inclusion_subtrees(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees, as (start, n), whose roots are PATH(index, D[size]) of RFC 9162 2.1.3.1,
    the sibling nearest the leaf first; 0 <= index < size."""
    subtrees: list[tuple[int, int]] = []
    start, n, m = 0, size, index
    while n > 1:
        k = split(n)
        if m < k:
            subtrees.append((start + k, n - k))
            n = k
        else:
            subtrees.append((start, k))
            start, n, m = start + k, n - k, m - k
    subtrees.reverse()
    return subtrees


def consistency_subtrees(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The subtrees, as (start, n), whose roots are PROOF(old_size, D[new_size]) of RFC 9162
    2.1.4.1; none when there is nothing to prove (an empty old tree, or the same size)."""
    if old_size in (0, new_size):
        return []
    subtrees: list[tuple[int, int]] = []
    start, n, m, whole = 0, new_size, old_size, True
    while m != n:
        k = split(n)
        if m <= k:
            subtrees.append((start + k, n - k))
            n = k
        else:
            subtrees.append((start, k))
            start, n, m, whole = start + k, n - k, m - k, False
    if not whole:
        subtrees.append((start, n))
    subtrees.reverse()
    return subtrees


@dataclass
class Tree:
    """An append-only tree in memory: ``levels[h][i]`` is the root of leaves ``i*2**h`` up to
    ``(i+1)*2**h``, kept as soon as those leaves are all there."""

    levels: list[list[bytes]] = field(default_factory=lambda: [[]])

    @classmethod
    def of(cls, leaf_hashes: Iterable[bytes]) -> Tree:
        tree = cls()
        for leaf in leaf_hashes:
            tree.append(leaf)
        return tree

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> int:
        """Adds a leaf hash; returns its index."""
        index = self.size
        self.levels[0].append(leaf)
        height, position = 0, index
        while position & 1:  # a right child completes its parent
            row = self.levels[height]
            if len(self.levels) == height + 1:
                self.levels.append([])
            self.levels[height + 1].append(node_hash(row[-2], row[-1]))
            height, position = height + 1, position >> 1
        return index

    def _subtree(self, start: int, n: int) -> bytes:
        return fold([self.levels[h][p] for h, p in complete_subtrees(start, n)])

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[size]) of RFC 9162 2.1.3.1, the sibling nearest the leaf first."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        return [self._subtree(start, n) for start, n in inclusion_subtrees(index, size)]

    def consistency_path(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[new_size]) of RFC 9162 2.1.4.1; empty when there is nothing to
        prove (an empty old tree, or the same size)."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise ValueError(f"no consistency from {old_size} to {new_size}")
        if old_size in (0, new_size):
            return []
        return [self._subtree(start, n) for start, n in consistency_subtrees(old_size, new_size)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"a tree of {self.size} leaves has no head of size {size}")


@dataclass(frozen=True)
class CompactRange:
    """The right edge of a tree of ``size`` leaves: the roots of its complete subtrees, the
    largest (leftmost) first, one for each set bit of ``size``."""

    size: int
    hashes: tuple[bytes, ...]

    @classmethod
    def empty(cls) -> CompactRange:
        return cls(0, ())

    @classmethod
    def decode(cls, size: int, packed: bytes) -> CompactRange:
        hashes = tuple(packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE))
        if len(hashes) != size.bit_count() or len(packed) % HASH_SIZE:
            raise ValueError(f"a compact range of size {size} has {size.bit_count()} hashes")
        return cls(size, hashes)

    def encode(self) -> bytes:
        return b"".join(self.hashes)

    def append(self, leaf: bytes) -> CompactRange:
        return self.append_nodes(leaf)[0]

    def append_nodes(self, leaf: bytes) -> tuple[CompactRange, list[bytes]]:
        """The range with ``leaf`` appended, and the roots of the subtrees that leaf completes,
        height 1 upwards (the leaf at index i completes one per trailing set bit of i)."""
        hashes = list(self.hashes)
        carry, size, completed = leaf, self.size, []
        while size & 1:  # each trailing set bit is a subtree of the new leaf's size: merge
            carry = node_hash(hashes.pop(), carry)
            completed.append(carry)
            size >>= 1
        hashes.append(carry)
        return CompactRange(self.size + 1, tuple(hashes)), completed

    def extend(self, leaves: Iterable[bytes]) -> CompactRange:
        current = self
        for leaf in leaves:
            current = current.append(leaf)
        return current

    def root(self) -> bytes:
        return fold(self.hashes)


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: whether ``leaf`` (a leaf hash) is at ``index`` of the tree of ``size``
    leaves with ``root``."""
    if index >= size or index < 0:  # step 1
        return False
    fn, sn, r = index, size - 1, leaf  # steps 2 and 3
    for p in path:  # step 4
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root  # step 5


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: whether the tree of ``new_size`` with ``new_root`` extends the one of
    ``old_size`` with ``old_root``. The RFC asks for 0 < old_size < new_size; the two cases
    with nothing to prove (an empty old tree, the same head twice) hold with an empty path."""
    if old_size == new_size:
        return not path and old_root == new_root
    if old_size == 0:
        return not path and old_root == EMPTY_ROOT
    if not 0 < old_size < new_size or not path:  # step 1
        return False
    proof = list(path)
    if old_size & (old_size - 1) == 0:  # step 2
        proof.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]  # step 5
    for c in proof[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0  # step 7
