"""`python train.py` with no arguments: the demo, judged on its research question."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.cli import run_cli


@pytest.mark.slow
def test_demo_deep_tuning_beats_frozen_and_random(tmp_path):
    started = time.monotonic()
    run_cli("train.py", f"hydra.run.dir={tmp_path}")
    minutes = (time.monotonic() - started) / 60
    final = json.loads((tmp_path / "metrics.json").read_text())
    start = json.loads((tmp_path / "start/metrics.json").read_text())
    recall = final["metrics"]["recall@20"]
    assert recall > start["metrics"]["recall@20"]
    assert recall > 3 * final["random"]["recall@20"]
    assert minutes < 5, f"the demo took {minutes:.1f} minutes"
