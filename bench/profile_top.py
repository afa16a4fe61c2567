"""Reads a py-spy ``--format raw`` (collapsed stacks) file and prints where the time goes.

    .venv/bin/python -m bench.profile_top var/bench/hub-sqlite-c32.txt [--top 30] [--match TEXT]

Inclusive: samples with the frame anywhere on the stack (counted once per stack); self: samples
with the frame on top. ``--match`` keeps only stacks containing TEXT (e.g. a module path).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path


def load(path: Path, match: str | None) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if not count.isdigit() or (match and match not in frames):
            continue
        stacks.append((frames.split(";"), int(count)))
    return stacks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_top")
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", help="only stacks containing this text")
    args = parser.parse_args(argv)
    stacks = load(args.file, args.match)
    total = sum(count for _, count in stacks) or 1
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    print(f"{total} samples")
    for title, table in (("inclusive", inclusive), ("self", own)):
        print(f"\n-- {title}")
        for frame, count in table.most_common(args.top):
            print(f"{100 * count / total:6.1f}%  {frame[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
