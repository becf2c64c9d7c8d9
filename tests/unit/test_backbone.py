"""Backbone specs, presets, features, data configs and transforms (CPU, random weights)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from PIL import Image

from artrec.errors import ConfigError
from artrec.models.backbone import BackboneSpec, build_backbone

CONF = Path(__file__).resolve().parents[2] / "conf" / "backbone"

# preset -> (timm name, ImageNet top-1, top-5); the first five are the paper's Table 1.
PRESETS = {
    "resnet50": ("resnet50.tv_in1k", 75.2, 92.2),
    "vgg19": ("vgg19.tv_in1k", 71.1, 89.8),
    "inception_v3": ("inception_v3.tf_in1k", 78.0, 93.9),
    "inception_resnet_v2": ("inception_resnet_v2.tf_in1k", 80.4, 95.3),
    "nasnetalarge": ("nasnetalarge.tf_in1k", 82.7, 96.2),
    "resnet18": ("resnet18.tv_in1k", 69.758, 89.078),
    "efficientnet_lite0": ("efficientnet_lite0", None, None),
    "tiny": ("test_efficientnet", None, None),
}


def preset(name: str, *overrides: str) -> BackboneSpec:
    """A preset composed by Hydra, as the entry scripts do, with ``key=value`` overrides."""
    with initialize_config_dir(config_dir=str(CONF.parent), version_base="1.3"):
        cfg = compose("extract", [f"backbone={name}", *(f"backbone.{o}" for o in overrides)])
    return OmegaConf.to_object(cfg.backbone)  # the presets' defaults: BackboneSpec's


def images(size: int, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_name_real_timm_models_with_their_metadata(name):
    spec = preset(name)
    model, top1, top5 = PRESETS[name]
    assert (spec.preset, spec.name, spec.imagenet_top1, spec.imagenet_top5) == (
        name,
        model,
        top1,
        top5,
    )
    assert timm.is_model(spec.name)
    if "." in spec.name:
        assert spec.name in timm.list_pretrained(spec.name)
    assert spec.pretrained is (name != "tiny")


def test_every_yaml_in_the_group_is_tested():
    assert {p.stem for p in CONF.glob("*.yaml")} == {*PRESETS, "color_histogram"}


def test_overriding_the_name_drops_the_presets_metadata():
    spec = preset("resnet50", "name=convnext_tiny")
    assert (spec.name, spec.preset, spec.imagenet_top1, spec.imagenet_top5) == (
        "convnext_tiny",
        None,
        None,
        None,
    )
    kept = preset("resnet50", "weights=/tmp/w.pth", "input_size=128")
    assert (kept.preset, kept.imagenet_top1, kept.weights, kept.input_size) == (
        "resnet50",
        75.2,
        "/tmp/w.pth",
        128,
    )


def test_from_config_rejects_unknown_keys():
    with pytest.raises(ConfigError, match="pretrianed"):
        BackboneSpec.from_config({"name": "resnet18", "pretrianed": False})
    with pytest.raises(ConfigError, match="bins"):
        BackboneSpec.from_config({"name": "resnet18", "bins": 8})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("feature", "fc7"),
        ("input_size", 0),
        ("input_size", True),
        ("pretrained", "yes"),
        ("imagenet_top1", 150.0),
        ("name", ""),
    ],
)
def test_spec_rejects_invalid_values(key, value):
    with pytest.raises(ConfigError, match=f"backbone.{key}="):
        BackboneSpec(**{"name": "resnet18", "pretrained": False, key: value})


def test_unknown_name_suggests_the_closest_timm_names():
    with pytest.raises(ConfigError, match="not a timm model") as err:
        build_backbone(BackboneSpec("resnet5O", pretrained=False))
    assert "'resnet50'" in str(err.value)
    with pytest.raises(ConfigError, match="no weights tagged") as err:
        build_backbone(BackboneSpec("resnet50.tv_in1kk", pretrained=False))
    assert "'resnet50.tv_in1k'" in str(err.value)


def test_color_histogram_is_left_to_extraction():
    spec = BackboneSpec.from_config(OmegaConf.load(CONF / "color_histogram.yaml"))
    assert spec.name == "color_histogram"
    with pytest.raises(ConfigError, match=r"non-neural.*color_histogram"):
        build_backbone(spec)


def test_pooled_resnet18_features_are_the_global_average_of_the_last_conv_map():
    backbone = build_backbone(preset("resnet18", "pretrained=false", "input_size=64"))
    x = images(64)
    with torch.no_grad():
        out = backbone(x)
        last_map = backbone.model.forward_features(x)
    assert backbone.feature_dim == 512 and out.shape == (2, 512)
    torch.testing.assert_close(out, last_map.mean(dim=(2, 3)))
    assert not backbone.training and backbone.weights_source == "random-init"


def test_pre_logits_and_pooled_differ_on_a_model_with_a_hidden_head():
    """test_mambaout (NHWC features, 64-d) has a 256-d hidden pre-logits layer, like VGG."""
    torch.manual_seed(0)
    pooled = build_backbone(BackboneSpec("test_mambaout", pretrained=False, input_size=64))
    pre = build_backbone(BackboneSpec("test_mambaout", False, feature="pre_logits", input_size=64))
    pre.model.load_state_dict(pooled.model.state_dict())
    x = images(64)
    with torch.no_grad():
        last_map = pooled.model.forward_features(x)
        assert last_map.shape[-1] == 64  # channels last
        torch.testing.assert_close(pooled(x), last_map.mean(dim=(1, 2)))
        head = pre.model.head
        by_hand = head.pre_logits(head.norm(last_map.mean(dim=(1, 2))))
        torch.testing.assert_close(pre(x), by_hand)
        torch.testing.assert_close(pre(x), pre.model(x))  # timm's num_classes=0 output
    assert (pooled.feature_dim, pre.feature_dim) == (64, 256)


def test_pre_logits_without_a_hidden_layer_is_an_error():
    with pytest.raises(ConfigError, match=r"no hidden pre-logits layer.*feature=pooled"):
        build_backbone(BackboneSpec("test_resnet", pretrained=False, feature="pre_logits"))


def test_data_config_is_timms_with_the_input_size_override():
    plain = build_backbone(preset("resnet18", "pretrained=false"))
    small = build_backbone(preset("resnet18", "pretrained=false", "input_size=64"))
    oracle = timm.data.resolve_data_config({}, model=timm.create_model("resnet18.tv_in1k"))
    assert plain.data_config == oracle
    assert plain.data_config["interpolation"] == "bilinear"
    assert plain.data_config["crop_pct"] == 0.875
    assert small.data_config == {**oracle, "input_size": (3, 64, 64)}


def test_fixed_size_models_are_built_for_the_override():
    backbone = build_backbone(BackboneSpec("test_vit", pretrained=False, input_size=64))
    assert backbone(images(64)).shape == (2, backbone.feature_dim)


def test_eval_transform_resizes_crops_and_normalises_with_timms_config():
    backbone = build_backbone(preset("tiny"))
    rgb = (200, 30, 120)
    photo = Image.fromarray(np.full((80, 100, 3), rgb, dtype=np.uint8))
    tensor = backbone.transform()(photo)
    assert tensor.shape == (3, 64, 64)
    mean, std = backbone.data_config["mean"], backbone.data_config["std"]
    for channel in range(3):
        want = (rgb[channel] / 255 - mean[channel]) / std[channel]
        torch.testing.assert_close(tensor[channel], torch.full((64, 64), want), atol=1e-5, rtol=0)
    assert backbone.transform(training=True)(photo).shape == (3, 64, 64)
    assert backbone(tensor[None]).shape == (1, 256)


def test_meta_is_json_ready_provenance():
    backbone = build_backbone(preset("tiny"))
    meta = json.loads(json.dumps(backbone.meta()))
    assert meta["name"] == "test_efficientnet" and meta["preset"] == "tiny"
    assert (meta["feature"], meta["feature_dim"], meta["input_size"]) == (
        "pooled",
        256,
        [3, 64, 64],
    )
    assert meta["weights_source"] == "random-init" and meta["load_report"] is None
    assert meta["timm_version"] == timm.__version__
    assert meta["preprocessing"]["mean"] == list(backbone.data_config["mean"])


@pytest.mark.slow
def test_vgg19_pre_logits_is_fc7_and_pooled_the_last_conv_map():
    pre = build_backbone(preset("vgg19", "pretrained=false"))
    pooled = build_backbone(preset("vgg19", "pretrained=false", "feature=pooled"))
    pooled.model.load_state_dict(pre.model.state_dict())
    x = images(224, batch=1)
    with torch.no_grad():
        last_map = pre.model.forward_features(x)
        mlp = pre.model.pre_logits
        fc7 = mlp.act2(mlp.fc2(mlp.act1(mlp.fc1(last_map)))).flatten(1)
        torch.testing.assert_close(pre(x), fc7)
        torch.testing.assert_close(pooled(x), last_map.mean(dim=(2, 3)))
    assert (pre.feature_dim, pooled.feature_dim) == (4096, 512)
