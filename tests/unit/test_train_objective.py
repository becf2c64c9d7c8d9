"""train.run returns the objective from the result the evaluation callback holds, not from
the metrics.json it wrote: a file spoiled on its way to disk does not change the answer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from artrec.callbacks import rec_eval
from artrec.data.dataset import load_dataset
from artrec.embeddings import load_embeddings
from artrec.recsys.evaluate import evaluate
from artrec.tasks import train
from tests.fixtures import write_image_dataset
from tests.integration.cli import TINY_TRAIN

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_train_returns_the_callbacks_result(tmp_path, monkeypatch):
    root = write_image_dataset(tmp_path / "ds", n_items=30, size=32)
    out = tmp_path / "run"
    overrides = [*TINY_TRAIN, "dataset=folder", f"dataset.root={root}", "trainer.max_epochs=1"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, "logger=none", f"output_dir={out}"])
    real = rec_eval.write_result

    def spoiled(result, target, *args):  # what a stale or foreign metrics.json would say
        real(
            dataclasses.replace(result, metrics=dict.fromkeys(result.metrics, -1.0)), target, *args
        )

    monkeypatch.setattr(rec_eval, "write_result", spoiled)
    objective = train.run(OmegaConf.to_object(cfg), None)  # the typed config the task receives

    # the oracle: the protocol run again on the fine-tuned embedding the callback saved
    protocol = OmegaConf.to_object(cfg.protocol)
    again = evaluate(load_dataset(root), load_embeddings(out / "embeddings.npz"), protocol)
    assert objective == again.metrics["recall@20"] != -1.0
