"""docs/ stays true: every protocol setting, default, metric key and output field it names
exists in the code with that default, and its links lead to files of the repository."""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from recsys_testkit import exact_vectors, random_shop, run

from artrec.data.config import DatasetConfig
from artrec.errors import ConfigError
from artrec.recsys.config import CHOICES, FRACTIONS, MINIMUM, ProtocolConfig
from artrec.recsys.metrics import METRICS, metric_key
from artrec.recsys.result import PER_CASE_COLUMNS, PERIOD_KEYS

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.glob("*.md"))
SETTING_ROW = re.compile(r"^\| `protocol\.(\w+)` \| `([^`]*)` \| ([^|]*) \|", re.MULTILINE)
KEY_ROW = re.compile(r"^\| `([^`]+)`", re.MULTILINE)


def text(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def section(page: str, heading: str) -> str:
    """The text of ``page`` from ``heading`` to the next heading of any level."""
    body = text(page).split(f"\n{heading}\n", 1)[1]
    return re.split(r"\n#+ ", body, maxsplit=1)[0]


def test_the_docs_exist_and_cite_nothing_outside_the_repository():
    names = {page.name for page in PAGES}
    assert {"data.md", "protocol.md", "metrics.md", "outputs.md", "ugallery-public.md"} <= names
    for page in PAGES:
        content = page.read_text(encoding="utf-8")
        assert not re.search(r"\.\./shared|SPEC(\.md| section)", content), page.name
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", content):
            assert (page.parent / target).is_file(), (page.name, target)


def test_the_settings_table_has_every_setting_with_the_codes_default_and_values():
    rows = {
        key: (default, values) for key, default, values in SETTING_ROW.findall(text("protocol.md"))
    }
    assert list(rows) == [f.name for f in fields(ProtocolConfig)]
    code = ProtocolConfig()  # the one place of the defaults (no conf/protocol/ repeats them)
    for key, (default, values) in rows.items():
        assert yaml.safe_load(default) == getattr(code, key), key
        named = re.findall(r"`([^`]+)`", values)
        if key in CHOICES:
            assert named == list(CHOICES[key]), key
        elif key in MINIMUM:
            assert values.strip() == f"integer >= {MINIMUM[key]}", key
        elif key in FRACTIONS:
            assert values.startswith("number in (0, 1)"), key
        else:
            assert named == ["true", "false"], key


def test_every_protocol_setting_and_value_named_in_the_docs_is_valid():
    valid = {f.name for f in fields(ProtocolConfig)}
    for page in PAGES:
        for key, value in re.findall(r"\bprotocol\.(?!md\b)(\w+)(?:=([\w.-]+))?", page.read_text()):
            assert key in valid, (page.name, key)
            if value:
                ProtocolConfig.from_dict({key: yaml.safe_load(value)})  # raises if not valid
    with pytest.raises(ConfigError):  # the check above can fail
        ProtocolConfig.from_dict({"variant": "papers"})


def test_every_dataset_option_named_in_the_docs_exists():
    conf = {f.name for f in fields(DatasetConfig)}  # the dataset group's schema
    for page in PAGES:
        for key in re.findall(r"`dataset\.(\w+)", page.read_text()):
            assert key in conf, (page.name, key)


def test_the_metric_tables_name_exactly_the_metrics_the_code_computes():
    keys = [metric_key(name, "k") for name in METRICS]
    for heading in ("## Definitions", "## The Random baseline, exactly"):
        named = KEY_ROW.findall(section("metrics.md", heading))
        assert sorted(set(named)) == sorted(keys), heading
    for page in PAGES:
        for name in re.findall(r"\b([a-z0-9_]+)@(?:k|\d+)\b", page.read_text()):
            assert name in METRICS, (page.name, name)


def test_the_output_fields_are_what_a_run_writes(tmp_path):
    dataset = random_shop(tmp_path, seed=2)
    result = run(dataset, exact_vectors(dataset.item_ids.tolist(), seed=2))
    payload = result.to_json("e.npz", "ROOT")
    documented = KEY_ROW.findall(section("outputs.md", "## metrics.json"))
    assert documented == list(payload)
    example = json.loads(re.search(r"```json\n(.*?)```", text("outputs.md"), re.S).group(1))
    assert list(example) == list(payload)
    assert list(example["metrics"]) == list(payload["metrics"])
    columns = KEY_ROW.findall(section("outputs.md", "## per_case.csv"))
    assert columns[:-1] == list(PER_CASE_COLUMNS) == list(result.per_case.columns)
    shop = random_shop(tmp_path / "split", seed=2, n_items=30, n_users=6, n_purchases=80)
    split = run(shop, exact_vectors(shop.item_ids.tolist(), seed=2), split="time")
    assert columns == list(split.per_case_rows().columns)
    payload = split.to_json("e.npz", "ROOT")
    blocks = re.findall(r"```json\n(.*?)```", text("outputs.md"), re.S)
    example = json.loads(blocks[1])
    assert list(example)[1:] == list(payload)[-2:] == ["split", "val"]
    assert list(example["split"]) == list(payload["split"])
    assert list(example["val"]) == list(payload["val"]) == list(PERIOD_KEYS)
