"""Training tasks: label encoders, masked losses and metrics, checked against hand-computed
values and torch.nn.functional; the conf/tasks presets."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

from artrec.errors import ConfigError, DatasetError
from artrec.models.tasks import KINDS, TaskSpec, encode_targets, fit_tasks, task_loss, total_loss

CONF = Path(__file__).resolve().parents[2] / "conf"
NAN = float("nan")


def labels(**columns: list) -> pd.DataFrame:
    """Label columns as the dataset loader gives them: pandas strings, <NA> = missing."""
    return pd.DataFrame({k: pd.array(v, dtype="string") for k, v in columns.items()})


TRAIN = labels(
    artist=["monet", "degas", None, "cezanne", "degas"],
    year=["1870", "1880", None, "1900", "1850"],
)
CONFIGS = {
    "artist": {"column": "artist", "kind": "classification"},
    "period": {"column": "year", "kind": "regression", "weight": 0.5},
}


def test_fit_sorts_classes_and_normalises_with_the_training_split():
    artist, period = fit_tasks(CONFIGS, TRAIN)
    assert artist == TaskSpec(
        "artist", "artist", "classification", 1.0, ("cezanne", "degas", "monet")
    )
    years = np.array([1870, 1880, 1900, 1850])
    assert (period.name, period.column, period.kind, period.weight) == (
        "period",
        "year",
        "regression",
        0.5,
    )
    assert period.mean == pytest.approx(1875.0)
    assert period.std == pytest.approx(math.sqrt(((years - 1875.0) ** 2).mean()))  # 18.0278
    assert (artist.out_dim, period.out_dim) == (3, 1)


def test_list_form_and_defaults_give_the_same_specs():
    as_list = [
        {"name": "artist", "kind": "classification", "weight": 1},
        {"name": "period", **CONFIGS["period"]},
    ]
    specs = fit_tasks(as_list, TRAIN)
    assert specs == fit_tasks(CONFIGS, TRAIN)
    assert type(specs[0].weight) is float


def test_null_entry_drops_a_task():
    assert [s.name for s in fit_tasks({**CONFIGS, "artist": None}, TRAIN)] == ["period"]


def test_encode_masks_missing_and_unseen_labels_per_task():
    specs = fit_tasks(CONFIGS, TRAIN)
    val = labels(artist=["degas", "renoir", None, "monet"], year=["1875", None, "1900", "1893"])
    std = specs[1].std
    expected = np.array(
        [[1, 0.0], [NAN, NAN], [NAN, 25 / std], [2, 18 / std]],
        dtype=np.float32,
    )
    got = encode_targets(specs, val)
    assert got.dtype == np.float32 and got.shape == (4, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_numeric_formats_of_years_are_accepted():
    spec = TaskSpec("period", "year", "regression", mean=1900.0, std=50.0)
    got = encode_targets([spec], labels(year=["1950", "1850.0", " 2000 ", "1.9e3"]))
    np.testing.assert_allclose(got[:, 0], [1, -1, 2, 0])


def test_spec_round_trips_through_plain_json():
    specs = fit_tasks(CONFIGS, TRAIN)
    data = json.loads(json.dumps([s.to_dict() for s in specs]))
    assert data[0]["classes"] == ["cezanne", "degas", "monet"]
    assert [TaskSpec.from_dict(d) for d in data] == specs


CLS = {"kind": "classification"}
REG = {"column": "year", "kind": "regression"}
BAD_YEARS = labels(year=["1850", "c. 1860", "", "unknown", "1870"])


@pytest.mark.parametrize(
    ("configs", "frame", "error", "words"),
    [
        ({"genre": CLS}, TRAIN, ConfigError, ["'genre'", "artist", "year"]),
        ({"artist": CLS}, labels(artist=[None, None]), DatasetError, ["no labelled row"]),
        ({"p": REG}, BAD_YEARS, DatasetError, ["3 non-numeric", "'c. 1860'", "'unknown'"]),
        ({"artist": CLS}, labels(artist=["a", None, "a"]), DatasetError, ["1 class", "at least 2"]),
        ({"p": REG}, labels(year=["1900", "1900"]), DatasetError, ["1900", "varying"]),
        ({"artist": {"kind": "ordinal"}}, TRAIN, ConfigError, ["'ordinal'", "regression"]),
        ({"artist": {**CLS, "wieght": 2}}, TRAIN, ConfigError, ["wieght"]),
        ({"artist": {**CLS, "weight": -1}}, TRAIN, ConfigError, ["weight=-1"]),
        ({"artist": {**CLS, "weight": "high"}}, TRAIN, ConfigError, ["weight='high'", "number"]),
        ({"bad name": {**CLS, "column": "artist"}}, TRAIN, ConfigError, ["letters"]),
        ([{"name": "artist", **CLS}] * 2, TRAIN, ConfigError, ["unique"]),
        ({}, TRAIN, ConfigError, ["tasks=artist_medium"]),
    ],
)
def test_fit_errors_name_the_problem(configs, frame, error, words):
    with pytest.raises(error) as info:
        fit_tasks(configs, frame)
    assert all(word in str(info.value) for word in words), str(info.value)


def test_unfitted_spec_refuses_to_size_its_head():
    with pytest.raises(ConfigError, match="fit_tasks"):
        _ = TaskSpec("artist", "artist", "classification").out_dim


# A hand-made batch: 3 rows, artist (3 classes) and period; row 1 has no artist.
LOGITS = torch.tensor([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0], [0.1, 0.2, 3.0]])
ARTIST = torch.tensor([0.0, NAN, 1.0])
PERIOD_OUT = torch.tensor([[0.5], [-1.0], [2.0]])
PERIOD = torch.tensor([1.0, 0.0, NAN])
ARTIST_SPEC = TaskSpec("artist", "artist", "classification", 2.0, ("a", "b", "c"))
PERIOD_SPEC = TaskSpec("period", "year", "regression", 0.5, mean=1900.0, std=50.0)


def test_cross_entropy_over_labelled_rows_only():
    expected = F.cross_entropy(LOGITS[[0, 2]], torch.tensor([0, 1]))
    # By hand: -log softmax, rows 0 and 2.
    by_hand = np.mean(
        [
            -2.0 + math.log(math.exp(2.0) + math.exp(0.5) + math.exp(-1.0)),
            -0.2 + math.log(math.exp(0.1) + math.exp(0.2) + math.exp(3.0)),
        ]
    )
    got = task_loss(ARTIST_SPEC, LOGITS, ARTIST)
    assert got.item() == pytest.approx(expected.item()) == pytest.approx(by_hand)


def test_mae_on_normalised_targets_over_labelled_rows_only():
    assert task_loss(PERIOD_SPEC, PERIOD_OUT, PERIOD).item() == pytest.approx((0.5 + 1.0) / 2)


def test_total_is_the_weighted_sum_of_task_losses():
    targets = torch.stack([ARTIST, PERIOD], dim=1)
    total, losses = total_loss(
        [ARTIST_SPEC, PERIOD_SPEC], {"artist": LOGITS, "period": PERIOD_OUT}, targets
    )
    ce = F.cross_entropy(LOGITS[[0, 2]], torch.tensor([0, 1])).item()
    assert losses["artist"].item() == pytest.approx(ce)
    assert losses["period"].item() == pytest.approx(0.75)
    assert total.item() == pytest.approx(2.0 * ce + 0.5 * 0.75)


def test_a_task_without_labels_in_the_batch_adds_zero_and_finite_grads():
    logits = LOGITS.clone().requires_grad_(True)
    out = PERIOD_OUT.clone().requires_grad_(True)
    targets = torch.tensor([[NAN, 1.0], [NAN, 0.0], [NAN, NAN]])
    total, losses = total_loss(
        [ARTIST_SPEC, PERIOD_SPEC], {"artist": logits, "period": out}, targets
    )
    total.backward()
    assert losses["artist"].item() == 0.0
    assert total.item() == pytest.approx(0.5 * (0.5 + 1.0) / 2)
    assert torch.equal(logits.grad, torch.zeros_like(logits))
    assert torch.equal(out.grad[:, 0], torch.tensor([-0.25, -0.25, 0.0]))  # 0.5 * sign / 2


def update(spec: TaskSpec, out: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    metrics = KINDS[spec.kind].metrics(spec)
    inputs = KINDS[spec.kind].metric_inputs(spec, out, target)
    for metric in metrics.values():
        metric.update(*inputs)
    return {name: metric.compute().item() for name, metric in metrics.items()}


def test_accuracy_and_top5_skip_masked_rows():
    spec = TaskSpec("artist", "artist", "classification", classes=tuple("abcdefg"))
    logits = torch.tensor(
        [
            [7.0, 6, 5, 4, 3, 2, 1],  # target a: top-1 hit
            [7.0, 6, 5, 4, 3, 2, 1],  # target e: top-5 hit only
            [7.0, 6, 5, 4, 3, 2, 1],  # target g: miss
            [7.0, 6, 5, 4, 3, 2, 1],  # masked
        ]
    )
    got = update(spec, logits, torch.tensor([0.0, 4.0, 6.0, NAN]))
    assert got == pytest.approx({"acc": 1 / 3, "top5": 2 / 3})


def test_regression_mae_is_reported_in_years():
    got = update(PERIOD_SPEC, PERIOD_OUT, PERIOD)
    # Predictions 1925, 1850 against 1950, 1900 (std 50, mean 1900); row 2 masked.
    assert got == pytest.approx({"mae": (25 + 50) / 2})


def preset(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(overrides=[f"+tasks={name}", *overrides]).tasks


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("artist", [("artist", "artist", "classification", 1.0)]),
        ("medium", [("medium", "medium", "classification", 1.0)]),
        ("type", [("type", "type", "classification", 1.0)]),
        ("period", [("period", "year", "regression", 1.0)]),
        (
            "artist_medium",
            [
                ("artist", "artist", "classification", 1.0),
                ("medium", "medium", "classification", 1.0),
            ],
        ),
        (
            "omniart",
            [
                ("artist", "artist", "classification", 1.0),
                ("type", "type", "classification", 1.0),
                ("period", "year", "regression", 0.25),
            ],
        ),
    ],
)
def test_presets_fit_in_file_order(name, expected):
    frame = labels(
        artist=["a", "b"], medium=["oil", "acrylic"], type=["painting", "print"], year=["1", "2"]
    )
    specs = fit_tasks(preset(name), frame)
    assert [(s.name, s.column, s.kind, s.weight) for s in specs] == expected


def test_preset_weight_can_be_overridden_on_the_command_line():
    frame = labels(artist=["a", "b"], type=["p", "q"], year=["1", "2"])
    specs = fit_tasks(preset("omniart", "tasks.period.weight=1", "tasks.type=null"), frame)
    assert [(s.name, s.weight) for s in specs] == [("artist", 1.0), ("period", 1.0)]
