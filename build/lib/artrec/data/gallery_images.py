"""Vectorised rendering of the demo gallery's images from the hidden style factors.

An image is: the artist's composition (motifs placed at random positions and sizes, in a
jittered version of the artist's palette, with wandering edges), the artist's brushwork
(directional stroke noise), the item's medium (a visible texture), then period traits
of its year (older: duller, yellowed varnish, softer). Whole-array numpy only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from artrec.data.gallery_styles import FIRST_YEAR, LAST_YEAR, MEDIA, ArtistStyle, Catalogue

PAPER = np.array([0.97, 0.95, 0.9], dtype=np.float32)
VARNISH = np.array([1.0, 0.87, 0.62], dtype=np.float32)
JPEG_QUALITY = 90


@dataclass(frozen=True)
class Canvas:
    """Everything one image's rendering steps share."""

    x: np.ndarray  # (S, S) warped coordinates in about [0, 1)
    y: np.ndarray
    palette: np.ndarray  # (k, 3) this item's jittered palette
    tex: np.ndarray  # (S, S) directional brush noise, about unit std
    style: ArtistStyle
    rng: np.random.Generator

    @property
    def size(self) -> int:
        return self.x.shape[0]


@lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / np.float32(size)
    return yy, xx


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise: a ``cells`` x ``cells`` normal grid upsampled bicubically."""
    low = rng.standard_normal((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(low).resize((size, size), Image.Resampling.BICUBIC))


def brush_texture(rng: np.random.Generator, size: int, angle: float, length: float) -> np.ndarray:
    """White noise smeared along the stroke direction: streaks ``length`` of the side long."""
    steps = max(1, round(length * size))
    white = rng.standard_normal((size, size)).astype(np.float32)
    acc = np.zeros_like(white)
    for k in range(steps):
        acc += np.roll(white, (round(k * np.sin(angle)), round(k * np.cos(angle))), axis=(0, 1))
    return acc / np.float32(np.sqrt(steps))


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


def _blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return gaussian_filter(rgb, sigma=(sigma, sigma, 0), mode="nearest")


def _banded(level: np.ndarray, n: int, canvas: Canvas) -> np.ndarray:
    """Cut ``level`` (about [0, 1]) into ``n`` bands of random widths, cycling the palette."""
    cuts = np.sort(canvas.rng.random(max(1, n) - 1))
    band = np.searchsorted(cuts, level)
    k = len(canvas.palette)
    return canvas.palette[(band + int(canvas.rng.integers(k))) % k]


def _rotated(canvas: Canvas, jitter: float = 0.12) -> tuple[np.ndarray, np.ndarray]:
    """Centred coordinates turned by the artist's angle (plus a little per image)."""
    a = canvas.style.angle + canvas.rng.normal(0.0, jitter)
    x, y = canvas.x - 0.5, canvas.y - 0.5
    return x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)


def _detail(canvas: Canvas) -> int:
    return max(2, canvas.style.detail + int(canvas.rng.integers(-1, 2)))


def _stripes(c: Canvas) -> np.ndarray:
    u, _ = _rotated(c)
    return _banded(u / 1.42 + 0.5, _detail(c), c)


def _rings(c: Canvas) -> np.ndarray:
    cx, cy = c.rng.uniform(0.2, 0.8, 2)
    return _banded(np.hypot(c.x - cx, c.y - cy) / 1.2, _detail(c), c)


def _waves(c: Canvas) -> np.ndarray:
    u, v = _rotated(c)
    amp, freq, phase = c.rng.uniform(0.03, 0.12), c.rng.uniform(1, 3), c.rng.uniform(0, 6.3)
    return _banded(np.clip(v + amp * np.sin(6.283 * freq * u + phase) + 0.5, 0, 1), _detail(c), c)


def _rays(c: Canvas) -> np.ndarray:
    cx, cy = c.rng.uniform(0.1, 0.9, 2)
    turns = np.arctan2(c.y - cy, c.x - cx) / 6.283 + 0.5 + c.rng.random()
    return _banded(turns % 1.0, _detail(c) + 2, c)


