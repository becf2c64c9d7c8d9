"""Progress that reads well in a terminal and in a log: rich's bar on a terminal; elsewhere
(CI logs, ``| tee``, a SLURM log file) one plain line every few seconds, so a log never
sits silent through a long step."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from typing import TextIO, TypeVar

from rich.progress import track as rich_track

EVERY_S = 5.0  # seconds between two progress lines in a log
T = TypeVar("T")


def is_terminal() -> bool:
    """Whether standard output is a terminal (where bars redraw in place)."""
    return sys.stdout.isatty()


class ProgressLines:
    """``description: done/total (percent), seconds`` at most every ``every_s`` seconds, and
    a last line when finished; ``clock`` and ``out`` are replaceable for tests."""

    def __init__(
        self,
        description: str,
        total: int | None,
        *,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        out: TextIO | None = None,
    ) -> None:
        self.description, self.total, self.every_s = description, total, every_s
        self.clock, self.out = clock, out
        self.started = self.last = clock()

    def update(self, done: int, extra: str = "") -> None:
        """Print where the step is, if ``every_s`` seconds passed since the last line."""
        now = self.clock()
        if now - self.last >= self.every_s:
            self.last = now
            self._print(done, f"{now - self.started:.0f} s", extra)

    def finish(self, done: int, extra: str = "") -> None:
        self._print(done, f"done in {self.clock() - self.started:.1f} s", extra)

    def _print(self, done: int, when: str, extra: str) -> None:
        count = f"{done}/{self.total} ({100 * done / self.total:.0f}%)" if self.total else f"{done}"
        text = f"{self.description}: {count}, {when}" + (f", {extra}" if extra else "")
        print(text, file=self.out or sys.stdout, flush=True)


def track(
    items: Iterable[T],
    description: str,
    total: int | None = None,
    *,
    transient: bool = False,
    terminal: bool | None = None,
    every_s: float = EVERY_S,
    clock: Callable[[], float] = time.monotonic,
    out: TextIO | None = None,
) -> Iterator[T]:
    """``items``, with rich's bar on a terminal, else with :class:`ProgressLines`; ``total``
    defaults to ``len(items)`` when it has one."""
    if total is None and isinstance(items, Sized):
        total = len(items)
    if is_terminal() if terminal is None else terminal:
        yield from rich_track(items, description=description, total=total, transient=transient)
        return
    lines = ProgressLines(description, total, every_s=every_s, clock=clock, out=out)
    done = 0
    for item in items:
        yield item
        done += 1
        lines.update(done)
    lines.finish(done)
