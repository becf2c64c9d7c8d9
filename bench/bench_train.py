"""Benchmarks of fine-tuning (artrec.models.module, artrec.data.datamodule, feature cache).

    python bench/bench_train.py [--only 1,2] [--items 600] [--epochs 3] [--steps 10]

1. Shallow tuning with the feature cache against shallow tuning that runs the frozen
   backbone on every step: resnet18 (random weights), 112 px, the first ``--items`` items
   of the demo gallery (70/20/10 split stratified by artist), tasks artist + medium
   (classification) and year (regression), batch 32, ``--epochs`` epochs, Lightning on the
   CPU with ``deterministic=True``, no sanity-check batches and the same seed. Both runs
   see identical inputs: the uncached run uses the *eval* transform for training too, and
   the frozen backbone stays in eval mode, so it computes the cached features again every
   step. An epoch is timed from one ``on_train_epoch_start`` to the next (training +
   validation); the cached run's first epoch includes ``compute_features`` over all the
   subset's items (test split included, as train.py does). Target: >= 20x faster per
   epoch after the first (mean of those epochs), final ``val/loss`` equal to within 1e-4
   (asserted).
2. Deep tuning steps/s in Lightning (``Trainer(max_steps=...)``, no logger, checkpoint,
   progress bar, model summary or validation) against a plain PyTorch loop (forward,
   ``total_loss``, backward, Adam step, zero_grad) on the same ArtRecModule, the same
   in-memory batches of real preprocessed gallery images (batch 32, 112 px) and the same
   number of steps after ``--warmup`` warm-up steps. A step is timed from the end of the
   previous one (fetch, forward, backward, optimizer step, hooks). A fresh module is built
   (same seed) for every run; runs are interleaved over ``--rounds`` rounds in alternating
   order, and steps/s comes from the median step time of all rounds, since other jobs
   share the cores (the best round's mean is printed too). Target: Lightning / plain >= 0.9.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytorch_lightning as pl
import timm
import torch
from omegaconf import OmegaConf
from pytorch_lightning.callbacks import Callback
from torch.utils.data import DataLoader, TensorDataset

from artrec.data import load_dataset
from artrec.data.datamodule import ArtDataModule
from artrec.data.feature_cache import compute_features
from artrec.data.gallery import ensure_gallery
from artrec.data.images import ItemImages
from artrec.data.splits import assign_splits
from artrec.models.module import ArtRecModule
from artrec.models.tasks import TaskSpec, encode_targets, fit_tasks, total_loss

PRESET_DIR = Path(__file__).resolve().parent.parent / "conf" / "backbone"
TASKS = {
    "artist": {"column": "artist", "kind": "classification"},
    "medium": {"column": "medium", "kind": "classification"},
    "year": {"column": "year", "kind": "regression"},
}
SEED = 0
BATCH = 32
SPEEDUP_TARGET = 20.0
LOSS_TOLERANCE = 1e-4
RATIO_TARGET = 0.9


def machine() -> str:
    """Cores, torch threads and library versions, for the summary."""
    return (
        f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable); torch "
        f"{torch.__version__} ({torch.get_num_threads()} intra-op / "
        f"{torch.get_num_interop_threads()} inter-op threads), pytorch_lightning "
        f"{pl.__version__}, timm {timm.__version__}"
    )


def load_average() -> str:
    """The 1-minute load average: how busy the cores were with other work."""
    return f"{os.getloadavg()[0]:.2f}"


def backbone_cfg(preset: str, size: int) -> dict:
    """A conf/backbone preset with random weights (no network) and a square input size."""
    cfg = OmegaConf.to_container(OmegaConf.load(PRESET_DIR / f"{preset}.yaml"))
    return {**cfg, "pretrained": False, "weights": None, "input_size": size}


def labelled_items(n: int) -> tuple[pd.DataFrame, np.ndarray, list[TaskSpec], np.ndarray]:
    """The gallery's first ``n`` items, their split, fitted tasks and ``[n, T]`` targets."""
    items = load_dataset(ensure_gallery()).items.iloc[:n].reset_index(drop=True)
    splits = assign_splits(items, fractions=(0.7, 0.2, 0.1), seed=SEED, stratify="artist")
    specs = fit_tasks(TASKS, items.loc[splits == "train"])
    return items, splits, specs, encode_targets(specs, items)


def make_module(backbone: dict, specs: list[TaskSpec], tuning: str) -> ArtRecModule:
    """A fresh module whose initial weights depend only on ``SEED``."""
    pl.seed_everything(SEED, verbose=False)
    return ArtRecModule(backbone=backbone, tasks=[s.to_dict() for s in specs], tuning=tuning)


