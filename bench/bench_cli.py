"""How fast the command lines answer before any task runs: ``--help``, ``--cfg job`` and
bash tab completion of ``train.py``, ``extract.py`` and ``recommend_eval.py``, each a fresh
process, against ``python -c "import torch"`` measured in the same run (the cost every
command paid before tasks were imported lazily). Target: under 2 s each. ``--before DIR``
also times the same commands in another checkout of the code (``git archive`` of a commit),
interleaved with this one's, and prints after/before ratios.

    python bench/bench_cli.py [--repeat 3] [--before DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_S = 2.0
COMMANDS = {
    "train.py --help": ["train.py", "--help"],
    "train.py --cfg job": ["train.py", "--cfg", "job"],
    "extract.py --help": ["extract.py", "--help"],
    "recommend_eval.py --help": ["recommend_eval.py", "--help"],
    "recommend_eval.py --cfg job": ["recommend_eval.py", "--cfg", "job", "embeddings=x.npz"],
    "train.py <TAB> (backbone=)": ["train.py", "-sc", "query=bash"],
}
COMPLETION = {"COMP_LINE": "python train.py backbone="}


def seconds(
    args: list[str],
    repeat: int,
    env: dict[str, str] | None = None,
    where: tuple[Path, ...] = (REPO,),
) -> list[float]:
    """The median wall time of ``python ARGS`` run in each of ``where`` over ``repeat``
    fresh processes, the checkouts taking turns (the load of the moment hits them alike)."""
    times: list[list[float]] = [[] for _ in where]
    for _ in range(repeat):
        for cwd, runs in zip(where, times, strict=True):
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, *args],
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=True,
            )
            runs.append(time.perf_counter() - started)
    return [statistics.median(runs) for runs in times]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="processes per command")
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    where = (REPO,) if args.before is None else (REPO, args.before.resolve())
    (baseline,) = seconds(["-c", "import torch"], args.repeat)
    print(f"baseline: python -c 'import torch': {baseline:.2f} s (median of {args.repeat})")
    slow = []
    for name, command in COMMANDS.items():
        env = COMPLETION if "-sc" in command else None
        value, *before = seconds(command, args.repeat, env, where)
        versus = f"  before {before[0]:5.2f} s: {value / before[0]:.2f}x" if before else ""
        print(f"{name:32s} {value:5.2f} s  ({value / baseline:.2f} x import torch){versus}")
        if value >= TARGET_S:
            slow.append(name)
    print(f"target: each under {TARGET_S:g} s: {'missed by ' + ', '.join(slow) if slow else 'met'}")
    return 1 if slow else 0


if __name__ == "__main__":
    raise SystemExit(main())
