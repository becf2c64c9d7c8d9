"""Hidden style factors of the demo gallery: artists (palette, composition, brushwork, media,
active period) and the catalogue of items they made.

These are the "truth" behind the synthetic shop: images are rendered from them
(gallery_images) and users' tastes are defined over them (gallery_market).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

MEDIA = ("oil", "acrylic", "watercolor", "ink", "pastel")
#: The artwork type of each medium (OmniArt's ``type`` task: painting vs drawing).
MEDIUM_TYPE = {
    "oil": "painting",
    "acrylic": "painting",
    "watercolor": "painting",
    "ink": "drawing",
    "pastel": "drawing",
}
COMPOSITIONS = (
    "stripes",
    "circles",
    "grid",
    "diagonal",
    "horizon",
    "rings",
    "waves",
    "dots",
    "rays",
    "blobs",
)
FIRST_YEAR, LAST_YEAR = 1850, 2015

# Hue offsets (in turns) of each palette scheme, relative to the artist's base hue.
PALETTE_SCHEMES: dict[str, tuple[float, ...]] = {
    "monochrome": (0.0, 0.0, 0.0, 0.0),
    "analogous": (0.0, 0.06, -0.06, 0.12),
    "complementary": (0.0, 0.5, 0.03, 0.47),
    "triadic": (0.0, 1 / 3, 2 / 3, 0.0),
    "split": (0.0, 0.42, 0.58, 0.04),
}


@dataclass(frozen=True)
class ArtistStyle:
    """One artist's recognisable style; every image of theirs is rendered from it."""

    artist_id: str
    hue: float  # base hue in turns [0, 1)
    palette: np.ndarray  # (n_colours, 3) RGB in [0, 1]
    composition: str
    angle: float  # composition direction (radians)
    detail: int  # how many bands / shapes / cells the composition has
    stroke_angle: float  # brush stroke direction (radians)
    stroke_length: float  # stroke length as a share of the image side
    texture: float  # brush noise amplitude
    wobble: float  # how much region edges wander
    media_weights: np.ndarray  # probability of each medium in MEDIA
    first_year: int
    last_year: int


def make_ids(prefix: str, n: int, width: int) -> list[str]:
    """``n`` ids that look like real ones (a01, u0001, i00001), wider when n needs it."""
    width = max(width, len(str(n)))
    return [f"{prefix}{k:0{width}d}" for k in range(1, n + 1)]


def sample_artists(n: int, rng: np.random.Generator) -> list[ArtistStyle]:
    """Draw ``n`` artists with spread-out base hues and evenly shared compositions."""
    hues = (rng.permutation(n) + rng.uniform(-0.3, 0.3, n)) / n % 1.0
    compositions = rng.permutation(np.resize(np.arange(len(COMPOSITIONS)), n))
    return [
        _sample_artist(artist_id, float(hue), COMPOSITIONS[int(comp)], rng)
        for artist_id, hue, comp in zip(make_ids("a", n, 2), hues, compositions, strict=True)
    ]


def _sample_artist(
    artist_id: str, hue: float, composition: str, rng: np.random.Generator
) -> ArtistStyle:
    scheme = list(PALETTE_SCHEMES)[int(rng.integers(len(PALETTE_SCHEMES)))]
    media_weights = rng.dirichlet(np.full(len(MEDIA), 0.3))
    media_weights[int(rng.integers(len(MEDIA)))] += 1.5  # a main medium
    first = int(rng.integers(FIRST_YEAR, LAST_YEAR - 10))
    last = min(LAST_YEAR, first + int(rng.integers(10, 45)))
    return ArtistStyle(
        artist_id=artist_id,
        hue=hue,
        palette=_palette(hue, PALETTE_SCHEMES[scheme], rng),
        composition=composition,
        angle=float(rng.uniform(0, np.pi)),
        detail=int(rng.integers(3, 9)),
        stroke_angle=float(rng.uniform(0, np.pi)),
        stroke_length=float(rng.uniform(0.01, 0.12)),
        texture=float(rng.uniform(0.03, 0.2)),
        wobble=float(rng.uniform(0.0, 0.05)),
        media_weights=media_weights / media_weights.sum(),
        first_year=first,
        last_year=last,
    )


def _palette(hue: float, offsets: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """Four to five colours around ``hue``: the scheme's hues at varied saturation/value."""
    saturation = rng.uniform(0.35, 0.95)
    value = rng.uniform(0.45, 0.95)
    colours = []
    for k, offset in enumerate((*offsets, offsets[0])):
        s = float(np.clip(saturation + rng.uniform(-0.15, 0.15), 0.1, 1.0))
        v = float(np.clip(value * (1.0 - 0.18 * k) + rng.uniform(-0.1, 0.1), 0.08, 1.0))
        colours.append(colorsys.hsv_to_rgb((hue + offset) % 1.0, s, v))
    return np.asarray(colours[: 4 + int(rng.integers(2))], dtype=np.float32)


@dataclass(frozen=True)
class Catalogue:
    """The items, as hidden factors: row k is item k (in upload order)."""

    artist: np.ndarray  # int index into the artist list
    medium: np.ndarray  # int index into MEDIA
    year: np.ndarray  # int


def sample_catalogue(
    artists: list[ArtistStyle], n_items: int, rng: np.random.Generator
) -> Catalogue:
    """Give each artist a share of the items (some are prolific), a medium and a year."""
    prolific = rng.lognormal(0.0, 0.5, len(artists))
    artist = rng.choice(len(artists), size=n_items, p=prolific / prolific.sum())
    medium = np.empty(n_items, dtype=np.int64)
    year = np.empty(n_items, dtype=np.int64)
    for a, style in enumerate(artists):
        rows = np.flatnonzero(artist == a)
        medium[rows] = rng.choice(len(MEDIA), size=rows.size, p=style.media_weights)
        year[rows] = rng.integers(style.first_year, style.last_year + 1, size=rows.size)
    return Catalogue(artist=artist, medium=medium, year=year)
