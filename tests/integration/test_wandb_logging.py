"""logger=wandb, offline and with no network: train.py and extract.py runs read back from their
W&B transaction logs (name, group, tags, config, rec/* summary, tables, galleries), and a
failed run followed by a good one in the same process giving two distinct, finished runs."""

from __future__ import annotations

import dataclasses
import json
import logging

import pandas as pd
import pytest
import wandb
import yaml
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from artrec.errors import ConfigError
from artrec.tasks import extract
from tests.fixtures import write_image_dataset
from tests.integration.cli import REPO, run_cli
from tests.integration.wandb_offline import OfflineRun, offline_runs

UNREACHABLE = "127.0.0.1:9"  # any attempt to reach W&B is refused at once and logged
TRAIN = (
    "dataset=folder",
    "debug=fast",
    "trainer.max_epochs=1",
    "logger=wandb",
    "logger.galleries=2",
    "group=table2",
    "run_name=tiny_deep_artist",
)
EXTRACT = ("dataset=folder", "backbone=tiny", "num_workers=0", "progress=false", "logger=wandb")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_image_dataset(tmp_path_factory.mktemp("ds"), n_items=30, size=32)


@pytest.fixture(autouse=True)
def wandb_env(monkeypatch, tmp_path):
    """Offline, W&B's own folders in tmp_path, an unreachable server, a known project."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_BASE_URL", f"http://{UNREACHABLE}")
    monkeypatch.setenv("WANDB_PROJECT", "artrec-test")
    monkeypatch.delenv("WANDB_ENTITY", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_IDENTITY_TOKEN_FILE", raising=False)
    for name in ("DATA", "CACHE", "CONFIG"):
        monkeypatch.setenv(f"WANDB_{name}_DIR", str(tmp_path / f"wandb_{name.lower()}"))


def resolved(config: str, *overrides: str):
    """The typed config the entry script hands its task (``output_dir`` given)."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return OmegaConf.to_object(compose(config, overrides=list(overrides)))


def read_json(path):
    return json.loads(path.read_text())


def assert_offline_only(run: OfflineRun) -> None:
    for log in (run.directory / "logs").glob("debug-*.log"):
        assert UNREACHABLE not in log.read_text(), f"{log} shows an attempt to reach W&B"


def assert_results_logged(run: OfflineRun, out) -> dict:
    """rec/* in the summary equal metrics.json's; per_case.csv is the per-case table."""
    final = read_json(out / "metrics.json")
    for name, value in final["metrics"].items():
        assert run.summary[f"rec/{name}"] == value, name
        assert run.summary[f"rec_random/{name}"] == final["random"][name], name
    assert run.summary["protocol/n_test_cases"] == final["n_test_cases"]
    expected = pd.read_csv(out / "per_case.csv", dtype={"user_id": str, "time": str})
    pd.testing.assert_frame_equal(run.table("tables/per_case"), expected, check_dtype=False)
    return final


def test_train_run_is_read_back_from_the_offline_files(root, tmp_path):
    out = tmp_path / "run"
    run_cli("train.py", *TRAIN, f"dataset.root={root}", f"hydra.run.dir={out}")
    (run,) = offline_runs(out)
    assert run.exit_code == 0
    assert (run.run.display_name, run.run.run_group) == ("tiny_deep_artist", "table2")
    assert (run.run.project, run.run.job_type) == ("artrec-test", "train")
    assert set(run.run.tags) == {"backbone:tiny", "tuning:deep", "task:artist", "dataset:folder"}
    # the whole resolved config (the run directory's config.yaml), the module's own
    # hyperparameters under "module"
    config = {key: value for key, value in run.config.items() if key not in ("_wandb", "module")}
    assert config == yaml.safe_load((out / "config.yaml").read_text())
    assert config["output_dir"] == str(out) and config["backbone"]["preset"] == "tiny"
    assert run.config["module"]["shared_dim"] == 16 and run.config["module"]["tuning"] == "deep"

    final = assert_results_logged(run, out)
    start = read_json(out / "start/metrics.json")
    assert {m: run.summary[f"rec_start/{m}"] for m in start["metrics"]} == start["metrics"]
    # the evaluation callback's own rec/* history row carries the same numbers
    (row,) = [row for row in run.history if "rec/recall@20" in row and "trainer/global_step" in row]
    assert row["rec/recall@20"] == final["metrics"]["recall@20"]
    comparison = run.table("tables/comparison").set_index("metric")
    assert comparison.columns.tolist() == ["before", "after", "random"]
    assert comparison["before"].to_dict() == start["metrics"]
    assert comparison["after"].to_dict() == final["metrics"]
    assert comparison["random"].to_dict() == final["random"]
    assert len(run.table("tables/per_case_start")) == start["n_test_cases"]
    for n in (1, 2):
        image = run.summary[f"galleries/{n}"]
        assert image["_type"] == "image-file"
        assert (run.directory / "files" / image["path"]).is_file()
    assert "galleries/3" not in run.summary
    assert_offline_only(run)


def test_a_failed_run_then_a_good_one_in_one_process(root, tmp_path, monkeypatch, caplog):
    """Two jobs of one sweep in one process, with no API key and no WANDB_MODE: each is
    logged offline (said once), the failed one finishes with exit code 1, the next is new."""
    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setenv("NETRC", str(tmp_path / "no_netrc"))
    common = (*EXTRACT, f"dataset.root={root}", "group=sweep", "logger.galleries=1")
    bad = resolved(
        "extract", *common, "backbone.name=no_such_model", f"output_dir={tmp_path / 'a'}"
    )
    with caplog.at_level(logging.WARNING, logger="artrec"), pytest.raises(ConfigError):
        extract.run(bad, None)
    assert wandb.run is None
    assert [r.getMessage() for r in caplog.records if "wandb sync" in r.getMessage()] == [
        f"No W&B API key (WANDB_API_KEY or `wandb login`): logging offline to {tmp_path}/a/wandb;"
        f" upload later with `wandb sync {tmp_path}/a/wandb/offline-run-*`."
    ]
    good = resolved("extract", *common, f"output_dir={tmp_path / 'b'}")
    assert extract.run(good, None) == read_json(tmp_path / "b/metrics.json")["metrics"]["recall@20"]
    assert wandb.run is None

    (failed,), (done,) = offline_runs(tmp_path / "a"), offline_runs(tmp_path / "b")
    assert failed.run.run_id != done.run.run_id
    assert (failed.exit_code, done.exit_code) == (1, 0)
    assert (done.run.display_name, done.run.run_group, done.run.job_type) == (
        "b",
        "sweep",
        "extract",
    )
    assert set(done.run.tags) == {"backbone:tiny", "tuning:frozen", "dataset:folder"}
    assert {k: v for k, v in done.config.items() if k != "_wandb"} == dataclasses.asdict(good)
    final = assert_results_logged(done, tmp_path / "b")
    comparison = done.table("tables/comparison").set_index("metric")
    assert comparison.columns.tolist() == ["value", "random"]
    assert comparison["value"].to_dict() == final["metrics"]
    assert "galleries/1" in done.summary and "tables/per_case_start" not in done.summary
    assert not any(key.startswith("rec") for key in failed.summary)
    assert_offline_only(done)
