"""hparams_search=optuna: a 3-trial seeded search of train.py on the demo gallery that
chooses on the validation period and prints the best trial's test-period numbers."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.integration.cli import run_cli


def test_three_trial_search_chooses_on_validation(tmp_path):
    sweep = tmp_path / "search"
    done = run_cli(
        "train.py",
        "hparams_search=optuna",
        "dataset=demo",
        "debug=fast",
        "hydra.sweeper.n_trials=3",
        "model.shared_dim=choice(8, 16)",  # the preset's widths are for real runs
        "rec_eval.at_start=false",
        "trainer.max_epochs=1",  # each trial in a few seconds
        "trainer.limit_val_batches=1",
        "rec_eval.embed_batch_size=256",
        f"hydra.sweep.dir={sweep}",
    )
    output = done.stdout + done.stderr
    jobs = sorted(p for p in sweep.iterdir() if (p / "run.json").is_file())
    assert len(jobs) == 3
    objectives = {}
    for job in jobs:
        final = json.loads((job / "metrics.json").read_text())
        record = json.loads((job / "run.json").read_text())
        assert final["protocol"]["split"] == "time"
        assert record["objective"] == final["val"]["metrics"]["recall@20"]
        objectives[job.name] = (record["objective"], final)
    best = max(objectives, key=lambda name: objectives[name][0])
    results = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert results["best_value"] == pytest.approx(objectives[best][0])
    final = objectives[best][1]
    assert f"Best job by the validation objective ({objectives[best][0]:.4f}): {best}" in output
    assert (
        f"Its test period (from {final['split']['test_start']}, {final['n_test_cases']} cases, "
        f"never seen by the search): recall@20 {final['metrics']['recall@20']:.4f}"
    ) in output
    assert "TEST-SET LEAK" not in output
