"""Benchmark of image extraction (artrec.models.embedder) and of the paper's backbones.

    python bench/bench_extract.py [--only 1,2] [--images N] [--workers 0,1,2] [--threads T]

1. Extraction vs raw forward (CPU, resnet18, random weights, 128 px): ``embed_images`` over
   the demo gallery's JPEGs (real timm transform, DataLoader workers, Lightning predict loop,
   shard files) against the same Backbone's ``inference_mode`` forward on pre-made
   ``[B, 3, 128, 128]`` tensors: same images, batch size and torch threads. Target: ratio
   >= 0.8 (the input pipeline is not the bottleneck). Measurements are interleaved over
   ``--rounds`` rounds and the best of each is kept, since other jobs share the cores. The
   same extraction with a near-free encoder (a global average pool) gives the pipeline's
   own ceiling (decode + transform + loader + Lightning + shards), to explain any gap;
   "serial estimate" is what running the two one after the other would give.
2. Raw forward throughput of the paper's five backbones (conf/backbone presets, random
   weights) at their native input size, after a warm-up batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import platform
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytorch_lightning as pl
import timm
import torch
from omegaconf import OmegaConf
from PIL import Image
from torch import nn

from artrec.data import load_dataset
from artrec.data.gallery import ensure_gallery
from artrec.data.images import ItemImages
from artrec.models.backbone import Backbone, BackboneSpec, build_backbone
from artrec.models.embedder import embed_images

CPU_TRAINER = {"accelerator": "cpu", "devices": 1, "strategy": "auto", "precision": "32-true"}
TARGET_RATIO = 0.8
PAPER_PRESETS = ("resnet50", "vgg19", "inception_v3", "inception_resnet_v2", "nasnetalarge")
PRESET_DIR = Path(__file__).resolve().parent.parent / "conf" / "backbone"
# Batch size per preset in part 2, where the default is too slow on a CPU.
PRESET_BATCH = {"nasnetalarge": 4}


class MeanPool(nn.Module):
    """A near-free encoder (``[B, 3, H, W] -> [B, 3]``): extraction with it times the pipeline."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3))


def machine() -> str:
    """Cores, CPU model, torch threads and library versions, for the summary."""
    model = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )
    return (
        f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {model}; "
        f"torch {torch.__version__} ({torch.get_num_threads()} intra-op / "
        f"{torch.get_num_interop_threads()} inter-op threads), timm {timm.__version__}, "
        f"pytorch_lightning {pl.__version__}, python {platform.python_version()}"
    )


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def load_average() -> str:
    """The 1-minute load average: how busy the cores were with other work."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def raw_forward(model: nn.Module, n: int, batch_size: int, size: int) -> float:
    """Images/s of ``model`` over ``n`` images in batches of ``batch_size`` (pre-made tensor)."""
    batch = torch.randn(batch_size, 3, size, size)
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    with torch.inference_mode():
        model(batch)  # warm-up
        started = time.perf_counter()
        for k in sizes:
            model(batch[:k])
        return n / (time.perf_counter() - started)


def extraction(images: ItemImages, encoder: nn.Module, batch_size: int, workers: int) -> float:
    """Images/s of a whole ``embed_images`` call (trainer, loader, shards and merge included)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        rows, _, failed = embed_images(
            images,
            encoder,
            trainer_cfg=CPU_TRAINER,
            shard_dir=Path(tmp) / "shards",
            batch_size=batch_size,
            num_workers=workers,
            progress=False,
        )
        seconds = time.perf_counter() - started
    if len(rows) != len(images) or len(failed):
        raise RuntimeError(f"embedded {len(rows)} of {len(images)} images, {len(failed)} failed")
    return len(images) / seconds


def per_image_ms(paths: list[str], step: Callable[[str], object]) -> float:
    """Milliseconds per image of ``step``, in this process."""
    started = time.perf_counter()
    for path in paths:
        step(path)
    return 1000 * (time.perf_counter() - started) / len(paths)


