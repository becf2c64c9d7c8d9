"""W&B run settings without starting a run: API-key detection and the offline fallback, run
names, tags, the summary values and the comparison table made from metrics.json."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from artrec.data.config import DatasetConfig
from artrec.errors import ConfigError
from artrec.models.config import BackboneSpec, TaskConfig, Tuning
from artrec.reporting.config import LoggerConfig
from artrec.reporting.wandb_run import comparison_rows, has_api_key, resolve_mode, summary_values
from artrec.tasks.configs import ExtractConfig, TrainConfig
from artrec.tasks.loggers import run_identity

RESNET = BackboneSpec(name="resnet50.tv_in1k", preset="resnet50", preset_model="resnet50.tv_in1k")
DEMO = DatasetConfig(name="demo", root=None)


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    """No W&B key, mode or server in the environment; NETRC names a file not yet written."""
    for name in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    return tmp_path / "netrc"


def test_api_key_from_environment_or_netrc_entry_for_the_wandb_host(no_key, monkeypatch):
    assert not has_api_key()
    no_key.write_text("machine example.org login user password secret\n")
    assert not has_api_key()
    no_key.write_text("machine api.wandb.ai login user password 0123456789\n")
    assert has_api_key()
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")  # a private server
    assert not has_api_key()
    no_key.write_text("machine wandb.example.org login user password 0123456789\n")
    assert has_api_key()
    no_key.write_text("machine\n")  # malformed: treated as no key, not an error
    assert not has_api_key()
    monkeypatch.setenv("WANDB_IDENTITY_TOKEN_FILE", "token.jwt")
    assert has_api_key()
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE")
    monkeypatch.setenv("WANDB_API_KEY", "0123456789")
    assert has_api_key()


def test_mode_offline_without_a_key_said_once(no_key, monkeypatch, caplog):
    out = Path("outputs/train/run")
    with caplog.at_level(logging.WARNING, logger="artrec"):
        assert resolve_mode(None, out) == "offline"
    (record,) = caplog.records
    assert f"wandb sync {out}/wandb/offline-run-*" in record.getMessage()
    assert resolve_mode("disabled", out) == "disabled"  # logger.mode wins
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_mode(None, out) is None  # wandb reads WANDB_MODE itself
    monkeypatch.setenv("WANDB_MODE", "online")  # wandb would prompt for a key: refused
    with pytest.raises(ConfigError, match="wandb login"):
        resolve_mode(None, out)
    with pytest.raises(ConfigError, match="WANDB_MODE=offline"):
        resolve_mode("online", out)
    monkeypatch.setenv("WANDB_API_KEY", "0123456789")
    assert resolve_mode(None, out) is None
    monkeypatch.delenv("WANDB_MODE")
    assert resolve_mode(None, out) == "online"
    assert len(caplog.records) == 1


def test_run_name_falls_back_to_the_run_directory():
    judged = ExtractConfig(dataset=DEMO, backbone=RESNET, run_name="backbone=vgg19")
    assert run_identity(judged, Path("/o/2")).name == "backbone=vgg19"
    assert run_identity(replace(judged, run_name=None), Path("/o/sweep/3")).name == "3"


def test_backbone_label_is_the_preset_unless_the_timm_name_was_replaced():
    assert RESNET.label == "resnet50"
    assert replace(RESNET, name="resnet50.a1_in1k").label == "resnet50.a1_in1k"
    assert BackboneSpec(name="color_histogram", preset="color_histogram").label == (
        "color_histogram"
    )
    assert BackboneSpec(name="convnext_tiny").label == "convnext_tiny"


def test_tags_for_train_extract_and_a_checkpoint():
    train = TrainConfig(
        dataset=DatasetConfig(name="ugallery", root="/data"),
        backbone=RESNET,
        tuning=Tuning.shallow,
        tasks={
            "artist": TaskConfig("classification"),
            "medium": None,
            "type": TaskConfig("classification"),
        },
        logger=LoggerConfig(tags=["paper", "x" * 70]),
        run_name="r",
        group="g",
    )
    identity = run_identity(train, Path("/o/r"))
    assert (identity.name, identity.group) == ("r", "g")
    assert identity.tags == [
        "backbone:resnet50",
        "tuning:shallow",
        "task:artist",
        "task:type",
        "dataset:ugallery",
        "paper",
        "x" * 64,
    ]
    extract = ExtractConfig(dataset=DEMO, backbone=RESNET)
    assert run_identity(extract, Path("/o/e")).tags == [
        "backbone:resnet50",
        "tuning:frozen",
        "dataset:demo",
    ]
    checkpoint = replace(extract, ckpt="best.ckpt")
    assert run_identity(checkpoint, Path("/o/e")).tags == ["tuning:checkpoint", "dataset:demo"]


FINAL = {
    "n_test_cases": 27,
    "n_users": 3,
    "n_skipped": 1,
    "metrics": {"recall@20": 0.5, "auc": 0.75},
    "metrics_by_user": {"recall@20": 0.4, "auc": None},
    "random": {"recall@20": 0.25, "auc": 0.5},
}
START = {**FINAL, "metrics": {"recall@20": 0.125, "auc": 0.625}}


def test_summary_values_from_metrics_json():
    assert summary_values(FINAL, None) == {
        "rec/recall@20": 0.5,
        "rec/auc": 0.75,
        "rec_by_user/recall@20": 0.4,  # the undefined auc average is left out
        "rec_random/recall@20": 0.25,
        "rec_random/auc": 0.5,
        "protocol/n_test_cases": 27,
        "protocol/n_users": 3,
        "protocol/n_skipped": 1,
    }
    with_start = summary_values(FINAL, START)
    assert (with_start["rec_start/recall@20"], with_start["rec_start/auc"]) == (0.125, 0.625)


def test_comparison_rows_train_and_extract():
    assert comparison_rows(FINAL, START) == (
        ["metric", "before", "after", "random"],
        [["recall@20", 0.125, 0.5, 0.25], ["auc", 0.625, 0.75, 0.5]],
    )
    assert comparison_rows(FINAL, None) == (
        ["metric", "value", "random"],
        [["recall@20", 0.5, 0.25], ["auc", 0.75, 0.5]],
    )


def test_split_runs_log_both_periods():
    val = {
        "n_test_cases": 9,
        "n_users": 2,
        "metrics": {"recall@20": 0.0625},
        "metrics_by_user": {"recall@20": 0.125},
        "random": {"recall@20": 0.03125},
    }
    final = {**FINAL, "metrics": {"recall@20": 0.5}, "val": val, "split": {"val_start": "1"}}
    final = {**final, "metrics_by_user": {"recall@20": 0.4}, "random": {"recall@20": 0.25}}
    values = summary_values(final, None)
    assert {key: values[key] for key in values if "recall" in key} == {
        "rec/val/recall@20": 0.0625,
        "rec/test/recall@20": 0.5,
        "rec_by_user/val/recall@20": 0.125,
        "rec_by_user/test/recall@20": 0.4,
        "rec_random/val/recall@20": 0.03125,
        "rec_random/test/recall@20": 0.25,
    }
    assert comparison_rows(final, None)[1] == [
        ["val/recall@20", 0.0625, 0.03125],
        ["test/recall@20", 0.5, 0.25],
    ]
