"""Register the typed configs with Hydra's ConfigStore, and the per-script ``--help``.

Each entry script calls :func:`register` before ``hydra.main``. Every root YAML starts its
defaults list with its schema (``train_schema``, ...), so each group's node (``dataset``,
``backbone``, ``trainer``, ...) is a typed dataclass: a YAML file only chooses and
overrides, and Hydra refuses a wrong type or a misspelt key before anything runs.
Nothing registers on import.

``--help`` stays quick: Hydra deep-copies the whole store for every config group it lists
(about 130 times for ``train.py``), so a script stores only its own schema, the schemas
leave each group's node to the group's option (``GROUP`` in ``artrec.tasks.configs``), and
the script's own group list reads the config sources without copying them.
"""

from __future__ import annotations

from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.object_type import ObjectType
from hydra.plugins.config_source import ConfigSource
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
    script stores only its own schema (each stored schema slows ``--help`` down)."""
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
    sources = GlobalHydra.instance().config_loader().get_sources()
    return "\n".join(f"{group}: {', '.join(_options(sources, group))}" for group in groups)


def _options(sources: list[ConfigSource], group: str, prefix: str = "") -> list[str]:
    """The group's options, those of its subfolders as ``sub/option`` (experiment=table2/x)."""
    options = [prefix + name for name in _listed(sources, group, ObjectType.CONFIG)]
    for sub in _listed(sources, group, ObjectType.GROUP):
        options += _options(sources, f"{group}/{sub}", f"{prefix}{sub}/")
    return options


def _listed(sources: list[ConfigSource], group: str, kind: ObjectType) -> list[str]:
    """What Hydra's ``ConfigLoader.get_group_options`` answers, read from the config sources
    themselves: the loader deep-copies every source, the whole config store included, on
    each call."""
    return sorted({name for s in sources if s.is_group(group) for name in s.list(group, kind)})