def _decode(path: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def profile_steps(paths: list[str], backbone: Backbone) -> dict[str, float]:
    """ms/image of JPEG decode and of decode + timm transform, single process."""
    transform = backbone.transform(training=False)
    per_image_ms(paths[:32], _decode)  # warm the page cache
    return {
        "decode": per_image_ms(paths, _decode),
        "decode+transform": per_image_ms(paths, lambda path: transform(_decode(path))),
    }


def bench_pipeline(args: argparse.Namespace) -> None:
    """Part 1: extraction against raw forward, best of interleaved rounds."""
    items = load_dataset(ensure_gallery()).items
    paths = items["image"].tolist()[: args.images or None]
    backbone = build_backbone(BackboneSpec(name="resnet18", pretrained=False, input_size=128))
    images = ItemImages(paths, backbone.transform(training=False))
    side = backbone.data_config["input_size"][-1]
    print(
        f"\n[1] extraction vs raw forward: resnet18 (random weights), {side} px, "
        f"{len(paths)} of the gallery's {len(items)} JPEGs, batch {args.batch_size}, "
        f"{torch.get_num_threads()} torch threads on both sides, best of {args.rounds} rounds"
    )
    runs = {"raw": lambda: raw_forward(backbone, len(paths), args.batch_size, side)}
    for w in args.workers:
        runs[f"extract w={w}"] = lambda w=w: extraction(images, backbone, args.batch_size, w)
        runs[f"pipeline w={w}"] = lambda w=w: extraction(images, MeanPool(), args.batch_size, w)
    speeds: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(args.rounds):
        for name, run in runs.items():
            speeds[name].append(run())
            print(f"    round {round_ + 1}: {name:<14} {speeds[name][-1]:7.1f} images/s")
    report_pipeline(speeds, args.workers, profile_steps(paths, backbone))


def report_pipeline(
    speeds: dict[str, list[float]], workers: list[int], steps: dict[str, float]
) -> None:
    """The ratios (of the bests, and per round), and where the time goes."""
    best = {name: max(values) for name, values in speeds.items()}
    raw = best["raw"]
    print(f"  raw forward: {raw:.1f} images/s ({1000 / raw:.2f} ms/image), best round")
    print(
        "  per image, one process: "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in steps.items())
    )
    for w in workers:
        speed, ceiling = best[f"extract w={w}"], best[f"pipeline w={w}"]
        rounds = [e / r for e, r in zip(speeds[f"extract w={w}"], speeds["raw"], strict=True)]
        verdict = "ok" if speed / raw >= TARGET_RATIO else f"BELOW {TARGET_RATIO}"
        serial = 1 / (1 / raw + 1 / ceiling)
        print(
            f"  num_workers={w}: extraction {speed:5.1f} images/s, ratio {speed / raw:.3f} "
            f"({verdict}; per round {', '.join(f'{r:.3f}' for r in rounds)}); pipeline alone "
            f"(mean-pool encoder) {ceiling:5.1f} images/s, serial estimate ratio {serial / raw:.3f}"
        )
    top = max(workers, key=lambda w: best[f"extract w={w}"])
    print(f"  best: num_workers={top}, ratio {best[f'extract w={top}'] / raw:.3f}")


def preset_spec(preset: str) -> BackboneSpec:
    """The preset's spec from conf/backbone, with random weights (no network here)."""
    spec = BackboneSpec.from_config(OmegaConf.load(PRESET_DIR / f"{preset}.yaml"))
    return dataclasses.replace(spec, pretrained=False, weights=None)


def time_preset(preset: str, batch_size: int, iters: int) -> dict[str, object]:
    """Raw forward images/s of one preset at its native size: warm-up, then ``iters`` batches."""
    started = time.perf_counter()
    backbone = build_backbone(preset_spec(preset))
    built = time.perf_counter() - started
    shape = tuple(backbone.data_config["input_size"])
    batch = torch.randn(batch_size, *shape)
    with torch.inference_mode():
        started = time.perf_counter()
        dim = backbone(batch).shape[1]
        warm = time.perf_counter() - started
        times = []
        for _ in range(iters):
            started = time.perf_counter()
            backbone(batch)
            times.append(time.perf_counter() - started)
    return {
        "name": backbone.spec.name,
        "feature": f"{backbone.spec.feature} {dim}-d",
        "size": f"{shape[1]}x{shape[2]}",
        "params": sum(p.numel() for p in backbone.parameters()) / 1e6,
        "batch": batch_size,
        "setup": f"build {built:.1f} s, warm-up {warm:.1f} s",
        "mean": batch_size * iters / sum(times),
        "best": batch_size / min(times),
    }


def bench_presets(args: argparse.Namespace) -> None:
    """Part 2: raw forward throughput of the paper's five backbones."""
    print(
        f"\n[2] raw forward of the paper's backbones (random weights, native input size), "
        f"{args.iters} timed batches after one warm-up batch, {torch.get_num_threads()} threads"
    )
    for preset in PAPER_PRESETS:
        row = time_preset(preset, PRESET_BATCH.get(preset, args.batch_size2), args.iters)
        print(
            f"  {preset:<20} {row['name']:<28} {row['feature']:<16} {row['size']:>7} px "
            f"{row['params']:6.1f} M params  batch {row['batch']:>2}: {row['mean']:6.2f} images/s "
            f"(best batch {row['best']:6.2f}; {row['setup']})"
        )


PARTS = {1: bench_pipeline, 2: bench_presets}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="1,2", help="parts to run, e.g. 1 or 1,2")
    parser.add_argument("--images", type=int, default=512, help="gallery images (0: all)")
    parser.add_argument("--batch-size", type=int, default=16, help="part 1 batch size")
    parser.add_argument("--workers", default="0,1,2", help="part 1 DataLoader num_workers")
    parser.add_argument("--rounds", type=int, default=3, help="part 1 interleaved rounds")
    parser.add_argument("--batch-size2", type=int, default=8, help="part 2 batch size")
    parser.add_argument("--iters", type=int, default=2, help="part 2 timed batches")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    args.only = [int(part) for part in args.only.split(",")]
    args.workers = [int(w) for w in args.workers.split(",")]
    unknown = set(args.only) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown parts {sorted(unknown)}; use {sorted(PARTS)}")
    return args


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.getLogger("pytorch_lightning").setLevel(logging.WARNING)  # no per-call banners
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
