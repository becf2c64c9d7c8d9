"""Benchmark of the pre-resized image cache (artrec.data.image_cache) on large images.

    python bench/bench_image_cache.py [--images 2000] [--side 500] [--workers 0] [--rounds 2]
        [--threads 1] [--batches 0] [--backbone tiny --size 64] [--parts 2,3,4]
        [--default-malloc]

A generated set of ``--images`` JPEGs of about ``--side`` px (500 x 375, 375 x 500 and
500 x 500: smooth colour fields plus noise, quality 90; written once into
``$TMPDIR/artrec-bench/``), with labels and purchases. The model is the ``tiny`` backbone
preset (timm's test_efficientnet, random weights, 64 px): on 2 shared CPU cores a real
backbone's forward + backward (resnet18 at 112 px: ~80 ms an image here) dwarfs decoding
(~7 ms for a 500-px JPEG), as it would not on a GPU; a tiny network (~4 ms an image)
makes the input pipeline's share visible, the hardest case for the cache. One torch
thread by default: on the shared 2-core machine, 2 threads under load ran the same epoch
up to 30x slower (a thread waits for its preempted sibling), which drowned every ratio.

1. Cache build: decode + resize every image once (``--workers`` loader workers); images/s.
2. Deep tuning: one module per variant (same seed), Lightning on the CPU, batch 32,
   augment=light, ``--workers`` loader workers, 90% of the items in the train split
   (``--batches`` batches an epoch, 0: all), validation off. Variants: ``in-memory`` (the
   same module on pre-made ``[N, 3, 64, 64]`` tensors, no loading: the floor), ``cached``
   and ``uncached`` (today's decode of every file each epoch); one epoch each, interleaved
   over ``--rounds`` + 1 rounds, the first a warm-up, the best of the others kept. Target:
   in-memory / cached >= 0.8. In the last round the cached run also has the evaluation
   callback (embed all items through the cache + the protocol), timed apart and compared
   with the cached epoch.
3. Extraction: ``embed_images`` (Lightning predict, ``--workers`` workers, batch 64) over
   every item, cached and uncached, against the same backbone's ``inference_mode`` forward
   on the pre-made tensors; best of ``--rounds`` interleaved rounds. Target >= 0.8.
4. Validation (bench/validation_epoch.py): one validation epoch (Lightning ``validate``,
   batch 32, ``--workers`` workers) over 90% of the items, cached (the batched path),
   ``per-image`` (the same cache read image by image through PIL, as validation was
   before) and uncached, against the same module on the pre-made tensors; ``--rounds`` + 1
   interleaved rounds, the first a warm-up, the best of the others kept.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from bench_train import EpochClock, backbone_cfg, load_average, machine
from PIL import Image
from torch.utils.data import DataLoader
from validation_epoch import validation

from artrec.callbacks.rec_eval import RecEvalCallback
from artrec.data.datamodule import ArtDataModule
from artrec.data.dataset import Dataset, load_dataset
from artrec.data.image_cache import ImageCache, cache_resize, open_image_cache
from artrec.data.images import ItemImages
from artrec.models.augment import build_augmentation
from artrec.models.backbone import BackboneSpec, build_backbone
from artrec.models.config import AugmentConfig
from artrec.models.embedder import embed_images
from artrec.models.module import ArtRecModule
from artrec.models.tasks import encode_targets, fit_tasks
from artrec.recsys.config import ProtocolConfig

TARGET = 0.8
VARIANTS = ("in-memory", "cached", "uncached")
SEED = 0
LIGHT = AugmentConfig(name="light")  # the default light augmentation
SHAPES = ((500, 375), (375, 500), (500, 500))


STEADY_MALLOC = {"MALLOC_TRIM_THRESHOLD_": "1073741824", "MALLOC_MMAP_THRESHOLD_": "33554432"}


def make_images(root: Path, n: int, side: int) -> Path:
    """``n`` JPEGs, items.csv (8 artists) and purchases.csv (5 per user), once per (n, side)."""
    if (root / "purchases.csv").is_file():
        return root
    (root / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    rows = ["item_id,image,artist"]
    for k in range(n):
        w, h = (round(s * side / 500) for s in SHAPES[k % 3])
        field = Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8))
        smooth = np.asarray(field.resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
        pixels = np.clip(smooth + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"images/{k:05d}.jpg", quality=90)
        rows.append(f"{k:05d},images/{k:05d}.jpg,a{k % 8}")
    (root / "items.csv").write_text("\n".join(rows) + "\n")
    buys = [
        f"u{u},{int(i):05d},{t}" for u in range(n // 5) for t, i in enumerate(rng.integers(0, n, 5))
    ]
    (root / "purchases.csv").write_text("\n".join(["user_id,item_id,time", *buys]) + "\n")
    return root


def build_cache(root: Path, paths: list[str], transform, workers: int) -> ImageCache:
    """Part 1: the cache built from scratch, timed."""
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    cache = open_image_cache(
        root, paths, cache_resize(transform), num_workers=workers, progress=False
    )
    seconds = time.perf_counter() - started
    print(
        f"\n[1] cache build: {len(paths)} images in {seconds:.1f} s = {len(paths) / seconds:.0f} "
        f"images/s ({workers} workers), {(cache.folder / 'pixels.u8').stat().st_size / 2**20:.0f} "
        f"MiB, short side {cache_resize(transform).size} px"
    )
    return cache


class TimedRecEval(RecEvalCallback):
    """The evaluation callback, with the seconds of each of its evaluations."""

    seconds: list[float]

    def _run(self, *args) -> None:
        started = time.perf_counter()
        super()._run(*args)
        self.seconds = [*getattr(self, "seconds", []), time.perf_counter() - started]


def fit_epoch(module, datamodule: ArtDataModule, extra: list, batches: int) -> float:
    """Seconds of one epoch of ``batches`` batches (0: all), training only, evaluations too."""
    clock = EpochClock()
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=1,
        limit_train_batches=batches or None,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[clock, *extra],
    )
    trainer.fit(module, datamodule=datamodule)
    return clock.epochs()[0]


def variant_data(variant: str, module, base: dict, cache, tensors, paths, args):
    """The datamodule of one variant: pre-made tensors, or the image files with or without
    the cache (augment=light for training, the evaluation transform for the rest)."""
    if variant == "in-memory":
        return ArtDataModule(**base, features=tensors)
    transforms = {
        "train": build_augmentation(LIGHT, module.backbone.data_config),
        "eval": module.backbone.transform(training=False),
    }
    return ArtDataModule(
        **base,
        image_paths=paths,
        transforms=transforms,
        image_cache=cache if variant == "cached" else None,
        num_workers=args.workers,
    )


def training(args, dataset: Dataset, cache: ImageCache, tensors: torch.Tensor, out: Path) -> None:
    """Part 2: deep-tuning epochs, in-memory / cached / uncached, interleaved over rounds
    (round 1 warms up), and the evaluation callback's cost (last round, cached run)."""
    items, paths = dataset.items, dataset.items["image"].tolist()
    splits = np.where(np.arange(len(items)) % 10 == 9, "val", "train")
    specs = fit_tasks({"artist": {"column": "artist", "kind": "classification"}}, items)
    base = {"targets": encode_targets(specs, items), "splits": splits, "batch_size": 32}
    runs = {}
    for variant in VARIANTS:
        pl.seed_everything(SEED, verbose=False)
        tasks = [s.to_dict() for s in specs]
        module = ArtRecModule(backbone=args.backbone_cfg, tasks=tasks, tuning="deep")
        runs[variant] = (module, variant_data(variant, module, base, cache, tensors, paths, args))
    judge = TimedRecEval(
        dataset,
        ItemImages(paths, runs["cached"][0].backbone.transform(training=False), cache=cache),
        ProtocolConfig(),
        out,
        at_start=False,
        every_n_epochs=1,
        num_workers=args.workers,
    )
    epochs: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
    for round_ in range(args.rounds + 1):
        for variant, (module, dm) in runs.items():
            last = round_ == args.rounds and variant == "cached"
            epochs[variant].append(fit_epoch(module, dm, [judge] if last else [], args.batches))
        print(
            f"    round {round_ + 1}: " + ", ".join(f"{v} {e[-1]:.1f} s" for v, e in epochs.items())
        )
    evaluation = judge.seconds[0]  # at the epoch's end (the second one: at the fit's end)
    epochs["cached"][-1] -= evaluation
    n_train = int((splits == "train").sum())
    n = min(n_train, 32 * args.batches) if args.batches else n_train
    print(f"\n[2] deep tuning, {n} images an epoch, best of rounds 2-{args.rounds + 1}:")
    report({variant: min(e[1:]) for variant, e in epochs.items()}, n)
    full_epoch = min(epochs["cached"][1:]) * n_train / n
    print(
        f"    one evaluation ({len(items)} items through the cache + the protocol): "
        f"{evaluation:.1f} s = {evaluation / full_epoch:.2f} of a full cached epoch "
        f"({n_train} images, {full_epoch:.0f} s at the rate above)"
    )


