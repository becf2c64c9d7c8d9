"""The embedded demo gallery: a synthetic art shop in the canonical layout (docs/data.md).

Artists have recognisable styles, users buy mostly from a few favourite artists, and items
leave the stock once sold, so the research questions have visible answers on it. The
output is a pure function of the parameters and the seed (byte-identical files), written
into a temporary folder that is renamed into place when complete.

    python -m artrec.data.gallery --out DIR --items 1500 --users 500 --seed 0
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from artrec.data.csvio import write_csv_atomic
from artrec.data.gallery_images import write_images
from artrec.data.gallery_market import Tastes, sample_stock, simulate_purchases
from artrec.data.gallery_styles import (
    MEDIA,
    MEDIUM_TYPE,
    make_ids,
    sample_artists,
    sample_catalogue,
)
from artrec.errors import ArtrecError, ConfigError
from artrec.io import cache_root, write_json_atomic

GENERATOR_VERSION = 2  # 2: the type column
MARKER = "gallery.json"
GALLERY_SCALES: dict[str, dict[str, int]] = {
    "default": {"items": 1500, "users": 500, "transactions": 1500},
    "ugallery": {"items": 6040, "users": 2919, "transactions": 4099},
}
DEFAULTS = {"artists": 40, "image_size": 128, **GALLERY_SCALES["default"]}


def generate_gallery(
    out: Path,
    *,
    items: int = 1500,
    users: int = 500,
    transactions: int = 1500,
    artists: int = 40,
    image_size: int = 128,
    seed: int = 0,
) -> Path:
    """Write a gallery into ``out`` (replacing an earlier gallery there) and return ``out``."""
    params = _checked(
        items=items,
        users=users,
        transactions=transactions,
        artists=artists,
        image_size=image_size,
        seed=seed,
    )
    out = Path(out).expanduser().absolute()
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        _write(tmp, params)
        _move_into_place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _checked(**params: int) -> dict[str, int]:
    """The parameters, after checking they make a shop that can exist."""
    for key, value in params.items():
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise ConfigError(f"gallery parameter {key}={value!r} must be an integer.")
    lower = {"items": 1, "users": 1, "artists": 1, "image_size": 16, "seed": 0}
    for key, least in lower.items():
        if params[key] < least:
            raise ConfigError(f"gallery parameter {key}={params[key]} must be at least {least}.")
    if params["transactions"] < params["users"]:
        raise ConfigError(
            f"gallery transactions={params['transactions']} < users={params['users']}: every "
            "user makes at least one transaction; raise transactions or lower users."
        )
    return {key: int(value) for key, value in params.items()}


def _check_replaceable(out: Path) -> None:
    """Refuse to overwrite anything but an empty folder or an earlier gallery."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory; choose another --out.")
    if out.exists() and not (out / MARKER).is_file() and any(out.iterdir()):
        raise ConfigError(
            f"{out}: exists, is not empty and is not a demo gallery (no {MARKER}); "
            "choose a new or empty directory for --out."
        )