def _blobs(c: Canvas) -> np.ndarray:
    field = smooth_noise(c.rng, c.size, 2 + c.style.detail // 2)
    level = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    return _banded(level, _detail(c), c)


def _circles(c: Canvas) -> np.ndarray:
    p = c.palette
    rgb = p[0] + (p[1] - p[0]) * c.y[..., None]
    for j in range(_detail(c)):
        cx, cy = c.rng.uniform(0.1, 0.9, 2)
        radius = c.rng.uniform(0.05, 0.25)
        rgb[(c.x - cx) ** 2 + (c.y - cy) ** 2 < radius**2] = p[2 + j % (len(p) - 2)]
    return rgb


def _grid_cells(c: Canvas) -> np.ndarray:
    n = 1 + _detail(c) // 2
    cuts_x, cuts_y = np.sort(c.rng.random(n)), np.sort(c.rng.random(n))
    table = c.rng.integers(0, len(c.palette), (n + 1, n + 1))
    rgb = c.palette[table[np.searchsorted(cuts_y, c.y), np.searchsorted(cuts_x, c.x)]]
    near_x = np.abs(c.x[..., None] - cuts_x).min(axis=-1)
    near_y = np.abs(c.y[..., None] - cuts_y).min(axis=-1)
    rgb[np.minimum(near_x, near_y) < 0.012] = c.palette[-1] * 0.3
    return rgb


def _diagonal(c: Canvas) -> np.ndarray:
    n = _detail(c)
    k = len(c.palette)
    u = np.floor((c.x + c.y) * n / 1.5).astype(np.int64)
    v = np.floor((c.x - c.y + 1.0) * n / 1.5).astype(np.int64)
    step_u, step_v = c.rng.integers(1, k, 2)
    return c.palette[(u * step_u + v * step_v + int(c.rng.integers(k))) % k]


def _horizon(c: Canvas) -> np.ndarray:
    p = c.palette
    h = c.rng.uniform(0.3, 0.65) + 0.04 * np.sin(6.283 * c.rng.uniform(0.5, 2) * c.x)
    sky = p[0] + (p[1] - p[0]) * np.clip(c.y / h, 0, 1)[..., None]
    ground = _banded(np.clip((c.y - h) / (1 - h), 0, 1), _detail(c), c)
    rgb = np.where((c.y < h)[..., None], sky, ground)
    sx, sy, radius = c.rng.uniform(0.15, 0.85), c.rng.uniform(0.08, 0.25), c.rng.uniform(0.04, 0.1)
    rgb[(c.x - sx) ** 2 + (c.y - sy) ** 2 < radius**2] = p[-1]
    return rgb


def _dots(c: Canvas) -> np.ndarray:
    n = 2 * _detail(c)
    ix = np.clip(np.floor(c.x * n).astype(np.int64), 0, n - 1)
    iy = np.clip(np.floor(c.y * n).astype(np.int64), 0, n - 1)
    jitter = c.rng.uniform(-0.15, 0.15, (2, n, n))
    radius = c.rng.uniform(0.1, 0.45, (n, n))
    colour = c.rng.integers(1, len(c.palette), (n, n))
    fx = c.x * n - ix - 0.5 - jitter[0][iy, ix]
    fy = c.y * n - iy - 0.5 - jitter[1][iy, ix]
    inside = fx**2 + fy**2 < radius[iy, ix] ** 2
    return np.where(inside[..., None], c.palette[colour[iy, ix]], c.palette[0])


COMPOSITION_RENDERERS: dict[str, Callable[[Canvas], np.ndarray]] = {
    "stripes": _stripes,
    "circles": _circles,
    "grid": _grid_cells,
    "diagonal": _diagonal,
    "horizon": _horizon,
    "rings": _rings,
    "waves": _waves,
    "dots": _dots,
    "rays": _rays,
    "blobs": _blobs,
}


def _painted(clean: np.ndarray, c: Canvas) -> np.ndarray:
    return clean * (1.0 + c.style.texture * c.tex)[..., None]


def _oil(clean: np.ndarray, c: Canvas) -> np.ndarray:
    """Thick impasto: strong stroke relief lit from the top left."""
    bump = 2.0 * c.tex + c.rng.standard_normal(c.tex.shape).astype(np.float32)
    shade = 1.0 + 0.12 * (bump - np.roll(bump, (1, 1), axis=(0, 1)))
    return _painted(clean, c) * shade[..., None]


def _acrylic(clean: np.ndarray, c: Canvas) -> np.ndarray:
    """Flat, saturated, hard-edged colour fields."""
    flat = np.round(_painted(clean, c) * 6.0) / 6.0
    grey = _luminance(flat)[..., None]
    return grey + 1.2 * (flat - grey)


def _watercolor(clean: np.ndarray, c: Canvas) -> np.ndarray:
    """Soft washes: blurred, thinned with paper, with pigment granulation."""
    wash = 0.65 * _blur(clean, c.size / 45) + 0.35 * PAPER
    grain = 1.0 - 0.06 * smooth_noise(c.rng, c.size, 24) - 0.03 * c.rng.random(c.tex.shape)
    return wash * grain[..., None].astype(np.float32)


def _ink(clean: np.ndarray, c: Canvas) -> np.ndarray:
    """High-contrast lines: region outlines plus hatching of dark areas on paper."""
    lum = _luminance(clean)
    edge = np.abs(np.diff(lum, axis=0, prepend=lum[:1])) + np.abs(
        np.diff(lum, axis=1, prepend=lum[:, :1])
    )
    u = c.x * np.cos(c.style.stroke_angle) + c.y * np.sin(c.style.stroke_angle)
    hatch = (np.sin(6.283 * u * c.size / 5) > 0.2) & (lum < lum.mean())
    ink = np.clip(np.maximum(8.0 * edge, 0.85 * hatch), 0, 1)[..., None]
    drawing = PAPER * (1 - ink) + (c.palette.min(axis=0) * 0.3) * ink
    return 0.8 * drawing + 0.2 * clean


def _pastel(clean: np.ndarray, c: Canvas) -> np.ndarray:
    """Light, chalky colour with white paper showing through in speckles."""
    soft = 0.6 * _blur(_painted(clean, c), 0.7) + 0.4 * PAPER
    speckle = c.rng.random(c.tex.shape) < 0.15
    soft[speckle] = 0.5 * soft[speckle] + 0.5 * PAPER
    return soft


MEDIUM_RENDERERS: dict[str, Callable[[np.ndarray, Canvas], np.ndarray]] = {
    "oil": _oil,
    "acrylic": _acrylic,
    "watercolor": _watercolor,
    "ink": _ink,
    "pastel": _pastel,
}


def _period(rgb: np.ndarray, year: int) -> np.ndarray:
    """Period traits: saturation grows with the year; old works are yellowed and softer."""
    recent = (year - FIRST_YEAR) / (LAST_YEAR - FIRST_YEAR)
    grey = _luminance(rgb)[..., None]
    rgb = grey + (0.45 + 0.75 * recent) * (rgb - grey)
    age = 1.0 - recent
    rgb = rgb * (1.0 - 0.4 * age * (1.0 - VARNISH))
    sigma = 1.2 * age * rgb.shape[0] / 128
    return _blur(rgb, sigma) if sigma > 0.3 else rgb


def render_image(
    style: ArtistStyle, medium: str, year: int, size: int, rng: np.random.Generator
) -> np.ndarray:
    """One item's image as a (size, size, 3) uint8 array."""
    yy, xx = _grid(size)
    tex = brush_texture(rng, size, style.stroke_angle, style.stroke_length)
    wobble = style.wobble * smooth_noise(rng, size, 5)
    palette = (
        style.palette if rng.random() < 0.5 else style.palette[rng.permutation(len(style.palette))]
    )
    canvas = Canvas(
        x=xx + wobble + 0.006 * tex,
        y=yy - wobble + 0.006 * tex,
        palette=np.clip(palette + rng.normal(0, 0.035, palette.shape), 0, 1).astype(np.float32),
        tex=tex,
        style=style,
        rng=rng,
    )
    clean = COMPOSITION_RENDERERS[style.composition](canvas).astype(np.float32)
    rgb = _period(MEDIUM_RENDERERS[medium](clean, canvas), year)
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_images(
    folder: Path,
    names: list[str],
    artists: list[ArtistStyle],
    catalogue: Catalogue,
    size: int,
    seed: int,
) -> None:
    """Render item k into ``folder/names[k]`` as JPEG; item k draws from its own seeded stream."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        rng = np.random.default_rng([seed, 1, k])
        pixels = render_image(
            artists[catalogue.artist[k]],
            MEDIA[catalogue.medium[k]],
            int(catalogue.year[k]),
            size,
            rng,
        )
        Image.fromarray(pixels).save(folder / name, format="JPEG", quality=JPEG_QUALITY)
