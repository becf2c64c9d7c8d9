"""Training-time augmentation (conf/augment/): none = the eval transform, light keeps the
palette and most of the picture, imagenet is timm's; train.py composes with each; and the
demo's frozen extractors see the same input size as its fine-tuning."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from PIL import Image

from artrec.errors import ConfigError
from artrec.models.augment import AUGMENTATIONS, build_augmentation
from artrec.models.backbone import BackboneSpec, build_backbone
from artrec.models.config import AugmentConfig
from artrec.tasks import demo

CONF = Path(__file__).resolve().parents[2] / "conf"
SIZE = 64
SAMPLES = 40


@pytest.fixture(scope="module")
def backbone():
    return build_backbone(BackboneSpec("efficientnet_lite0", pretrained=False, input_size=SIZE))


def _augment(name: str, **changes) -> AugmentConfig:
    """conf/augment/<name>.yaml on AugmentConfig's defaults, as a run gets it."""
    node = OmegaConf.merge(AugmentConfig, OmegaConf.load(CONF / "augment" / f"{name}.yaml"))
    return dataclasses.replace(OmegaConf.to_object(node), **changes)


def _pixels(tensor: torch.Tensor, data_config: dict) -> torch.Tensor:
    """Undo the normalisation: values on the 0-255 scale, ``[3, H, W]``."""
    mean = torch.tensor(data_config["mean"])[:, None, None]
    std = torch.tensor(data_config["std"])[:, None, None]
    return (tensor * std + mean) * 255


def _seed(seed: int) -> None:
    random.seed(seed)  # timm's RandomResizedCrop
    torch.manual_seed(seed)  # torchvision's flip and colour jitter


def _kept_areas(name: str, data_config: dict) -> list[float]:
    """Fraction of a square picture's area in each of SAMPLES outputs: the picture encodes x
    in red and y in green, so the output's extreme values give the crop's box."""
    side = 240
    ramp = np.linspace(0, 255, side)
    picture = np.stack(
        [np.tile(ramp, (side, 1)), np.tile(ramp[:, None], (1, side)), np.zeros((side, side))], -1
    )
    image = Image.fromarray(picture.round().astype(np.uint8))
    transform = build_augmentation(_augment(name), data_config)
    _seed(0)
    areas = []
    for _ in range(SAMPLES):
        pixels = _pixels(transform(image), data_config)
        width = (pixels[0, :, -1].mean() - pixels[0, :, 0].mean()).abs() / 255
        height = (pixels[1, -1, :].mean() - pixels[1, 0, :].mean()).abs() / 255
        areas.append(float(width * height))
    return areas


def test_none_is_the_deterministic_eval_transform(backbone):
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (90, 120, 3), np.uint8))
    transform = build_augmentation(_augment("none"), backbone.data_config)
    first, second = transform(photo), transform(photo)
    assert torch.equal(first, second)
    assert torch.equal(first, backbone.transform(training=False)(photo))
    assert first.shape == (3, SIZE, SIZE)


@pytest.mark.parametrize("name, changes", [("light", False), ("imagenet", True)])
def test_light_keeps_every_colour_exactly_and_imagenet_does_not(backbone, name, changes):
    rgb = torch.tensor([200.0, 30.0, 120.0])
    photo = Image.new("RGB", (100, 80), tuple(int(v) for v in rgb))
    transform = build_augmentation(_augment(name), backbone.data_config)
    _seed(0)
    errors = [
        (_pixels(transform(photo), backbone.data_config) - rgb[:, None, None]).abs().max()
        for _ in range(10)
    ]
    assert bool(max(errors) > 5) is changes  # ColorJitter 0.4 moves a channel by far more
    if not changes:
        assert max(errors) < 1e-3


def test_light_keeps_most_of_the_picture_and_imagenet_crops_small(backbone):
    light = _kept_areas("light", backbone.data_config)
    assert min(light) >= 0.68  # scale 0.7-1; a pixel of slack at the crop's edges
    assert max(light) > 0.9 and len({round(a, 2) for a in light}) > 5  # it does crop, randomly
    imagenet = _kept_areas("imagenet", backbone.data_config)
    assert min(imagenet) < 0.3  # scale 0.08-1


def test_imagenet_is_timms_training_transform(backbone):
    ours = build_augmentation(_augment("imagenet"), backbone.data_config)
    timms = timm.data.create_transform(**backbone.data_config, is_training=True)
    assert repr(ours) == repr(timms)
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (90, 120, 3), np.uint8))
    _seed(3)
    first = ours(photo)
    _seed(3)
    assert torch.equal(first, timms(photo))


def test_unknown_names_and_options_are_config_errors():
    with pytest.raises(ConfigError, match=r"augment.name='strong' is unknown.*none"):
        build_augmentation(AugmentConfig(name="strong"), {})
    with (
        initialize_config_dir(config_dir=str(CONF), version_base="1.3"),
        pytest.raises(ConfigCompositionException, match=r"augment\.scal"),
    ):
        compose(config_name="train", overrides=["augment.scal=[0.5,1]"])
    with pytest.raises(ConfigError, match=r"augment\.scale"):
        build_augmentation(_augment("light", scale=[0.0, 1.0]), {})


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_train_composes_with_each_augment(name):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        default = compose(config_name="train")
        cfg = compose(config_name="train", overrides=[f"augment={name}"])
    assert default.augment.name == "light"
    assert OmegaConf.to_object(cfg.augment) == _augment(name)
    assert cfg.augment.name == name and cfg.tuning == "deep"


def test_the_demos_frozen_row_and_its_before_row_share_the_input_size():
    frozen = demo.SYSTEMS["efficientnet_lite0_imagenet"]
    extract = demo._config("extract", [*frozen, "output_dir=x"])["backbone"]
    train = demo._config("train", ["output_dir=x"])["backbone"]
    assert extract["input_size"] == train["input_size"] == 112
    assert extract == train  # the same network and weights: one frozen baseline
