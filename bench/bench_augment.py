"""Benchmark of training-time augmentation: deep tuning on the demo with ``augment=light``
against ``augment=imagenet``.

    python bench/bench_augment.py [--epochs N] [--quick] [--keep DIR]

Two ``python train.py`` runs with the demo's settings (deep tuning of the ImageNet
EfficientNet-Lite0 on the demo gallery's artists, 112 px, batch 32, seed 0), one after the
other, that differ only in ``augment``. Printed per run: the fine-tuned embedding's
recall@20, MAP@20 and nDCG@20 (metrics.json), the lowest ``val/loss`` of the epochs
(logs/metrics.csv), the starting embedding's recall@20 (start/metrics.json) and the wall
time; then light / imagenet for each. ``--epochs`` overrides ``trainer.max_epochs`` for
both (default: the demo's own, 4); ``--quick`` is a smoke run (``debug=fast``: a tiny
random network at 32 px, two epochs of two batches) whose figures mean nothing. The load
average is printed before and after, since other jobs may share the cores.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
AUGMENTS = ("light", "imagenet")
METRICS = ("recall@20", "map@20", "ndcg@20")
QUICK = ["debug=fast", "logger=csv"]  # the tiny random network at 32 px, two short epochs


def train(augment: str, out: Path, extra: list[str]) -> dict[str, float]:
    """One ``python train.py`` run; its metrics, best val/loss and wall seconds."""
    args = [f"augment={augment}", f"hydra.run.dir={out}", "progress=false", *extra]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "train.py", *args], cwd=REPO, capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"train.py {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
    final = json.loads((out / "metrics.json").read_text())["metrics"]
    row = {name: float(final[name]) for name in METRICS}
    with open(out / "logs" / "metrics.csv", newline="") as handle:
        losses = [float(r["val/loss"]) for r in csv.DictReader(handle) if r.get("val/loss")]
    row["val/loss"] = min(losses)
    start = out / "start" / "metrics.json"
    before = json.loads(start.read_text())["metrics"] if start.is_file() else {}
    row["start recall@20"] = float(before.get("recall@20", math.nan))
    row["seconds"] = seconds
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=None, help="trainer.max_epochs for both")
    parser.add_argument("--quick", action="store_true", help="smoke run (debug=fast)")
    parser.add_argument("--keep", type=Path, default=None, help="keep the run directories here")
    args = parser.parse_args()
    extra = list(QUICK) if args.quick else []
    if args.epochs is not None:
        extra.append(f"trainer.max_epochs={args.epochs}")
    print(f"load average before: {os.getloadavg()}; overrides: {extra or 'none (the demo)'}")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        rows = {}
        for augment in AUGMENTS:
            rows[augment] = train(augment, root / augment, extra)
            print(f"augment={augment}: {rows[augment]}", flush=True)
    print(f"load average after: {os.getloadavg()}")
    keys = list(rows["light"])
    print("\n| augment | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for augment, row in rows.items():
        print(f"| {augment} | " + " | ".join(f"{row[k]:.4f}" for k in keys) + " |")
    ratio = {k: rows["light"][k] / rows["imagenet"][k] for k in keys}
    print("| light / imagenet | " + " | ".join(f"{ratio[k]:.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
