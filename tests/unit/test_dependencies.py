"""Every package artrec imports is declared in pyproject.toml (or is the standard library)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[2]


def _imported(package: Path) -> dict[str, str]:
    """Top-level module name -> first file importing it, over every absolute import."""
    found: dict[str, str] = {}
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(REPO)))
    return found


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        requirements += extra
    return {_normalise(re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0]) for req in requirements}


def test_every_import_of_artrec_is_a_declared_dependency():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = {}
    for module, where in _imported(REPO / "artrec").items():
        if module in sys.stdlib_module_names or module == "artrec":
            continue
        names = {_normalise(d) for d in distributions.get(module, [module])}
        if not names & declared:
            undeclared[module] = where
    assert undeclared == {}
    assert {"pyyaml", "safetensors", "huggingface-hub"} <= declared  # imported directly
