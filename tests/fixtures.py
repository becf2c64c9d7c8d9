"""Small canonical datasets written by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


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
