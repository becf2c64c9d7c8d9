"""The paper's tables as experiments (conf/experiment/): the values that make each row what
it is, on the composed config of every experiment file; then the experiments run through
the CLI on the demo gallery with debug=fast (tiny random backbone, two short epochs), so
none of them can rot.

A multirun shares the imports: one extract.py process runs the frozen rows and one
train.py process every training row (the two-stage row's stage 1 before stage 2), in a
temporary working directory; Table 1's own sweep over its backbones is marked slow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig

from artrec.embeddings import load_embeddings
from tests.integration.cli import REPO

CONF = REPO / "conf"
TABLE1 = ["resnet50", "vgg19", "inception_v3", "inception_resnet_v2", "nasnetalarge"]
LR = {"ugallery": 1e-4, "omniart": 1e-3, "demo": 1e-4}
UG2, OMNI3 = ["artist", "medium"], ["artist", "type", "period"]
STAGE1_CKPT = "outputs/train/table2/omniart_deep/checkpoints/best.ckpt"


@dataclass(frozen=True)
class Row:
    """What an experiment must be: its entry script, dataset, tuning, tasks, judge."""

    entry: str  # extract | train
    dataset: str
    tuning: str = "frozen"
    tasks: tuple[str, ...] = ()
    rec_eval: str | None = None  # the dataset the protocol judges on; None: the training one
    init_from: str | None = None
    group: str = "table2"


def _ug(tuning: str, tasks: list[str], **kw) -> Row:
    return Row("train", "ugallery", tuning, tuple(tasks), **kw)


def _omni(tuning: str, tasks: list[str], **kw) -> Row:
    return Row("train", "omniart", tuning, tuple(tasks), rec_eval="ugallery", **kw)


ROWS = {
    "table1": Row("extract", "demo", group="table1"),  # any dataset; the default one
    "table2/resnet": Row("extract", "ugallery"),
    "table2/resnet_deep_ugallery": _ug("deep", UG2),
    "table2/resnet_deep_ugallery_only_artist": _ug("deep", ["artist"]),
    "table2/resnet_deep_ugallery_only_medium": _ug("deep", ["medium"]),
    "table2/resnet_shallow_ugallery": _ug("shallow", UG2),
    "table2/resnet_shallow_ugallery_only_artist": _ug("shallow", ["artist"]),
    "table2/resnet_shallow_ugallery_only_medium": _ug("shallow", ["medium"]),
    "table2/omniart_shallow_with_task_weights": _omni("shallow", OMNI3),
    "table2/omniart_shallow_no_task_weights": _omni("shallow", OMNI3),
    "table2/omniart_shallow_only_type": _omni("shallow", ["type"]),
    "table2/omniart_shallow_only_artist": _omni("shallow", ["artist"]),
    "table2/omniart_shallow_only_period": _omni("shallow", ["period"]),
    "table2/omniart_deep": _omni("deep", OMNI3, group="table2_stages"),
    "table2/omniart_deep_ugallery": _ug("deep", UG2, init_from=STAGE1_CKPT),
}
FROZEN = [name for name, row in ROWS.items() if row.entry == "extract"]
OMNIART = [name for name, row in ROWS.items() if row.rec_eval]  # stage 1 included
UGALLERY = [name for name, row in ROWS.items() if row.entry == "train" and not row.rec_eval]
TRAIN = OMNIART + UGALLERY  # stage 1 (last of OMNIART) before stage 2 (last of UGALLERY)


def _compose(entry: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name=entry, overrides=list(overrides), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # as in a run: ${hydra:...} resolves (run_name)
    return cfg


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def test_every_experiment_file_is_covered():
    on_disk = {
        str(path.relative_to(CONF / "experiment").with_suffix(""))
        for path in (CONF / "experiment").rglob("*.yaml")
    }
    assert on_disk == {*ROWS, "demo"}  # the demo's: tests/unit/test_config_schema.py


@pytest.mark.parametrize("name", list(ROWS))
def test_experiment_config(name):
    row = ROWS[name]
    cfg = _compose(row.entry, f"experiment={name}")
    assert (cfg.group, cfg.dataset.name) == (row.group, row.dataset)
    assert cfg.protocol.variant == "paper"  # the paper's MAP and nDCG, as its tables have them
    if name == "table1":
        assert cfg.hydra.sweeper.params.backbone.split(",") == TABLE1
        assert _compose("extract", "experiment=table1", "backbone=vgg19").run_name == "vgg19"
        return
    assert (cfg.run_name, cfg.backbone.preset) == (_short(name), "resnet50")
    if row.entry == "extract":
        assert "tuning" not in cfg
        return
    assert cfg.tuning == row.tuning
    assert list(cfg.tasks) == list(row.tasks)
    assert cfg.optim.lr == LR[row.dataset]
    assert (cfg.rec_eval.dataset or {}).get("name") == row.rec_eval
    assert cfg.model.init_from == row.init_from
    assert cfg.model.shared_dim == 1024 and cfg.trainer.max_epochs == 100


def test_task_weights_and_the_period_task():
    weighted, equal = (
        _compose("train", f"experiment=table2/omniart_shallow_{v}_task_weights").tasks
        for v in ("with", "no")
    )
    assert {name: task.weight for name, task in equal.items()} == dict.fromkeys(OMNI3, 1.0)
    assert len({task.weight for task in weighted.values()}) > 1
    for name in OMNI3:  # only the weights differ
        assert {**weighted[name], "weight": 1.0} == equal[name]
    period = _compose("train", "experiment=table2/omniart_shallow_only_period").tasks.period
    assert (period.column, period.kind) == ("year", "regression")


def test_stage_two_starts_from_where_stage_one_writes():
    stage1 = _compose("train", "experiment=table2/omniart_deep")
    stage2 = _compose("train", "experiment=table2/omniart_deep_ugallery")
    assert f"{stage1.hydra.run.dir}/checkpoints/best.ckpt" == stage2.model.init_from
    assert stage1.model.init_from is None


@pytest.mark.parametrize("name", list(ROWS))
def test_debug_fast_wins_over_the_experiment_and_keeps_its_row(name):
    row = ROWS[name]
    cfg = _compose(row.entry, f"experiment={name}", "debug=fast")
    backbone = cfg.backbone
    assert (backbone.preset, backbone.pretrained, backbone.input_size) == ("tiny", False, 32)
    assert (cfg.logger.name, cfg.progress, cfg.group) == ("none", False, row.group)
    if row.entry == "extract":
        assert cfg.num_workers == 0
        if name == "table1":  # whatever backbone the sweep sets: no weights to download
            swept = _compose("extract", f"experiment={name}", "debug=fast", "backbone=vgg19")
            assert (swept.backbone.preset, swept.backbone.pretrained) == ("vgg19", False)
        return
    assert (cfg.model.shared_dim, cfg.data.num_workers, cfg.trainer.max_epochs) == (16, 0, 2)
    assert (cfg.trainer.limit_train_batches, cfg.trainer.limit_val_batches) == (2, 2)
    assert (cfg.tuning, list(cfg.tasks)) == (row.tuning, list(row.tasks))


# ---- the runs ------------------------------------------------------------------------


def _cli(cwd: Path, script: str, *overrides: str) -> None:
    """``python <repo>/<script> ...`` in ``cwd`` (relative output paths land there)."""
    # One thread per process: on a busy 2-core machine OpenMP's spinning threads slow
    # these tiny convolutions down many times over.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(REPO / script), *overrides, "debug=fast", "dataset=demo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"


def _sweep(*experiments: str, where: str) -> tuple[str, ...]:
    return (
        "-m",
        "experiment=" + ",".join(experiments),
        f"hydra.sweep.dir={where}",
        "hydra.sweep.subdir=${run_name}",
    )


def _complete(run: Path, task: str, name: str, group: str) -> dict:
    """The run directory contract; returns the run's resolved config."""
    for file in ("embeddings.npz", "metrics.json", "per_case.csv", "config.yaml"):
        assert (run / file).is_file(), run / file
    info = json.loads((run / "run.json").read_text())
    assert (info["status"], info["task"], info["run_name"], info["group"]) == (
        "completed",
        task,
        name,
        group,
    )
    return yaml.safe_load((run / "config.yaml").read_text())


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


