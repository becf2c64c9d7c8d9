"""``--help`` says what it always said, quickly: each script's help is its template with
the options of its groups as Hydra lists them and the job config as ``--cfg job`` prints
it. Hydra deep-copies its ConfigStore for every group its help lists, so the script's own
group list copies nothing and the stored schemas hold no group's node (the option builds
it, exactly as a whole schema would); bench/bench_cli.py times it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any, get_origin, get_type_hints

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.config_loader import ConfigLoader
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from artrec.tasks.config_store import SCHEMAS, config_groups

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
SCRIPTS = ("train", "extract", "recommend_eval")
GROUP_LINE = "${artrec.config_groups:"


def _hydra_options(loader: ConfigLoader, group: str, prefix: str = "") -> list[str]:
    """The group's options through Hydra's own listing (``sub/option`` for subfolders)."""
    options = [prefix + name for name in loader.get_group_options(group)]
    for sub in sorted(loader.list_groups(group)):
        options += _hydra_options(loader, f"{group}/{sub}", f"{prefix}{sub}/")
    return options


def _expected_groups(groups: list[str]) -> str:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        return "\n".join(f"{g}: {', '.join(_hydra_options(loader, g))}" for g in groups)


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(REPO / f"{script}.py"), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_is_the_template_with_hydras_group_options_and_the_job_config(script):
    template = yaml.safe_load((CONF / f"{script}.yaml").read_text())["hydra"]["help"]["template"]
    head, rest = template.split(GROUP_LINE, 1)
    groups, tail = rest.split("}", 1)
    shown = _expected_groups(groups.split(","))
    expected = head + shown + tail.split("$CONFIG", 1)[0] + _run(script, "--cfg", "job") + "\n"
    assert _run(script, "--help").startswith(expected)


def test_the_scripts_group_list_copies_no_config_store(monkeypatch):
    groups = ["dataset", "experiment", "hydra/launcher"]
    expected = _expected_groups(groups)
    copies = []
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        monkeypatch.setattr(
            ConfigStore,
            "__deepcopy__",
            lambda store, memo: copies.append(1) or store,
            raising=False,
        )
        listed = config_groups(*groups)
    assert copies == []
    # conf/ files, a subfolder (experiment=table2/x), the store's and conf/'s launchers
    assert listed == expected
    assert "experiment: demo, table1, table2/omniart_deep," in listed
    assert "basic" in listed and "slurm" in listed


def _whole(schema: type) -> Any:
    """``schema`` with each group's node built from its dataclass (a mapping: empty)."""
    node = OmegaConf.structured(schema)
    for key, hint in get_type_hints(schema).items():
        if OmegaConf.is_missing(node, key) and dataclasses.is_dataclass(hint):
            node[key] = OmegaConf.structured(hint)
        elif OmegaConf.is_missing(node, key) and get_origin(hint) is dict:
            node[key] = {}
    return node


@pytest.mark.parametrize(
    ("script", "overrides"),
    [
        ("train", ["experiment=table2/resnet_deep_ugallery", "debug=fast", "dataset.root=/x"]),
        ("extract", ["dataset=ugallery", "dataset.root=/x", "debug=fast"]),
        ("recommend_eval", ["dataset=folder", "dataset.root=/x", "embeddings=x.npz"]),
    ],
)
def test_stored_schemas_leave_group_nodes_to_the_options_which_build_them_whole(script, overrides):
    name = f"{script}_schema"
    store = ConfigStore.instance()
    assert OmegaConf.is_missing(store.load(f"{name}.yaml").node, "dataset")  # not copied
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        small = compose(script, overrides=overrides)
        store.store(name=name, node=_whole(SCHEMAS[name]))
        try:
            whole = compose(script, overrides=overrides)
        finally:
            store.store(name=name, node=SCHEMAS[name])
    assert OmegaConf.to_yaml(small) == OmegaConf.to_yaml(whole)
    OmegaConf.to_container(small, throw_on_missing=True)  # no node left unbuilt
    if script == "extract":  # its own defaults, kept whole in its schema
        assert (small.trainer.deterministic, small.logger.name) == (False, "none")
