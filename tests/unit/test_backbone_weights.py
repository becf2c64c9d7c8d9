"""Weight resolution: local files with a key report, the hub cache offline, and clear failures."""

from __future__ import annotations

import logging
import time

import huggingface_hub.constants
import pytest
import safetensors.torch
import timm
import torch

from artrec.errors import ConfigError
from artrec.models.backbone import BackboneSpec, build_backbone
from artrec.models.weights import read_state_dict

SIZE = 32


def reference(num_classes: int = 0, seed: int = 1) -> torch.nn.Module:
    """A test_resnet with its own random weights, the origin of the files below."""
    torch.manual_seed(seed)
    return timm.create_model("test_resnet", num_classes=num_classes).eval()


def features(model: torch.nn.Module) -> torch.Tensor:
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return model(x)


def save(state: dict, path) -> None:
    if path.suffix == ".safetensors":
        safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save(state, path)


@pytest.fixture
def offline_hub(monkeypatch, tmp_path):
    """HF hub offline (fails fast, never touches the network) with an empty private cache."""
    cache = tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_file_round_trip_wins_over_pretrained(tmp_path, suffix):
    model = reference()
    path = tmp_path / f"weights{suffix}"
    save(model.state_dict(), path)
    spec = BackboneSpec("test_resnet", pretrained=True, weights=str(path), input_size=SIZE)
    backbone = build_backbone(spec)
    assert backbone.weights_source == f"file:{path.resolve()}"
    report = backbone.load_report
    assert report.complete and report.loaded == len(model.state_dict())
    torch.testing.assert_close(features(backbone), features(model), rtol=0, atol=0)
    assert backbone.meta()["load_report"]["loaded"] == report.loaded


def test_report_lists_missing_unexpected_and_ignored_head_keys(tmp_path, caplog):
    state = reference(num_classes=1000).state_dict()
    del state["conv1.1.running_mean"]
    state["extra.weight"] = torch.ones(3)
    path = tmp_path / "partial.pth"
    torch.save(state, path)
    with caplog.at_level(logging.WARNING, logger="artrec.models.weights"):
        backbone = build_backbone(BackboneSpec("test_resnet", False, weights=str(path)))
    report = backbone.load_report
    assert report.missing == ("conv1.1.running_mean",)
    assert report.unexpected == ("extra.weight",)
    assert sorted(report.ignored_head) == ["fc.bias", "fc.weight"]
    assert report.loaded == len(state) - 3  # all but the extra key and the two head keys
    text = str(report)
    assert all(k in text for k in ("conv1.1.running_mean", "extra.weight", "fc.weight"))
    assert "extra.weight" in caplog.text


def test_head_keys_load_when_the_model_has_that_classifier(tmp_path):
    model = reference(num_classes=1000)
    path = tmp_path / "full.safetensors"
    save(model.state_dict(), path)
    backbone = build_backbone(BackboneSpec("test_resnet", False, weights=str(path)), 1000)
    assert backbone.load_report.complete and not backbone.load_report.ignored_head
    torch.testing.assert_close(features(backbone.model), features(model), rtol=0, atol=0)


def test_wrapped_state_dict_with_dataparallel_prefix(tmp_path):
    model = reference()
    path = tmp_path / "wrapped.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    backbone = build_backbone(BackboneSpec("test_resnet", False, weights=str(path)))
    assert backbone.load_report.complete
    torch.testing.assert_close(features(backbone), features(model), rtol=0, atol=0)


def test_file_for_another_architecture_is_refused(tmp_path):
    torch.save(timm.create_model("test_vit").state_dict(), tmp_path / "other.pth")
    with pytest.raises(ConfigError, match=r"none of its .* keys"):
        build_backbone(BackboneSpec("test_resnet", False, weights=str(tmp_path / "other.pth")))
    torch.save(timm.create_model("resnet18").state_dict(), tmp_path / "wider.pth")
    with pytest.raises(ConfigError, match=r"have other shapes.*bn1.weight \(64,\) vs \(32,\)"):
        build_backbone(BackboneSpec("test_resnet", False, weights=str(tmp_path / "wider.pth")))


class Payload:
    """Arbitrary pickled object: weights_only loading must refuse it."""


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        ("absent.pth", None, "no such file"),
        ("weights.npz", b"x", "unsupported file type"),
        ("pickle.pth", Payload(), "cannot be read as a plain state dict"),
        ("numbers.pth", {"a": 1}, "not a mapping of names to tensors"),
        ("broken.safetensors", b"not safetensors", "cannot be read"),
    ],
)
def test_unreadable_weights_files(tmp_path, filename, content, message):
    path = tmp_path / filename
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(ConfigError, match=message):
        read_state_dict(path)


def test_pretrained_without_cache_fails_fast_saying_how_to_provide_weights(offline_hub):
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        build_backbone(BackboneSpec("test_resnet.r160_in1k", pretrained=True))
    assert time.perf_counter() - start < 20
    message = str(err.value)
    for hint in ("backbone.weights=PATH", "pretrained=false", str(offline_hub), "HF_HUB_OFFLINE"):
        assert hint in message
    assert "huggingface.co/timm/test_resnet.r160_in1k" in message


def test_pretrained_loads_offline_from_a_filled_cache(offline_hub):
    model = reference()
    snapshot = offline_hub / "models--timm--test_resnet.r160_in1k" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    save(model.state_dict(), snapshot / "model.safetensors")
    backbone = build_backbone(BackboneSpec("test_resnet", pretrained=True, input_size=SIZE))
    assert backbone.weights_source == "timm-hub:test_resnet.r160_in1k"
    torch.testing.assert_close(features(backbone), features(model), rtol=0, atol=0)


def test_pretrained_on_a_model_without_weights_is_refused(offline_hub):
    with pytest.raises(ConfigError, match=r"no pretrained weights.*pretrained=false"):
        build_backbone(BackboneSpec("test_mambaout", pretrained=True))