@pytest.fixture(scope="module")
def frozen_runs(tmp_path_factory) -> Path:
    """One extract.py multirun over the frozen rows."""
    cwd = tmp_path_factory.mktemp("frozen")
    _cli(cwd, "extract.py", *_sweep(*FROZEN, where="frozen"))
    return cwd / "frozen"


def _train_runs(cwd: Path, experiments: list[str]) -> Path:
    """One train.py multirun, every row judged on the demo gallery. The basic launcher runs
    the jobs in order: stage 1 lands where its single run would, and stage 2 (after it)
    starts from the checkpoint there, as in the README's command sequence."""
    where = "outputs/train/table2"
    _cli(cwd, "train.py", *_sweep(*experiments, where=where), "dataset@rec_eval.dataset=demo")
    return cwd / where


@pytest.fixture(scope="module")
def train_runs(tmp_path_factory) -> Path:
    return _train_runs(tmp_path_factory.mktemp("train"), TRAIN)


def test_frozen_experiments_run(frozen_runs):
    tiny, resnet = frozen_runs / "tiny", frozen_runs / "resnet"
    _complete(tiny, "extract", "tiny", "table1")  # table1's run_name: the backbone preset
    cfg = _complete(resnet, "extract", "resnet", "table2")
    assert cfg["backbone"]["preset"] == "tiny" and cfg["dataset"]["name"] == "demo"
    # the same tiny random network (seeded) on the same gallery: the same embedding
    a, b = (load_embeddings(d / "embeddings.npz") for d in (tiny, resnet))
    assert a.dim == 256
    np.testing.assert_allclose(a.vectors, b.vectors, rtol=1e-5, atol=1e-6)
    assert _metrics(resnet)["metrics"] == pytest.approx(_metrics(tiny)["metrics"])


