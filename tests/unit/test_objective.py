"""The sweep objective: the validation period under split=time, a loud warning (once) when
a multirun's sweeper would be given a test-period or whole-timeline number."""

from __future__ import annotations

import logging

import pytest

from artrec.errors import ConfigError
from artrec.tasks import objective
from artrec.tasks.objective import objective_value

WHOLE = {"recall@20": 0.25, "ndcg@20": 0.5}
SPLIT = {"val/recall@20": 0.125, "val/ndcg@20": 0.375, "test/recall@20": 0.75}


@pytest.fixture
def leaks(caplog, monkeypatch):
    monkeypatch.setattr(objective, "_warned", set())
    caplog.set_level(logging.WARNING, logger="artrec")
    return lambda: [r.getMessage() for r in caplog.records if "TEST-SET LEAK" in r.getMessage()]


def test_split_time_returns_the_validation_period(leaks):
    assert objective_value(SPLIT, "rec/recall@20", "time", multirun=True) == 0.125
    assert objective_value(SPLIT, "rec/val/ndcg@20", "time", multirun=True) == 0.375
    assert leaks() == []


def test_a_test_period_objective_in_a_multirun_warns_once(leaks):
    for _ in range(3):
        assert objective_value(SPLIT, "rec/test/recall@20", "time", multirun=True) == 0.75
    [message] = leaks()
    assert "rec/test/recall@20 is computed on the test period" in message


def test_a_whole_timeline_objective_in_a_multirun_warns_once(leaks):
    assert objective_value(WHOLE, "rec/recall@20", "none", multirun=True) == 0.25
    assert objective_value(WHOLE, "rec/ndcg@20", "none", multirun=True) == 0.5
    assert objective_value(WHOLE, "rec/recall@20", "none", multirun=True) == 0.25
    assert len(leaks()) == 2  # one per objective named
    assert "every test case (protocol.split=none)" in leaks()[0]


def test_a_single_run_never_warns(leaks):
    assert objective_value(WHOLE, "rec/recall@20", "none", multirun=False) == 0.25
    assert objective_value(SPLIT, "rec/test/recall@20", "time", multirun=False) == 0.75
    assert leaks() == []


@pytest.mark.parametrize(
    ("metrics", "name", "split"),
    [(WHOLE, "rec/val/recall@20", "none"), (WHOLE, "recall@20", "none"), (SPLIT, "rec/x", "time")],
)
def test_an_unknown_objective_names_the_choices(metrics, name, split):
    with pytest.raises(ConfigError, match=f"objective='{name}': use one of"):
        objective_value(metrics, name, split, multirun=False)


def test_null_averages_stay_none():
    assert objective_value({"recall@20": None}, "rec/recall@20", "none", multirun=False) is None
