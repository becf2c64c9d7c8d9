"""Small canonical datasets written by the tests themselves, and recorded run directories."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

#: A train.py run directory (its top-level files) recorded before ``tuning`` was a key:
#: config.yaml and the embeddings' meta hold ``tuning: {mode: deep}``. Made with
#: ``train.py dataset=folder debug=fast logger=none trainer.max_epochs=1 tasks=artist`` on
#: ``write_image_dataset(n_items=30, size=32)``.
OLD_TRAIN_RUN = Path(__file__).parent / "unit" / "golden" / "train_run_tuning_group"


def write_image_dataset(root: Path, n_items: int = 12, size: int = 40, seed: int = 0) -> Path:
    """``n_items`` solid-colour-plus-noise JPEGs, labels, and a purchase history with tests."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows = ["item_id,image,upload_time,unique,artist"]
    for i in range(n_items):
        colour = rng.integers(0, 256, size=3)
        noise = rng.integers(-30, 30, size=(size, size, 3))
        pixels = np.clip(colour + noise, 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"images/{i:03d}.jpg")
        rows.append(f"{i:03d},images/{i:03d}.jpg,{i},true,a{i % 3}")
    (root / "items.csv").write_text("\n".join(rows) + "\n")
    purchases = ["user_id,item_id,time"]
    for user in range(3):
        for step, item in enumerate(range(user, n_items, 3)):
            purchases.append(f"u{user},{item:03d},{n_items + 10 * step + user}")
    (root / "purchases.csv").write_text("\n".join(purchases) + "\n")
    return root


def write_png_header(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` pixels and holds none (a decompression
    bomb as Pillow sees it): the signature, an IHDR chunk (8-bit grey) and IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


def spoil_images(root: Path, kinds: dict[str, str]) -> None:
    """Replace the images of some items of :func:`write_image_dataset`'s ``root``: item id ->
    ``bomb`` (a 20000 x 20000 header), ``truncated`` (the JPEG without its last tenth: its
    header still passes Pillow's ``verify()``, decoding fails) or
    ``empty`` (zero bytes). The paths in items.csv stay the same."""
    for item_id, kind in kinds.items():
        path = root / f"images/{item_id}.jpg"
        if kind == "bomb":
            write_png_header(path, 20000, 20000)
        elif kind == "truncated":
            path.write_bytes(path.read_bytes()[: path.stat().st_size * 9 // 10])
        else:
            assert kind == "empty", kind
            path.write_bytes(b"")