@pytest.mark.slow
def test_table1_sweeps_its_backbones(tmp_path):
    """experiment=table1 alone expands into one job per backbone (hydra.sweeper.params)."""
    params = "hydra.sweeper.params.backbone='tiny,resnet18'"
    _cli(tmp_path, "extract.py", "-m", "experiment=table1", params, "hydra.sweep.dir=t1",
         "hydra.sweep.subdir=${run_name}")  # fmt: skip
    for backbone, dim in (("tiny", 256), ("resnet18", 512)):
        _complete(tmp_path / "t1" / backbone, "extract", backbone, "table1")
        assert load_embeddings(tmp_path / "t1" / backbone / "embeddings.npz").dim == dim


@pytest.mark.parametrize("name", TRAIN)
def test_train_experiment_runs(train_runs, frozen_runs, name):
    row = ROWS[name]
    run = train_runs / _short(name)
    cfg = _complete(run, "train", _short(name), row.group)
    assert (run / "checkpoints/best.ckpt").is_file()
    assert (cfg["tuning"], list(cfg["tasks"])) == (row.tuning, list(row.tasks))
    assert (cfg["optim"]["lr"], cfg["rec_eval"]["dataset"]["name"]) == (LR["demo"], "demo")
    assert load_embeddings(run / "embeddings.npz").dim == 16  # debug=fast's shared layer
    final, frozen = _metrics(run), _metrics(frozen_runs / "tiny")
    objective = json.loads((run / "run.json").read_text())["objective"]
    assert objective == pytest.approx(final["metrics"]["recall@20"])
    # judged on the same test cases as the frozen rows, whatever it was tuned on
    assert final["random"] == pytest.approx(frozen["random"])
    # start/ judges the backbone before tuning: the seeded tiny network as extract.py
    # embeds it; for the two-stage row, stage 1's tuned backbone instead
    start = _metrics(run / "start")["metrics"]
    if row.init_from:
        assert start != pytest.approx(frozen["metrics"], rel=1e-4)
    else:
        assert start == pytest.approx(frozen["metrics"], rel=1e-4)
