"""Run every benchmark in this folder, one after another (``make bench``).

    python bench/run_all.py [--quick]

Each prints ratios measured in one run against its baseline; copy the figures into
bench/RESULTS.md with the machine they ran on. ``--quick`` runs the benchmarks that have a
smoke variant that way (their figures then mean nothing; it checks that they run).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCHMARKS = (
    ("bench_cli.py",),
    ("bench_gallery.py",),
    ("bench_protocol.py", "--quick", "--repeat", "3"),
    ("bench_extract.py",),
    ("bench_train.py",),
    ("bench_cost.py",),
    ("bench_augment.py",),
    ("bench_image_cache.py",),
)
QUICK = {
    "bench_cost.py": ["--steps", "1"],
    "bench_augment.py": ["--quick"],
    "bench_image_cache.py": ["--images", "90", "--rounds", "1", "--batches", "2"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke variants where they exist")
    quick = parser.parse_args().quick
    here = Path(__file__).parent
    failed = []
    for name, *options in BENCHMARKS:
        extra = [*options, *(QUICK.get(name, []) if quick else [])]
        print(f"\n=== {name} {' '.join(extra)} ===", flush=True)
        if subprocess.run([sys.executable, str(here / name), *extra]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