def report(seconds: dict[str, float], n: int, target: bool = True) -> None:
    """Seconds, images/s and in-memory / variant for each variant; the target's verdict."""
    floor = seconds["in-memory"]
    for name, value in seconds.items():
        print(
            f"    {name:<9} {value:6.1f} s {n / value:6.0f} images/s  "
            f"in-memory/this = {floor / value:.2f}"
        )
    met = floor / seconds["cached"] >= TARGET
    if target:
        print(f"    target in-memory/cached >= {TARGET}: {'met' if met else 'NOT met'}")


def forward_seconds(backbone: torch.nn.Module, tensors: torch.Tensor) -> float:
    """The backbone alone on the pre-made tensors, batch 64."""
    started = time.perf_counter()
    with torch.inference_mode():
        for batch in tensors.split(64):
            backbone(batch)
    return time.perf_counter() - started


def extract_seconds(
    images: ItemImages, backbone: torch.nn.Module, workers: int, out: Path
) -> float:
    """``embed_images`` as extract.py runs it (Lightning predict, shards), timed."""
    started = time.perf_counter()
    embed_images(
        images,
        backbone,
        trainer_cfg={"accelerator": "cpu", "devices": 1},
        shard_dir=out / "shards",
        batch_size=64,
        num_workers=workers,
        progress=False,
    )
    return time.perf_counter() - started


