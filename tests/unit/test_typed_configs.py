"""Code reads its configuration as typed attributes, never as string keys of a dict: a
misspelt key then fails when the config is composed (the schema), not deep inside a run.

The only dict reads allowed are of recorded run directories (their config.yaml may come
from any artrec version), in the modules that read them."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG_NAMES = {"cfg", "config", "plain", "settings", "spec"}
READS_RECORDED_RUNS = {  # config.yaml files of any version
    "artrec/reporting/runs.py",
    "artrec/reporting/run_dirs.py",
    "artrec/reporting/report.py",
}


def _string_lookups(source: str) -> list[str]:
    """``cfg["key"]`` and ``cfg.get("key")`` on a name that holds a config."""
    found = []
    for node in ast.walk(ast.parse(source)):
        match node:
            case ast.Subscript(value=ast.Name(id=name), slice=ast.Constant(value=str(key))):
                pass
            case ast.Call(
                func=ast.Attribute(value=ast.Name(id=name), attr="get"),
                args=[ast.Constant(value=str(key)), *_],
            ):
                pass
            case _:
                continue
        if name in CONFIG_NAMES:
            found.append(f"{node.lineno}: {name}[{key!r}]")
    return found


def test_no_config_is_read_by_string_keys():
    modules = [*REPO.glob("artrec/**/*.py"), *REPO.glob("*.py")]
    checked = [p for p in modules if str(p.relative_to(REPO)) not in READS_RECORDED_RUNS]
    found = [
        f"{path.relative_to(REPO)}:{hit}"
        for path in sorted(checked)
        for hit in _string_lookups(path.read_text())
    ]
    assert found == []


def test_the_check_finds_string_lookups():
    source = 'def f(cfg, settings, row):\n    return cfg["lr"], settings.get("seed", 0), row["x"]\n'
    assert _string_lookups(source) == ["2: cfg['lr']", "2: settings['seed']"]
