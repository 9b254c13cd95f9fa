"""A progress line on stderr for commands that go through many failed events (replay, discard)."""

from __future__ import annotations

import time
from typing import IO

# A run this large shows progress on stderr even when stderr is not a terminal.
LARGE_RUN = 1000


class Progress:
    """One line on stderr: redrawn in place on a terminal, else a line per 10% (large runs only)."""

    def __init__(self, total: int, stream: IO[str], label: str, interval: float = 0.2) -> None:
        self.total, self.stream, self.label, self.interval = total, stream, label, interval
        self.tty = _isatty(stream)
        self.enabled = total > 0 and (self.tty or total > LARGE_RUN)
        self.done = 0
        self._drawn = 0.0
        self._decile = 0

    def advance(self, count: int = 1) -> None:
        if not self.enabled:
            return
        self.done = min(self.total, self.done + count)
        if self.tty:
            now = time.monotonic()
            if now - self._drawn >= self.interval or self.done == self.total:
                self._drawn = now
                self.stream.write(f"\r{self._text()}")
                self.stream.flush()
        elif self.done * 10 // self.total > self._decile:
            self._decile = self.done * 10 // self.total
            self.stream.write(self._text() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _text(self) -> str:
        return f"{self.label} {self.done:,}/{self.total:,} ({self.done * 100 // self.total}%)"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