def extraction(args, paths: list[str], cache: ImageCache, tensors: torch.Tensor, out: Path) -> None:
    """Part 3: extraction cached / uncached against the in-memory forward, best of rounds."""
    backbone = build_backbone(BackboneSpec.from_config(args.backbone_cfg)).eval()
    eval_tf = backbone.transform(training=False)
    runs = {
        "in-memory": lambda: forward_seconds(backbone, tensors),
        "cached": lambda: extract_seconds(
            ItemImages(paths, eval_tf, cache=cache), backbone, args.workers, out
        ),
        "uncached": lambda: extract_seconds(
            ItemImages(paths, eval_tf), backbone, args.workers, out
        ),
    }
    best = {name: float("inf") for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            best[name] = min(best[name], run())
    print(f"\n[3] extraction, {len(paths)} images, best of {args.rounds} rounds:")
    report(best, len(paths))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--side", type=int, default=500, help="the images' longest side, px")
    parser.add_argument("--workers", type=int, default=0, help="loader workers (data.num_workers)")
    parser.add_argument("--batches", type=int, default=0, help="batches an epoch (0: all)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's)")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds (best kept)")
    parser.add_argument("--backbone", default="tiny", help="a conf/backbone preset")
    parser.add_argument("--size", type=int, default=64, help="the network's input size, px")
    parser.add_argument(
        "--parts",
        default="2,3,4",
        help="after the cache build: 2 training, 3 extraction, 4 validation",
    )
    parser.add_argument(
        "--default-malloc", action="store_true", help="keep glibc's malloc thresholds as set"
    )
    args = parser.parse_args()
    args.backbone_cfg = backbone_cfg(args.backbone, args.size)
    return args


def steady_allocator(args: argparse.Namespace) -> None:
    """Re-run this process with glibc's malloc keeping freed memory (STEADY_MALLOC).

    With glibc's default thresholds a process sometimes hands the network's freed
    activations back to the kernel after every batch and faults them in again (130-170k
    minor page faults per 2,000 images), and which state a process lands in depends on its
    allocation history: the cached / in-memory ratio then flipped between 0.64 and 0.90 from
    run to run (bench/RESULTS.md). Both sides of every ratio run under the same allocator."""
    if args.default_malloc or all(os.environ.get(k) == v for k, v in STEADY_MALLOC.items()):
        return
    sys.stdout.flush()
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **STEADY_MALLOC})


def main() -> None:
    args = parse_args()
    steady_allocator(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in ("pytorch_lightning", "lightning_fabric", "artrec"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    print(f"machine: {machine()}\nload average at start: {load_average()}")
    print("glibc malloc:", "as set" if args.default_malloc else STEADY_MALLOC)
    started = time.perf_counter()
    work = Path(tempfile.gettempdir()) / "artrec-bench"
    root = make_images(work / f"images{args.side}-{args.images}", args.images, args.side)
    dataset = load_dataset(root, require_purchases=True)
    paths = dataset.items["image"].tolist()
    eval_tf = build_backbone(BackboneSpec.from_config(args.backbone_cfg)).transform(training=False)
    made = time.perf_counter() - started
    print(f"{len(paths)} JPEGs of about {args.side} px in {root} (ready in {made:.0f} s)")
    cache = build_cache(work / "cache", paths, eval_tf, args.workers)
    images = ItemImages(paths, eval_tf, cache=cache)
    tensors = torch.stack([pixels for pixels, _, _ in DataLoader(images, batch_size=None)])
    out = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    if "2" in args.parts:
        training(args, dataset, cache, tensors, out)
    if "3" in args.parts:
        extraction(args, paths, cache, tensors, out)
    if "4" in args.parts:
        validation(args, dataset, cache, tensors, report)
    shutil.rmtree(out, ignore_errors=True)
    print(
        f"\ntotal {time.perf_counter() - started:.0f} s; load average at end: {load_average()} "
        "(the benchmark itself adds up to ~2; more means other jobs shared the cores)"
    )


if __name__ == "__main__":
    main()
