"""Benchmark of the demo gallery generator (artrec.data.gallery).

    python bench/bench_gallery.py [--scale default|ugallery] [--image-size PX]

Times generating the gallery into a temporary directory (the whole run: styles, market
simulation, rendering, JPEG files, CSVs). Baseline measured in the same run: JPEG-encoding
the same number of flat images of the same size, the floor any generator pays for its
files. Target: the default gallery (1500 items, 128 px) well under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from artrec.data.gallery import GALLERY_SCALES, gallery_params, generate_gallery
from artrec.data.gallery_images import JPEG_QUALITY


def encode_floor(folder: Path, n: int, size: int) -> float:
    """Seconds to write ``n`` flat JPEGs of ``size`` pixels: the file-writing floor."""
    folder.mkdir()
    pixels = np.full((size, size, 3), 128, dtype=np.uint8)
    started = time.perf_counter()
    for k in range(n):
        Image.fromarray(pixels).save(folder / f"{k}.jpg", format="JPEG", quality=JPEG_QUALITY)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=list(GALLERY_SCALES), default="default")
    parser.add_argument("--image-size", type=int, default=128)
    args = parser.parse_args()
    params = gallery_params(args.scale, image_size=args.image_size)
    with tempfile.TemporaryDirectory() as tmp:
        floor = encode_floor(Path(tmp) / "floor", params["items"], params["image_size"])
        started = time.perf_counter()
        generate_gallery(Path(tmp) / "gallery", **params)
        seconds = time.perf_counter() - started
    print(
        f"gallery scale={args.scale} ({params['items']} items, {params['users']} users, "
        f"{params['transactions']} transactions, {params['image_size']} px): {seconds:.2f} s, "
        f"{params['items'] / seconds:.0f} items/s; JPEG floor {floor:.2f} s "
        f"(generation = {seconds / floor:.1f}x the floor)"
    )


if __name__ == "__main__":
    main()
