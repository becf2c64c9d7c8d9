"""Register the typed configs with Hydra's ConfigStore, and the per-script ``--help``.

Each entry script calls :func:`register` before ``hydra.main``. Every root YAML starts its
defaults list with its schema (``train_schema``, ...), so each group's node (``dataset``,
``backbone``, ``trainer``, ...) is a typed dataclass: a YAML file only chooses and
overrides, and Hydra refuses a wrong type or a misspelt key before anything runs.
Nothing registers on import.
"""

from __future__ import annotations

from hydra.core.config_loader import ConfigLoader
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from artrec.tasks.configs import ExtractConfig, RecommendEvalConfig, TrainConfig

SCHEMAS = {
    "train_schema": TrainConfig,
    "extract_schema": ExtractConfig,
    "recommend_eval_schema": RecommendEvalConfig,
}


def register(*scripts: str) -> None:
    """Store the root schemas of ``scripts`` (``train``, ``extract``, ``recommend_eval``;
    none named: all three), and the resolvers the configs use: the groups a script's help
    lists, and a path's last part (an experiment's file name as its run name). An entry
    script stores only its own schema: Hydra deep-copies the store for every config group
    its ``--help`` lists, so each stored schema slows ``--help`` down."""
    store = ConfigStore.instance()
    for name, schema in SCHEMAS.items():
        if not scripts or name.removesuffix("_schema") in scripts:
            store.store(name=name, node=schema)
    resolvers = {"artrec.config_groups": config_groups, "artrec.basename": basename}
    for name, function in resolvers.items():
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, function)


def basename(path: str) -> str:
    """``table2/resnet`` -> ``resnet``."""
    return str(path).rsplit("/", 1)[-1]


def config_groups(*groups: str) -> str:
    """``group: option, option`` lines for ``groups`` (a script's ``--help`` lists only the
    groups that script uses, where Hydra's own help lists every group under conf/)."""
    loader = GlobalHydra.instance().config_loader()
    return "\n".join(f"{group}: {', '.join(_options(loader, group))}" for group in groups)


def _options(loader: ConfigLoader, group: str, prefix: str = "") -> list[str]:
    """The group's options, those of its subfolders as ``sub/option`` (experiment=table2/x)."""
    options = [prefix + name for name in loader.get_group_options(group)]
    for sub in sorted(loader.list_groups(group)):
        options += _options(loader, f"{group}/{sub}", f"{prefix}{sub}/")
    return options
