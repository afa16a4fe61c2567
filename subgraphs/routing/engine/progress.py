"""The build's progress on stderr: a line per phase, with the time it took.

A build takes seconds for a city and many minutes for a country; the operator sees which phase
is running (its title is written when it starts) and how long each one took.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self.started = time.monotonic()

    def say(self, line: str) -> None:
        if self._stream is not None:
            self._stream.write(f"{line}\n")
            self._stream.flush()

    @contextmanager
    def phase(self, title: str) -> Iterator[None]:
        began = time.monotonic()
        if self._stream is not None:
            self._stream.write(f"  {title} ... ")
            self._stream.flush()
        try:
            yield
        except BaseException:
            self.say(f"failed after {time.monotonic() - began:.1f} s")
            raise
        self.say(f"{time.monotonic() - began:.1f} s")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started