def cpu_trainer(clock: Callback, **options: object) -> pl.Trainer:
    """A CPU Trainer with nothing on the side: no logger, checkpoint, progress bar, summary."""
    return pl.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock],
        **options,
    )


class EpochClock(Callback):
    """Wall time of each epoch (training + validation): between epoch starts, then to the end."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.marks.append(time.perf_counter())

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.marks.append(time.perf_counter())

    def epochs(self) -> list[float]:
        """Seconds of each epoch, in order."""
        return list(np.diff(self.marks))


def shallow_run(cached: bool, epochs: int, backbone: dict, data: tuple) -> dict:
    """One shallow-tuning fit: per-epoch seconds, cache seconds and the final val/loss."""
    items, splits, specs, targets = data
    module = make_module(backbone, specs, "shallow")
    eval_tf = module.backbone.transform(training=False)
    paths = items["image"].tolist()
    cache_s, features = 0.0, None
    if cached:
        started = time.perf_counter()
        features, ok = compute_features(
            module.backbone, ItemImages(paths, eval_tf), batch_size=64, progress=False
        )
        cache_s = time.perf_counter() - started
        assert bool(ok.all()), "every gallery image should decode"
    datamodule = ArtDataModule(
        targets=targets,
        splits=splits,
        image_paths=paths,
        transforms={"train": eval_tf, "eval": eval_tf},
        features=features,
        batch_size=BATCH,
        seed=SEED,
    )
    clock = EpochClock()
    trainer = cpu_trainer(clock, max_epochs=epochs, num_sanity_val_steps=0, deterministic=True)
    pl.seed_everything(SEED, verbose=False)
    trainer.fit(module, datamodule=datamodule)
    times = clock.epochs()
    times[0] += cache_s
    return {
        "epochs": times,
        "cache_s": cache_s,
        "val_loss": float(trainer.callback_metrics["val/loss"]),
        "rows": {name: len(rows) for name, rows in datamodule.rows.items()},
    }


def bench_shallow(args: argparse.Namespace) -> None:
    """Part 1: cached against uncached shallow tuning, same data, seed and epochs."""
    backbone = backbone_cfg("resnet18", args.size)
    data = labelled_items(args.items)
    runs = {"uncached": shallow_run(False, args.epochs, backbone, data)}
    runs["cached"] = shallow_run(True, args.epochs, backbone, data)
    rows = runs["cached"]["rows"]
    print(
        f"\n[1] shallow tuning, resnet18 (random weights) {args.size} px, {args.items} gallery "
        f"items ({rows['train']} train / {rows['val']} val / {rows['test']} test), tasks "
        f"{list(TASKS)}, batch {BATCH}, {args.epochs} epochs, {torch.get_num_threads()} "
        f"torch threads, num_workers=0, load average {load_average()}"
    )
    for name, run in runs.items():
        epochs = ", ".join(f"{s:.3f}" for s in run["epochs"])
        cache = f" (first includes the cache: {run['cache_s']:.2f} s)" if run["cache_s"] else ""
        print(f"  {name:<8} epochs [{epochs}] s{cache}; final val/loss {run['val_loss']:.7f}")
    later = {name: float(np.mean(run["epochs"][1:])) for name, run in runs.items()}
    speedup = later["uncached"] / later["cached"]
    gap = abs(runs["cached"]["val_loss"] - runs["uncached"]["val_loss"])
    first = runs["uncached"]["epochs"][0] / runs["cached"]["epochs"][0]
    print(
        f"  per epoch after the first (mean): uncached {later['uncached']:.3f} s, cached "
        f"{later['cached']:.3f} s -> {speedup:.1f}x faster (target >= {SPEEDUP_TARGET:.0f}x: "
        f"{'met' if speedup >= SPEEDUP_TARGET else 'MISSED'}); first epochs (cache included) "
        f"uncached / cached = {first:.2f}"
    )
    print(f"  |val/loss difference| = {gap:.2e} (target <= {LOSS_TOLERANCE:.0e})")
    assert gap <= LOSS_TOLERANCE, f"val/loss differs by {gap:.2e}"


class StepClock(Callback):
    """End time of every training step (after its optimizer step)."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_batch_end(self, *args: object) -> None:
        self.ends.append(time.perf_counter())


