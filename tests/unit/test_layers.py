"""The layers (docs/design.md): no module imports a higher layer, checked on the source.

Every import is read with ``ast``, function-local and ``TYPE_CHECKING`` ones included, so a
late import cannot hide a dependency that runs up the layers."""

from __future__ import annotations

import ast
from pathlib import Path

from artrec import rundir

REPO = Path(__file__).resolve().parents[2]
ENTRY_SCRIPTS = ("train.py", "extract.py", "recommend_eval.py")
#: Bottom up. A module belongs to the layer of its longest listed prefix; a new module
#: directly under artrec/ has none until it is listed here.
LAYERS: dict[str, int] = {
    "artrec": 0,
    "artrec.io": 0,
    "artrec.errors": 0,
    "artrec.rundir": 0,
    "artrec.faults": 0,
    "artrec.progress": 0,
    "artrec.console": 0,
    "artrec.data": 1,
    "artrec.embeddings": 1,
    "artrec.models": 2,
    "artrec.recsys": 2,
    "artrec.callbacks": 3,
    "artrec.reporting": 4,
    "artrec.tasks": 5,
}
ENTRY_LAYER = 6
NOT_IN_RECSYS = ("pytorch_lightning", "lightning", "lightning_fabric", "hydra", "omegaconf")
NOT_IN_DATA = ("artrec.models", "timm")
HYDRA = ("hydra", "omegaconf")


def layer_of(module: str) -> int | None:
    """The layer of an ``artrec`` module (None for a third-party or an unlisted one)."""
    parts = module.split(".")
    for end in range(len(parts), 1, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    return LAYERS.get(module)


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    return ".".join(parts)


def imported(path: Path) -> list[str]:
    """Every module ``path`` imports (``from a import b`` gives ``a.b`` when b is a module)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (write it absolute)"
            names.append(node.module)
            names += [
                f"{node.module}.{alias.name}"
                for alias in node.names
                if _is_module(f"{node.module}.{alias.name}")
            ]
    return names


def _is_module(name: str) -> bool:
    base = REPO.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def sources() -> dict[str, Path]:
    found = {module_name(p): p for p in sorted((REPO / "artrec").rglob("*.py"))}
    return found | {Path(s).stem: REPO / s for s in ENTRY_SCRIPTS}


def upward_imports() -> list[str]:
    """``importer (layer) -> imported (layer)`` for every import of a higher layer."""
    found = []
    for name, path in sources().items():
        own = ENTRY_LAYER if path.parent == REPO else layer_of(name)
        for target in imported(path):
            there = layer_of(target)
            if there is not None and there > own:
                found.append(f"{name} ({own}) -> {target} ({there})")
    return sorted(set(found))


def test_every_module_has_a_layer():
    assert [
        name for name in sources() if name.startswith("artrec") and layer_of(name) is None
    ] == []
    assert layer_of("artrec.newthing") is None and layer_of("artrec.data.new") == 1


def test_no_module_imports_a_higher_layer():
    found = upward_imports()
    assert not found, "imports up the layers:\n" + "\n".join(found)


def test_entry_scripts_import_only_the_tasks():
    wrong = [
        f"{script} -> {target}"
        for script in ENTRY_SCRIPTS
        for target in imported(REPO / script)
        if target.startswith("artrec") and not target.startswith("artrec.tasks")
    ]
    assert wrong == []


def test_recsys_imports_no_lightning_or_hydra_and_data_no_model_code():
    wrong = [
        f"{name} -> {target}"
        for name, path in sources().items()
        for target in imported(path)
        if (name.startswith("artrec.recsys") and target.split(".")[0] in NOT_IN_RECSYS)
        or (name.startswith("artrec.data") and target.startswith(NOT_IN_DATA))
    ]
    assert wrong == []


def test_hydra_stays_at_the_edge():
    """Only the tasks (and the entry scripts) import Hydra or OmegaConf."""
    wrong = [
        f"{name} -> {target}"
        for name, path in sources().items()
        if name.startswith("artrec.") and not name.startswith("artrec.tasks")
        for target in imported(path)
        if target.split(".")[0] in HYDRA
    ]
    assert wrong == []


def test_run_directory_names_are_written_only_in_rundir():
    """File names, statuses, metric prefixes and weight sources are typed once."""
    named = {name: value for name, value in vars(rundir).items() if name.isupper()}
    owned = {v for v in named.values() if isinstance(v, str) and v not in ("rec", "start")}
    owned |= {f"{v}/" for name, v in named.items() if name.startswith("REC_")}  # f"rec/{m}"
    typed = [
        f"{name}: {node.value!r}"
        for name, path in sources().items()
        if name != "artrec.rundir"
        for node in _strings(path)
        if node.value in owned
    ]
    assert typed == []


def _strings(path: Path) -> list[ast.Constant]:
    """The string constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]
