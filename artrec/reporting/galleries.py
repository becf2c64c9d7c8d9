"""Recommendation galleries: for a few sampled test cases, the user's profile images, then
the top-k recommended images (ranked exactly as the protocol ranks them) with the items
actually bought framed in green. One PIL image per test case, for reports and W&B."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from artrec.data.dataset import Dataset
from artrec.data.image_check import DECODE_ERRORS, to_rgb
from artrec.embeddings import EmbeddingTable
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.periods import reported_cases
from artrec.recsys.topk import CaseRecommendations, Recommender

THUMB = 80  # thumbnail side, pixels
PAD = 6
FRAME = 5  # the frame of a bought item
PER_ROW = 10  # recommended thumbnails per row
PROFILE_MAX = 10  # the most recent profile items shown
LABEL_HEIGHT = 14
BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
HIT = (20, 160, 60)  # bought
MISS = (205, 205, 205)
PLACEHOLDER = (225, 225, 225)
EPOCH_RANGE = (1e8, 5e9)  # numeric times in this range are read as Unix seconds (1973-2128)


def sample_cases(n_total: int, n_cases: int, seed: int) -> np.ndarray:
    """``n_cases`` distinct test cases out of ``n_total`` (all when fewer), ascending; the
    same for every system evaluated on the same test cases."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_total, size=min(n_cases, n_total), replace=False))


def render_galleries(
    dataset: Dataset,
    table: EmbeddingTable,
    protocol: ProtocolConfig,
    n_cases: int = 4,
    seed: int = 0,
) -> list[tuple[str, Image.Image]]:
    """(caption, image) for ``n_cases`` test cases sampled with ``seed`` (with
    ``protocol.split=time`` from the test period only, never the validation period the
    settings were chosen on): the profile, then the top ``protocol.k`` among the items in
    stock at that time, bought ones framed."""
    recommender = Recommender(dataset, table, protocol)
    shown = reported_cases(recommender.cases, protocol)
    chosen = shown[sample_cases(len(shown), n_cases, seed)]
    thumbs = _Thumbnails(dataset)
    return [
        (caption(dataset, case, protocol.k), gallery_image(case, thumbs, protocol.k))
        for case in recommender.top_k(chosen)
    ]


def caption(dataset: Dataset, case: CaseRecommendations, k: int) -> str:
    """What the image shows, in words: who, when, and where the bought items ranked."""
    ids = dataset.items["item_id"].to_numpy(dtype=str)
    bought = ", ".join(
        f"{ids[item]} (rank {rank})"
        for item, rank in zip(case.relevant, case.relevant_ranks, strict=True)
    )
    when = readable_time(case.time)
    when = f"on {when}" if when != case.time else f"at time {when}"
    return (
        f"user {case.user_id} {when}: {len(case.profile)} earlier purchase(s); "
        f"top {k} of {case.n_candidates} items in stock; bought {bought}"
    )


def readable_time(raw: str) -> str:
    """A purchase time as people read it: Unix seconds and ISO-8601 as a UTC date and time
    (``2014-10-13 10:35 UTC``); other numbers (a sequence, days) as written."""
    try:
        seconds = float(raw)
    except ValueError:
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return raw
        moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    else:
        if not EPOCH_RANGE[0] <= seconds <= EPOCH_RANGE[1]:
            return raw
        moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def gallery_image(case: CaseRecommendations, thumbs: _Thumbnails, k: int) -> Image.Image:
    """The latest profile items; the top k (``PER_ROW`` a row, with ranks, bought ones
    framed green); then any bought items ranked below the top k, with their ranks."""
    profile = case.profile[-PROFILE_MAX:]
    shown = len(profile) < len(case.profile)
    latest = f" (the last {len(profile)} of {len(case.profile)})" if shown else ""
    top = [
        (item, f"#{rank}", HIT if hit else MISS)
        for rank, (item, hit) in enumerate(zip(case.recommended, case.hits, strict=True), 1)
    ]
    below = case.relevant_ranks > len(case.recommended)
    missed = zip(case.relevant[below], case.relevant_ranks[below], strict=True)
    sections = [
        (f"profile: earlier purchases{latest}", [(item, "", None) for item in profile]),
        (f"top {k} recommended (green: bought)", top),
        (f"bought, ranked below the top {k}", [(item, f"#{rank}", HIT) for item, rank in missed]),
    ]
    return _compose([section for section in sections if section[1]], thumbs)


def _compose(sections: list[tuple[str, list]], thumbs: _Thumbnails) -> Image.Image:
    """Stack titled sections of (item, label, frame colour) cells, ``PER_ROW`` a row."""
    cell = THUMB + 2 * FRAME
    row_height = cell + LABEL_HEIGHT
    rows = [-(-len(cells) // PER_ROW) for _, cells in sections]
    width = PAD + PER_ROW * (cell + PAD)
    height = PAD + sum(LABEL_HEIGHT + n * row_height for n in rows)
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    y = PAD
    for (title, cells), n_rows in zip(sections, rows, strict=True):
        draw.text((PAD, y), title, fill=INK, font=font)
        y += LABEL_HEIGHT
        for index, (item, label, frame) in enumerate(cells):
            x = PAD + (index % PER_ROW) * (cell + PAD)
            top = y + (index // PER_ROW) * row_height
            _paste(image, thumbs.get(item), x, top, frame)
            draw.text((x + FRAME, top + cell), label, fill=HIT if frame == HIT else INK, font=font)
        y += n_rows * row_height
    return image


def _paste(image: Image.Image, thumb: Image.Image, x: int, y: int, frame) -> None:
    """A thumbnail at (x, y) inside a frame: bought, thick green; else thin grey; or none."""
    side = THUMB + 2 * FRAME
    if frame is not None:
        width = FRAME if frame == HIT else 1
        inset = FRAME - width
        box = (x + inset, y + inset, x + side - 1 - inset, y + side - 1 - inset)
        ImageDraw.Draw(image).rectangle(box, outline=frame, width=width)
    image.paste(thumb, (x + FRAME, y + FRAME))


class _Thumbnails:
    """Square thumbnails of items by row, read once; a grey tile naming the item where
    there is no readable image."""

    def __init__(self, dataset: Dataset) -> None:
        self.ids = dataset.items["item_id"].to_numpy(dtype=str)
        column = dataset.items["image"] if "image" in dataset.items.columns else None
        self.paths = column.tolist() if column is not None else [None] * len(self.ids)
        self.cache: dict[int, Image.Image] = {}

    def get(self, item: int) -> Image.Image:
        item = int(item)
        if item not in self.cache:
            self.cache[item] = self._read(item)
        return self.cache[item]

    def _read(self, item: int) -> Image.Image:
        path = self.paths[item]
        if path:
            try:
                with Image.open(Path(path)) as source:
                    return ImageOps.fit(to_rgb(source), (THUMB, THUMB))
            except DECODE_ERRORS:
                pass
        tile = Image.new("RGB", (THUMB, THUMB), PLACEHOLDER)
        ImageDraw.Draw(tile).text((4, THUMB // 2 - 6), self.ids[item][:12], fill=INK)
        return tile
