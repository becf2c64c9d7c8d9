"""ArtRecModule: tuning modes, logged losses and metrics, checkpoints (tiny backbone, CPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
import yaml
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, TensorDataset

from artrec.errors import ConfigError
from artrec.models.config import Tuning
from artrec.models.module import ArtRecModule
from artrec.models.tasks import TaskSpec, total_loss
from artrec.models.tuning import TUNING_MODES, uses_feature_cache

TINY = yaml.safe_load((Path(__file__).resolve().parents[2] / "conf/backbone/tiny.yaml").read_text())
NAN = float("nan")
ARTIST = TaskSpec("artist", "artist", "classification", 1.0, ("a", "b", "c", "d", "e", "f"))
PERIOD = TaskSpec("period", "year", "regression", 0.5, mean=1900.0, std=50.0)
MEDIUM = TaskSpec("medium", "medium", "classification", 1.0, ("acrylic", "oil"))


def make(tuning: str = "deep", specs=(ARTIST, PERIOD), seed: int = 0, **kwargs) -> ArtRecModule:
    torch.manual_seed(seed)
    kwargs = {"shared_dim": 16, "lr": 1e-2, **kwargs}
    return ArtRecModule(TINY, [s.to_dict() for s in specs], tuning=tuning, **kwargs)


def batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """Random 64 px images; artist and period targets, each with missing rows."""
    g = torch.Generator().manual_seed(1)
    images = torch.randn(n, 3, 64, 64, generator=g)
    artist = torch.tensor([0, 1, NAN, 3, 4, 5, 0, NAN])[:n]
    period = torch.tensor([0.5, NAN, -1.0, 1.5, NAN, 0.0, -0.5, 2.0])[:n]
    return images, torch.stack([artist, period], dim=1)


def loader(n: int = 8, batch_size: int = 4) -> DataLoader:
    return DataLoader(TensorDataset(*batch(n)), batch_size=batch_size)


def trainer(tmp_path: Path | None = None, **kwargs) -> pl.Trainer:
    options = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "default_root_dir": tmp_path,
        **kwargs,
    }
    return pl.Trainer(**options)


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


def test_shallow_freezes_backbone_weights_and_batchnorm_statistics():
    module = make("shallow")
    assert not any(p.requires_grad for p in module.backbone.parameters())
    assert all(p.requires_grad for p in [*module.shared.parameters(), *module.heads.parameters()])
    backbone, shared, heads = (snapshot(m) for m in (module.backbone, module.shared, module.heads))
    assert any("running_mean" in k for k in backbone)
    # Two epochs of one step each, validation in between (Lightning toggles train/eval).
    trainer(max_epochs=2, limit_train_batches=1).fit(module, loader(), loader())
    module.train()
    assert module.training and not any(m.training for m in module.backbone.modules())
    assert changed(backbone, snapshot(module.backbone)) == set()
    assert changed(shared, snapshot(module.shared)) == set(shared)
    assert changed(heads, snapshot(module.heads)) == set(heads)


def test_deep_trains_backbone_weights_and_batchnorm_statistics():
    module = make("deep")
    assert all(m.training for m in module.modules())
    backbone = snapshot(module.backbone)
    trainer(max_steps=1).fit(module, loader())
    moved = changed(backbone, snapshot(module.backbone))
    assert any(k.endswith("running_mean") for k in moved)
    assert any(k.endswith("conv_stem.weight") for k in moved)


def test_optimizer_holds_only_what_the_mode_trains():
    for mode, trained in [
        ("shallow", ("shared", "heads")),
        ("deep", ("backbone", "shared", "heads")),
    ]:
        module = make(mode, lr=3e-3, weight_decay=1e-5)
        optimizer = module.configure_optimizers()
        params = {id(p) for group in optimizer.param_groups for p in group["params"]}
        expected = {id(p) for name in trained for p in getattr(module, name).parameters()}
        assert params == expected
        assert (optimizer.defaults["lr"], optimizer.defaults["weight_decay"]) == (3e-3, 1e-5)


def test_tuning_registry():
    assert sorted(TUNING_MODES) == ["deep", "frozen", "shallow"]
    assert all(TUNING_MODES[mode].name is mode for mode in Tuning)  # the config's names
    assert [uses_feature_cache(m) for m in ("frozen", "shallow", "deep")] == [False, True, False]
    with pytest.raises(ConfigError, match=r"extract\.py"):
        make("frozen")
    with pytest.raises(ConfigError, match="'deep', 'frozen', 'shallow'"):
        make("partial")


def test_forward_on_cached_features_equals_forward_on_images():
    module = make("shallow").eval()
    images, _ = batch(4)
    with torch.no_grad():
        features = module.backbone_features(images)
        embedding = module(images)
        assert features.shape == (4, module.feature_dim) == (4, 256)
        torch.testing.assert_close(module(features), embedding, rtol=0, atol=0)
        assert embedding.shape == (4, module.shared_dim) == (4, 16)
        torch.testing.assert_close(module(features.half()), embedding, rtol=1e-2, atol=1e-2)
    with pytest.raises(ConfigError, match="another backbone"):
        module(torch.zeros(2, 128))


def test_validation_logs_losses_and_metrics_of_the_epoch():
    module = make("deep").eval()
    images, targets = batch()
    with torch.no_grad():
        outputs = module.heads(module(images))
        total, losses = total_loss(module.specs, outputs, targets)
    (logged,) = trainer().validate(module, DataLoader(TensorDataset(images, targets), batch_size=8))
    assert logged["val/loss"] == pytest.approx(total.item(), rel=1e-5)
    assert logged["val/artist/loss"] == pytest.approx(losses["artist"].item(), rel=1e-5)
    assert logged["val/period/loss"] == pytest.approx(losses["period"].item(), rel=1e-5)
    labelled = ~targets[:, 0].isnan()
    hits = outputs["artist"][labelled].argmax(1) == targets[labelled, 0].long()
    assert logged["val/artist/acc"] == pytest.approx(hits.float().mean().item())
    top5 = outputs["artist"][labelled].topk(5).indices == targets[labelled, 0].long()[:, None]
    assert logged["val/artist/top5"] == pytest.approx(top5.any(1).float().mean().item())
    known = ~targets[:, 1].isnan()
    years_err = (outputs["period"][known, 0] - targets[known, 1]).abs() * 50.0
    assert logged["val/period/mae"] == pytest.approx(years_err.mean().item(), rel=1e-5)


def test_hparams_are_plain_data_even_from_omegaconf():
    module = ArtRecModule(
        OmegaConf.create(TINY), OmegaConf.create([ARTIST.to_dict()]), shared_dim=8
    )
    assert type(module.hparams.backbone) is dict and type(module.hparams.tasks) is list
    assert type(module.hparams.tasks[0]["classes"]) is list
    assert "load_pretrained" not in module.hparams


LOAD_AND_EMBED = """
import sys, torch
from artrec.models.module import ArtRecModule
module = ArtRecModule.load_from_checkpoint(sys.argv[1], map_location="cpu").eval()
with torch.no_grad():
    embedding = module(torch.load(sys.argv[2]))
    outputs = module.heads(embedding)