def lightning_steps(module: ArtRecModule, loader: DataLoader, steps: int) -> list[float]:
    """End times of the steps of ``Trainer.fit(max_steps=steps)``."""
    clock = StepClock()
    trainer = cpu_trainer(clock, max_steps=steps, limit_val_batches=0)
    trainer.fit(module, train_dataloaders=loader)
    assert len(clock.ends) == steps, f"Lightning ran {len(clock.ends)} of {steps} steps"
    return clock.ends


def plain_steps(module: ArtRecModule, loader: DataLoader, steps: int) -> list[float]:
    """End times of the steps of a plain PyTorch loop on the same module, loss and optimizer."""
    optimizer = module.configure_optimizers()
    module.train()
    ends: list[float] = []
    for x, y in itertools.islice(itertools.cycle(loader), steps):
        loss, _ = total_loss(module.specs, module.heads(module(x)), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        ends.append(time.perf_counter())
    return ends


def bench_deep(args: argparse.Namespace) -> None:
    """Part 2: Lightning's deep-tuning steps/s against a plain loop, interleaved rounds."""
    backbone = backbone_cfg(args.backbone2, args.size)
    items, _, specs, targets = labelled_items(BATCH * args.steps)
    transform = make_module(backbone, specs, "deep").backbone.transform(training=False)
    images = ItemImages(items["image"].tolist(), transform, on_error="fail")
    pixels = torch.stack([images[i][0] for i in range(len(images))])
    loader = DataLoader(TensorDataset(pixels, torch.as_tensor(targets)), batch_size=BATCH)
    print(
        f"\n[2] deep tuning, {args.backbone2} (random weights) {args.size} px, batch {BATCH}, "
        f"{len(pixels)} real gallery images in memory (one pass), {args.steps} steps per run "
        f"of which {args.warmup} warm-up, {torch.get_num_threads()} torch threads, "
        f"{args.rounds} interleaved rounds (order alternating)"
    )
    runners = {"lightning": lightning_steps, "plain": plain_steps}
    step_times: dict[str, list[float]] = {name: [] for name in runners}
    best = dict.fromkeys(runners, 0.0)
    for round_ in range(args.rounds):
        for name in sorted(runners, reverse=round_ % 2 == 1):
            module = make_module(backbone, specs, "deep")
            timed = np.diff(runners[name](module, loader, args.steps)[args.warmup - 1 :])
            step_times[name].extend(timed)
            best[name] = max(best[name], len(timed) / timed.sum())
            print(f"    round {round_ + 1}: {name:<9} {len(timed) / timed.sum():.3f} steps/s")
    median = {name: 1 / float(np.median(times)) for name, times in step_times.items()}
    ratio = median["lightning"] / median["plain"]
    print(
        f"  steps/s from the median step time ({len(step_times['plain'])} steps each): Lightning "
        f"{median['lightning']:.3f}, plain loop {median['plain']:.3f} -> ratio {ratio:.3f} "
        f"(target >= {RATIO_TARGET}: {'met' if ratio >= RATIO_TARGET else 'MISSED'})"
    )
    print(
        f"  best round: Lightning {best['lightning']:.3f}, plain {best['plain']:.3f} steps/s "
        f"-> ratio {best['lightning'] / best['plain']:.3f}; load average {load_average()}"
    )


PARTS = {1: bench_shallow, 2: bench_deep}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="1,2", help="parts to run, e.g. 1 or 1,2")
    parser.add_argument("--items", type=int, default=600, help="part 1 gallery items")
    parser.add_argument("--epochs", type=int, default=3, help="part 1 epochs (>= 2)")
    parser.add_argument("--size", type=int, default=112, help="input size in pixels")
    parser.add_argument("--backbone2", default="tiny", help="part 2 preset (tiny, resnet18)")
    parser.add_argument("--steps", type=int, default=10, help="part 2 steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="part 2 untimed first steps")
    parser.add_argument("--rounds", type=int, default=6, help="part 2 interleaved rounds")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    args.only = [int(part) for part in args.only.split(",")]
    if set(args.only) - set(PARTS):
        parser.error(f"--only: unknown parts {sorted(set(args.only) - set(PARTS))}")
    if args.epochs < 2 or not 1 <= args.warmup < args.steps - 1:
        parser.error("need --epochs >= 2 and 1 <= --warmup < --steps - 1")
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in ("pytorch_lightning", "lightning_fabric"):  # no per-fit banners
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    print(f"machine: {machine()}\nload average at start: {load_average()}")
    started = time.perf_counter()
    for part in args.only:
        PARTS[part](args)
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; load average at end: {load_average()} "
        "(the benchmark itself adds up to ~2; more means other jobs shared the cores)"
    )


if __name__ == "__main__":
    main()
