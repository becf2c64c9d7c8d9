"""The command lines start fast: ``--help``, ``--cfg job`` and tab completion import no
torch, Lightning, timm, W&B, numpy or pandas (bench/bench_cli.py times them); W&B is
imported only for ``logger=wandb`` (artrec's W&B module); every run prints its key choices
first."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from artrec.data.config import DatasetConfig
from artrec.models.config import BackboneSpec, TaskConfig, Tuning
from artrec.tasks.banner import key_choices
from artrec.tasks.configs import ExtractConfig, RecommendEvalConfig, TrainConfig

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    *("torch", "pytorch_lightning", "lightning", "timm", "wandb", "matplotlib", "scipy"),
    *("numpy", "pandas"),  # the typed configs (artrec.data.config) load neither
)
PROBE = """
import json, os, runpy, sys
os.environ["COMP_LINE"] = "python recommend_eval.py backbone="  # as bash completion sets it
heavy = {heavy!r}
found = {{}}
for script, args in [("train.py", ["--help"]), ("extract.py", ["--cfg", "job"]),
                     ("recommend_eval.py", ["-sc", "query=bash"])]:
    sys.argv = [script, *args]
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit:
        pass
    found[script] = [name for name in heavy if name in sys.modules]
import artrec.tasks.train, artrec.tasks.extract  # timm itself may try wandb (timm.utils)
found["tasks"] = [name for name in ("artrec.reporting.wandb_run",) if name in sys.modules]
print("RESULT", json.dumps(found))
"""


def test_help_and_completion_import_no_heavy_module_and_tasks_no_wandb():
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    found = json.loads(line.removeprefix("RESULT "))
    assert found == {"train.py": [], "extract.py": [], "recommend_eval.py": [], "tasks": []}
    assert "== Configuration groups ==" in done.stdout  # the help was printed
    assert "backbone=efficientnet_lite0" in done.stdout  # and the completions


def test_every_run_starts_with_its_key_choices():
    cfg = TrainConfig(
        dataset=DatasetConfig(name="ugallery", root="/data/ug"),
        backbone=BackboneSpec(name="resnet50", preset="resnet50", pretrained=False),
        tuning=Tuning.shallow,
        tasks={"artist": TaskConfig(), "medium": TaskConfig()},
        output_dir="outputs/train/x",
    )
    assert key_choices("train", cfg).splitlines() == [
        "train:",
        "  dataset   ugallery (/data/ug)",
        "  backbone  resnet50, random init",
        "  tuning    shallow",
        "  tasks     artist + medium",
        "  output    outputs/train/x",
    ]
    demo = DatasetConfig(name="demo", root=None)
    extract = ExtractConfig(dataset=demo, backbone=BackboneSpec(name="x"), ckpt="m.ckpt")
    assert "  backbone  the fine-tuned one in m.ckpt" in key_choices("extract", extract)
    judge = RecommendEvalConfig(dataset=demo, embeddings="e.npz", output_dir="o")
    assert key_choices("recommend_eval", judge).splitlines() == [
        "recommend_eval:",
        "  dataset     demo",
        "  embeddings  e.npz",
        "  output      o",
    ]