torch.save({"embedding": embedding, **outputs, "tuning": module.hparams.tuning}, sys.argv[3])
"""


def test_checkpoint_loads_in_a_fresh_process_with_identical_outputs(tmp_path):
    module = make("deep")
    fit = trainer(tmp_path, max_steps=1)
    fit.fit(module, loader())
    fit.save_checkpoint(tmp_path / "model.ckpt")
    images, _ = batch(4)
    torch.save(images, tmp_path / "images.pt")
    module.eval()
    with torch.no_grad():
        embedding = module(images)
        outputs = module.heads(embedding)
    argv = [tmp_path / "model.ckpt", tmp_path / "images.pt", tmp_path / "out.pt"]
    subprocess.run([sys.executable, "-c", LOAD_AND_EMBED, *map(str, argv)], check=True)
    loaded = torch.load(tmp_path / "out.pt")
    assert loaded["tuning"] == "deep"
    torch.testing.assert_close(loaded["embedding"], embedding, rtol=0, atol=1e-6)
    torch.testing.assert_close(loaded["artist"], outputs["artist"], rtol=0, atol=1e-6)
    torch.testing.assert_close(loaded["period"], outputs["period"], rtol=0, atol=1e-6)


def test_init_from_checkpoint_copies_backbone_and_shared_but_not_heads(tmp_path):
    source = make("deep", seed=0)
    fit = trainer(tmp_path, max_steps=1)
    fit.fit(source, loader())
    fit.save_checkpoint(tmp_path / "omniart.ckpt")
    target = make("shallow", specs=(MEDIUM,), seed=1)
    heads = snapshot(target.heads)
    report = target.init_from_checkpoint(tmp_path / "omniart.ckpt")
    for name in ("backbone", "shared"):
        assert changed(snapshot(getattr(source, name)), snapshot(getattr(target, name))) == set()
    assert changed(heads, snapshot(target.heads)) == set()
    assert set(report["loaded"]) == {
        k for k in source.state_dict() if k.startswith(("backbone.", "shared."))
    }
    assert {"heads.task_artist.weight", "heads.task_period.bias"} <= set(report["skipped"])
    assert not any(p.requires_grad for p in target.backbone.parameters())


def test_init_from_checkpoint_refuses_what_does_not_fit(tmp_path):
    module = make("deep")
    trainer(tmp_path, max_steps=1).fit(module, loader())
    module.trainer.save_checkpoint(tmp_path / "a.ckpt")
    with pytest.raises(ConfigError, match=r"shared\.linear\.weight \(16, 256\) vs \(8, 256\)"):
        make("deep", shared_dim=8).init_from_checkpoint(tmp_path / "a.ckpt")
    with pytest.raises(ConfigError, match="no such file"):
        module.init_from_checkpoint(tmp_path / "missing.ckpt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.ckpt")
    with pytest.raises(ConfigError, match="no state_dict"):
        module.init_from_checkpoint(tmp_path / "other.ckpt")
