"""The configs are typed (artrec/tasks/configs.py and the dataclasses it names): Hydra
refuses a wrong type or a misspelt key before anything runs, the YAML files restate no
default, the trainer group is Lightning's Trainer arguments, every renamed setting of the
README's table is refused under its old name, and each script's --help lists its groups."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from artrec.data.config import DatasetConfig
from artrec.models.config import AugmentConfig, BackboneSpec, TaskConfig, Tuning
from artrec.tasks.configs import LoggerConfig, TrainConfig, TrainerConfig
from artrec.tasks.fingerprint import FINGERPRINT_IGNORED
from artrec.tasks.train import build_trainer

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
# Group -> the schema of its files; the key that names the choice may restate a default.
GROUPS = {
    "dataset": DatasetConfig,
    "backbone": BackboneSpec,
    "trainer": TrainerConfig,
    "logger": LoggerConfig,
    "augment": AugmentConfig,
}
NAMING_KEYS = {"name"}
# train.py --help's groups: ``tuning`` is a key of TrainConfig, not a group.
TRAIN_GROUPS = "dataset backbone tasks augment trainer logger experiment debug hparams_search"
RENAME_ROW = re.compile(r"^\| `([\w.]+)` \| `([\w.]+)` \| (\w+)\.py \|", re.MULTILINE)


def _compose(script: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(script, overrides=list(overrides))


def _script(script: str, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / f"{script}.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_wrong_type_or_a_misspelt_key_is_refused_before_anything_runs(tmp_path):
    out = tmp_path / "run"
    done = _script("train", "model.shared_dim=wide", f"hydra.run.dir={out}")
    assert done.returncode == 1
    assert "model.shared_dim" in done.stderr and "wide" in done.stderr
    assert not out.exists()  # refused while composing: no run directory, no log file
    for wrong in ("trainer.max_epoch=1", "dataset.roots=/x", "protocol.k=many"):
        with pytest.raises(ConfigCompositionException, match=wrong.split("=")[0]):
            _compose("train", wrong)
    with pytest.raises(ConfigCompositionException, match="compare"):
        _compose("extract", "compare.alpha=0.1")  # recommend_eval.py's setting, not extract's


def test_group_files_only_choose_and_override_the_schemas_defaults():
    for group, schema in GROUPS.items():
        defaults = OmegaConf.to_container(OmegaConf.structured(schema))
        for path in sorted((CONF / group).glob("*.yaml")):
            values = yaml.safe_load(path.read_text()) or {}
            values.pop("defaults", None)
            restated = {
                key
                for key, value in values.items()
                if key not in NAMING_KEYS and defaults.get(key, object()) == value
            }
            assert not restated, (path.name, restated)
            assert set(values) <= set(defaults), (path.name, set(values) - set(defaults))
    for path in (CONF / "tasks").glob("*.yaml"):
        for task in yaml.safe_load(path.read_text()).values():
            TaskConfig(**task)  # every task file is a mapping name -> TaskConfig


def test_every_default_has_one_place_in_the_composed_job_config():
    done = _script("train", "--cfg", "job")
    assert done.returncode == 0, done.stderr
    shown = yaml.safe_load(done.stdout)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(shown) == fields  # nothing outside the schema, nothing missing
    assert "max_epochs" not in shown and "max_epochs" in shown["trainer"]
    assert shown["tuning"] == "deep"  # a root key of TrainConfig, no longer a group
    assert {"lr", "input_size", "max_epochs", "label_columns"}.isdisjoint(shown["dataset"])


def test_tuning_is_a_typed_key_whose_misspelling_hydra_refuses():
    assert not (CONF / "tuning").exists()
    for mode in ("deep", "shallow"):
        cfg = OmegaConf.to_object(_compose("train", f"tuning={mode}", "output_dir=o"))
        assert cfg.tuning is Tuning(mode)
    row = "experiment=table2/resnet_shallow_ugallery"
    assert (_compose("train", row).tuning, _compose("train", row, "tuning=deep").tuning) == (
        Tuning.shallow,
        Tuning.deep,
    )
    with pytest.raises(ConfigCompositionException, match="tuning=dep") as refused:
        _compose("train", "tuning=dep")
    assert "'dep', expected one of [frozen, shallow, deep]" in str(refused.value.__cause__)


def test_the_trainer_group_is_lightnings_trainer_arguments(tmp_path):
    args = ["max_epochs=1", "limit_train_batches=0.1", "deterministic=true"]
    args.append("log_every_n_steps=5")
    cfg: TrainConfig = OmegaConf.to_object(
        _compose("train", "progress=false", "output_dir=o", *(f"trainer.{a}" for a in args))
    )
    before = torch.are_deterministic_algorithms_enabled()
    try:
        trainer = build_trainer(cfg, tmp_path, callbacks=[], loggers=[])
        assert torch.are_deterministic_algorithms_enabled()  # Lightning's deterministic=True
    finally:
        torch.use_deterministic_algorithms(before)
    assert (trainer.max_epochs, trainer.limit_train_batches, trainer.log_every_n_steps) == (
        1,
        0.1,
        5,
    )
    default = _compose("train", "dataset=ugallery", "dataset.root=/x").trainer
    assert (default.max_epochs, default.log_every_n_steps, default.deterministic) == (100, 10, True)


@pytest.mark.parametrize("choice", ["gpu", "ddp", "ddp_sim", "slurm", "cpu"])
def test_trainer_presets_state_only_what_differs_from_default(choice):
    text = yaml.safe_load((CONF / "trainer" / f"{choice}.yaml").read_text())
    assert text["defaults"] == ["default"]
    cfg = _compose("train", f"trainer={choice}")
    assert cfg.trainer.deterministic is True and cfg.trainer.log_every_n_steps == 10


def test_the_paper_learning_rates_and_epochs_live_where_training_is_configured():
    rates = {"demo": 1e-4, "ugallery": 1e-4, "omniart": 1e-3, "wikiart": 1e-3, "folder": 1e-4}
    for dataset, lr in rates.items():
        cfg = _compose("train", f"dataset={dataset}", "dataset.root=/x")
        assert cfg.optim.lr == lr, dataset
        assert cfg.trainer.max_epochs == (4 if dataset == "demo" else 100), dataset
        assert cfg.backbone.input_size == (112 if dataset == "demo" else None), dataset


def test_every_renamed_setting_is_refused_under_its_old_name():
    readme = (REPO / "README.md").read_text()
    rows = RENAME_ROW.findall(readme)
    assert len(rows) >= 8
    for old, new, script in rows:
        with pytest.raises(ConfigCompositionException):
            _compose(script, f"{old}=1")
        value = OmegaConf.select(_compose(script, "dataset.root=/x"), new)
        _compose(script, f"{new}={'null' if value is None else value}")


def test_fingerprint_ignored_keys_exist_under_their_current_names():
    schemas = [OmegaConf.to_container(_compose(script)) for script in ("train", "extract")]
    for dotted in FINGERPRINT_IGNORED:
        *parents, key = dotted.split(".")
        nodes = [schema for schema in schemas if _node(schema, parents) is not None]
        assert any(key in _node(node, parents) for node in nodes), dotted


def _node(tree: dict, path: list[str]) -> dict | None:
    for part in path:
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree if isinstance(tree, dict) else None


def test_the_demo_is_a_config():
    demo = _compose("train", "experiment=demo")
    plain = _compose("train")
    assert OmegaConf.to_container(demo) == {**OmegaConf.to_container(plain), "group": "demo"}
    frozen = _compose("extract", "experiment=demo", "backbone=resnet18")
    assert (frozen.group, frozen.backbone.input_size, frozen.dataset.name) == ("demo", 112, "demo")


@pytest.mark.parametrize(
    ("script", "groups"),
    [
        ("recommend_eval", ["dataset"]),
        ("extract", ["dataset", "backbone", "trainer", "logger", "experiment", "debug"]),
        ("train", TRAIN_GROUPS.split()),
    ],
)
def test_help_lists_only_the_groups_the_script_uses(script, groups):
    done = _script(script, "--help")
    listed = done.stdout.split("(group=option)\n\n", 1)[1].split("\n\n", 1)[0]
    assert [line.split(":")[0] for line in listed.splitlines()] == groups


def test_importing_the_config_store_registers_nothing():
    probe = (
        "from hydra.core.config_store import ConfigStore\n"
        "from omegaconf import OmegaConf\n"
        "import artrec.tasks.config_store\n"
        "print('train_schema.yaml' in ConfigStore.instance().repo,"
        " OmegaConf.has_resolver('artrec.basename'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == ["False", "False"], done.stderr
