"""Run every benchmark in this folder, one after another (``make bench``).

Each prints ratios measured in one run against its baseline; copy the figures into
bench/RESULTS.md with the machine they ran on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHMARKS = (
    ("bench_cli.py",),
    ("bench_gallery.py",),
    ("bench_protocol.py", "--quick", "--repeat", "3"),
    ("bench_extract.py",),
    ("bench_train.py",),
)


def main() -> int:
    here = Path(__file__).parent
    failed = []
    for name, *options in BENCHMARKS:
        print(f"\n=== {name} {' '.join(options)} ===", flush=True)
        if subprocess.run([sys.executable, str(here / name), *options]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
