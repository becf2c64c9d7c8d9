"""timm's evaluation transform (``Resize -> CenterCrop -> ToTensor -> Normalize``) on cached
images a batch at a time, without PIL, giving the very tensors of the per-image path.

Each cached ``[H, W, 3]`` uint8 image becomes a ``[3, H, W]`` view; the transform's own
``Resize`` (a no-op on the cached size: torchvision returns the input unchanged) and
``CenterCrop`` (a slice, zero-padded when the image is smaller) run on it; the crops are
stacked, then converted as ``F.to_tensor`` converts one image (``float``, ``div(255)``) and
normalised by the transform's own ``Normalize`` (``sub_(mean).div_(std)``), which broadcasts
over the batch: the same elementwise operations in the same order, hence equal bits
(tests/unit/test_batched_eval.py). Any other transform (training augmentation, colour
histograms) is not recognised and keeps the per-image path.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torchvision import transforms as T
from torchvision.transforms import functional as F

# timm's MaybeToTensor converts an image as ToTensor does (named: artrec.data imports no timm)
TO_TENSOR = ("torchvision.transforms.transforms.ToTensor", "timm.data.transforms.MaybeToTensor")


def _name(step: object) -> str:
    return f"{type(step).__module__}.{type(step).__qualname__}"


class BatchedEval:
    """The steps of a recognised evaluation transform, applied to cached pixels."""

    def __init__(self, resize: T.Resize, crop: T.CenterCrop, normalize: T.Normalize) -> None:
        self.resize, self.center_crop, self.normalize = resize, crop, normalize

    @classmethod
    def of(cls, transform: Callable) -> BatchedEval | None:
        """The batched form of ``transform``, or None unless it is exactly timm's evaluation
        transform: a ``Compose`` of ``Resize``, ``CenterCrop``, ``ToTensor``, ``Normalize``."""
        steps = transform.transforms if type(transform) is T.Compose else []
        kinds = [type(step) for step in steps]
        if len(steps) != 4 or _name(steps[2]) not in TO_TENSOR:
            return None
        if [kinds[0], kinds[1], kinds[3]] != [T.Resize, T.CenterCrop, T.Normalize]:
            return None
        return cls(steps[0], steps[1], steps[3])

    def crop(self, pixels: np.ndarray) -> torch.Tensor | None:
        """A cached ``[H, W, 3]`` image resized and centre-cropped, ``[3, h, w]`` uint8; None
        when the resize would change it (``max_size``): that image takes the PIL path."""
        image = torch.from_numpy(pixels).permute(2, 0, 1)
        if self.resize(image).shape != image.shape:
            return None
        return self.center_crop(image)

    def to_tensors(self, crops: list[torch.Tensor]) -> torch.Tensor:
        """``[B, 3, h, w]`` float: ``ToTensor`` then ``Normalize`` on the stacked crops, in
        place (one float allocation a batch, not three: fresh memory costs page faults)."""
        batch = torch.stack(crops).to(dtype=torch.get_default_dtype()).div_(255)
        return F.normalize(batch, self.normalize.mean, self.normalize.std, inplace=True)