def _move_into_place(tmp: Path, out: Path) -> None:
    """Rename the finished folder onto ``out``; an earlier gallery there is removed after."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old.{os.getpid()}"
        os.replace(out, old)
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(folder: Path, params: dict[str, int]) -> None:
    """Generate everything into ``folder``; the marker file goes last."""
    seed = params["seed"]
    rng = np.random.default_rng([seed, 0])
    styles = sample_artists(params["artists"], rng)
    catalogue = sample_catalogue(styles, params["items"], rng)
    stock = sample_stock(params["items"], rng)
    tastes = Tastes(params["users"], styles, catalogue, rng, seed)
    bought = simulate_purchases(stock, tastes, params["users"], params["transactions"], rng)
    item_ids = np.array(make_ids("i", params["items"], 5))
    user_ids = np.array(make_ids("u", params["users"], 4))
    images = [f"{item_id}.jpg" for item_id in item_ids]
    write_images(folder / "images", images, styles, catalogue, params["image_size"], seed)
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "image": [f"images/{name}" for name in images],
            "upload_time": stock.upload_time,
            "unique": np.where(stock.unique, "true", "false"),
            "artist": np.array([style.artist_id for style in styles])[catalogue.artist],
            "medium": np.array(MEDIA)[catalogue.medium],
            "type": [MEDIUM_TYPE[MEDIA[m]] for m in catalogue.medium],
            "year": catalogue.year,
        }
    )
    purchases = pd.DataFrame(
        {"user_id": user_ids[bought.user], "item_id": item_ids[bought.item], "time": bought.time}
    )
    write_csv_atomic(items, folder / "items.csv")
    write_csv_atomic(purchases, folder / "purchases.csv")
    counts = {"purchases": len(purchases), "buyers": int(purchases["user_id"].nunique())}
    marker = {"generator": "artrec.data.gallery", "version": GENERATOR_VERSION, "params": params}
    write_json_atomic(folder / MARKER, {**marker, "counts": counts})


def gallery_params(scale: str = "default", **overrides: int) -> dict[str, int]:
    """The full parameter set of a scale, with overrides (items, users, transactions, ...).
    Without a number of transactions, they follow the number of users at the scale's rate
    (the default scale: 3 per user)."""
    if scale not in GALLERY_SCALES:
        raise ConfigError(f"unknown gallery scale {scale!r}; choose one of {list(GALLERY_SCALES)}.")
    unknown = sorted(set(overrides) - set(DEFAULTS) - {"seed"})
    if unknown:
        raise ConfigError(
            f"unknown gallery parameter(s) {unknown}; known: {sorted([*DEFAULTS, 'seed'])}."
        )
    chosen = GALLERY_SCALES[scale]
    if "users" in overrides and overrides.get("transactions") is None:
        per_user = chosen["transactions"] / chosen["users"]
        overrides = {**overrides, "transactions": round(per_user * overrides["users"])}
    return {**DEFAULTS, "seed": 0, **chosen, **overrides}


def ensure_gallery(
    cache_dir: Path | None = None,
    *,
    scale: str = "default",
    seed: int = 0,
    image_size: int = 128,
    **overrides: int,
) -> Path:
    """The gallery for these parameters: generated into the cache on first use, then reused."""
    params = _checked(**gallery_params(scale, seed=seed, image_size=image_size, **overrides))
    key = json.dumps({"version": GENERATOR_VERSION, **params}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    root = Path(cache_dir or cache_root()).expanduser() / f"gallery-{digest}"
    if _marker_params(root) != params:
        try:
            generate_gallery(root, **params)
        except OSError:
            if _marker_params(root) != params:  # not just another process finishing first
                raise
    return root


def _marker_params(root: Path) -> dict | None:
    try:
        marker = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker.get("params") if marker.get("version") == GENERATOR_VERSION else None


def main(argv: list[str] | None = None) -> None:
    """CLI: generate a gallery and print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write")
    parser.add_argument("--scale", choices=list(GALLERY_SCALES), default="default")
    for name in ("items", "users", "transactions", "artists"):
        parser.add_argument(f"--{name}", type=int, help=f"number of {name} (default: the scale's)")
    parser.add_argument("--image-size", type=int, default=DEFAULTS["image_size"], help="pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    chosen = {k: getattr(args, k) for k in ("items", "users", "transactions", "artists")}
    overrides = {k: v for k, v in chosen.items() if v is not None}
    params = gallery_params(args.scale, seed=args.seed, image_size=args.image_size, **overrides)
    started = time.perf_counter()
    try:
        out = generate_gallery(args.out, **params)
    except ArtrecError as exc:
        parser.error(str(exc))
    marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    print(
        f"gallery {out}: {params['items']} items, {params['users']} users, "
        f"{params['transactions']} transactions ({marker['counts']['purchases']} purchases), "
        f"{params['artists']} artists, {params['image_size']}px images, seed {params['seed']}, "
        f"in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
