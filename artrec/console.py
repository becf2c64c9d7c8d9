"""The console every command prints to (rich): the terminal's width, or a fixed one in a
log. The bottom layer: data, reporting and tasks all print through it. It imports no
torch, pandas or scipy (``--help`` stays fast)."""

from __future__ import annotations

import os

from rich import box
from rich.console import Console

PIPE_WIDTH = 80  # a log file read in an 80-column terminal; $COLUMNS overrides it
BOX = box.SIMPLE_HEAD  # no vertical rules: a comparison of 7 metrics fits 80 columns


def make_console() -> Console:
    """A console for results: the terminal's width, or ``$COLUMNS`` (else PIPE_WIDTH) when
    output goes to a file or a pipe."""
    console = Console()
    if console.is_terminal:
        return console
    return Console(width=int(os.environ.get("COLUMNS") or PIPE_WIDTH))
