"""What the paper's rows cost on this machine: the throughput of the ResNet50 fine-tuning
network, extrapolated to the paper's data sizes (docs/reproduce.md).

    python bench/bench_cost.py [--batch 16] [--steps 4] [--threads T]

Measured, on random weights and random inputs (throughput does not depend on either):
the ``resnet50`` preset at 224 px with the 1024-d shared layer and task heads (artist,
medium, year of the demo gallery), as ``ArtRecModule`` builds it:

- forward: the backbone's ``inference_mode`` forward (extraction, the feature cache, the
  protocol's embedding of every item), ``--batch`` images;
- deep step: forward, multi-task loss, backward and Adam step through every layer;
- shallow step: the same on cached 2048-d features (shared layer and heads only), batch 32.

Each is timed over ``--steps`` batches after one warm-up batch. Then, per epoch, the time a
row needs on UGallery (6,040 items) and OmniArt (634,508 images), with a 70 / 20 / 10 split:
deep = 70% deep steps + 20% forwards (validation); shallow = the same 90% as shallow steps
(the feature cache costs one forward of every image, once). Extrapolated, not measured.
"""

from __future__ import annotations

import argparse
import logging
import time

import torch
from bench_train import backbone_cfg, labelled_items, load_average, machine, make_module

from artrec.models.tasks import total_loss

SIZES = {"UGallery": 6_040, "OmniArt": 634_508}
TRAIN, VAL = 0.7, 0.2
SHALLOW_BATCH = 32


def per_second(run_batch, batch: int, steps: int) -> float:
    """Images per second of ``run_batch()`` over ``steps`` calls after one warm-up call."""
    run_batch()
    started = time.perf_counter()
    for _ in range(steps):
        run_batch()
    return batch * steps / (time.perf_counter() - started)


def training_step(module, x: torch.Tensor, y: torch.Tensor):
    """One optimizer step of ``module`` on ``(x, y)``, as a callable."""
    optimizer = module.configure_optimizers()
    module.train()

    def step() -> None:
        loss, _ = total_loss(module.specs, module.heads(module(x)), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def measure(args: argparse.Namespace) -> dict[str, float]:
    _, _, specs, targets = labelled_items(SHALLOW_BATCH)
    y = torch.as_tensor(targets)
    deep = make_module(backbone_cfg("resnet50", 224), specs, "deep")
    images = torch.randn(args.batch, 3, 224, 224)

    def forward() -> None:
        with torch.inference_mode():
            deep.eval().backbone(images)

    rates = {"forward": per_second(forward, args.batch, args.steps)}
    step = training_step(deep, images, y[: args.batch])
    rates["deep step"] = per_second(step, args.batch, args.steps)
    shallow = make_module(backbone_cfg("resnet50", 224), specs, "shallow")
    features = torch.randn(SHALLOW_BATCH, shallow.feature_dim)
    step = training_step(shallow, features, y)
    rates["shallow step"] = per_second(step, SHALLOW_BATCH, 20 * args.steps)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=16, help="images per deep batch")
    parser.add_argument("--steps", type=int, default=4, help="timed batches after a warm-up")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.getLogger("artrec").setLevel(logging.WARNING)
    print(f"{machine()}; load average before {load_average()}")
    rates = measure(args)
    print(f"load average after {load_average()}")
    for name, rate in rates.items():
        print(f"  measured {name:<13} {rate:9.2f} images/s")
    for data, n in SIZES.items():
        deep = n * TRAIN / rates["deep step"] + n * VAL / rates["forward"]
        shallow = n * (TRAIN + VAL) / rates["shallow step"]
        cache = n / rates["forward"]
        print(
            f"  extrapolated {data} ({n:,} images): deep {deep / 3600:8.2f} h/epoch, shallow "
            f"{shallow / 3600:8.4f} h/epoch after a feature cache of {cache / 3600:.2f} h"
        )


if __name__ == "__main__":
    main()
