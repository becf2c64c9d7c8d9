"""Progress in a log (stdout not a terminal): a line every few seconds through the protocol,
each training epoch and extraction, checked with a fake clock (no timing in the test)."""

from __future__ import annotations

import io
import itertools
import re

import pytorch_lightning as pl
import torch
from recsys_testkit import exact_vectors, random_shop, table
from torch.utils.data import DataLoader, TensorDataset

from artrec import progress
from artrec.console import PIPE_WIDTH, make_console
from artrec.models.log_progress import LogProgress, compact_metrics
from artrec.recsys.compare import compare_systems
from artrec.recsys.config import ProtocolConfig
from artrec.recsys.evaluate import evaluate
from artrec.reporting.console import comparison_table


def fake_clock(step: float):
    """A clock that moves ``step`` seconds each time it is read."""
    ticks = itertools.count()
    return lambda: step * next(ticks)


def test_lines_come_every_few_seconds_and_at_the_end():
    out = io.StringIO()
    items = list(
        progress.track(
            range(10), "ranking", 10, terminal=False, every_s=5.0, clock=fake_clock(2.0), out=out
        )
    )
    assert items == list(range(10))
    # read at 0 (start), then 2, 4, ..., 20 after each item: a line at 6, 12, 18
    assert out.getvalue().splitlines() == [
        "ranking: 3/10 (30%), 6 s",
        "ranking: 6/10 (60%), 12 s",
        "ranking: 9/10 (90%), 18 s",
        "ranking: 10/10 (100%), done in 22.0 s",
    ]


def test_the_protocol_prints_progress_lines_when_stdout_is_a_pipe(tmp_path, capsys, monkeypatch):
    dataset = random_shop(tmp_path, seed=0, n_items=14, n_users=5)
    vectors = table(exact_vectors(list(dataset.item_ids), seed=0))
    monkeypatch.setattr(  # a line per batch, whatever the speed
        progress.track, "__kwdefaults__", {**progress.track.__kwdefaults__, "every_s": 0.0}
    )
    quiet = evaluate(dataset, vectors, ProtocolConfig(chunk_size=1))
    assert capsys.readouterr().out == ""
    shown = evaluate(dataset, vectors, ProtocolConfig(chunk_size=1), progress=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 3 and re.fullmatch(r"ranking: \d+/\d+ \(100%\), done in .* s", lines[-1])
    assert all(line.startswith("ranking: ") for line in lines)
    assert shown.metrics == quiet.metrics


class _Tiny(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)

    def training_step(self, batch, batch_idx):
        loss = self.layer(batch[0]).pow(2).mean()
        self.log("train/loss", loss)
        return loss

    def predict_step(self, batch, batch_idx):
        return self.layer(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_training_epochs_and_prediction_print_lines_with_their_metrics(tmp_path):
    out = io.StringIO()
    loader = DataLoader(TensorDataset(torch.ones(8, 2)), batch_size=1)
    callback = LogProgress(every_s=3.0, clock=fake_clock(1.0), out=out)
    trainer = pl.Trainer(
        max_epochs=2,
        callbacks=[callback],
        enable_progress_bar=False,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        accelerator="cpu",
    )
    trainer.fit(_Tiny(), loader)
    trainer.predict(_Tiny(), loader, return_predictions=False)
    lines = out.getvalue().splitlines()
    epoch1 = [line for line in lines if line.startswith("epoch 1/2: ")]
    assert epoch1[0].startswith("epoch 1/2: 3/8 (38%), 3 s, train/loss ")
    assert re.fullmatch(
        r"epoch 1/2: 8/8 \(100%\), done in \d+\.\d s, train/loss \d\.\d{4}", epoch1[-1]
    )
    assert any(line.startswith("epoch 2/2: 8/8 (100%), done in") for line in lines)
    assert lines[-1].startswith("embedding: 8/8 (100%), done in")
    assert len([line for line in lines if line.startswith("embedding: ")]) >= 3


def test_the_bar_shows_short_metrics():
    shown = compact_metrics({"v_num": 3, "train/loss": 0.412345, "val/artist/acc": 0.5, "x": 2})
    assert shown == {"loss": "0.412", "val/artist/acc": "0.5", "x": 2}


def test_tables_fit_80_columns_in_a_log(tmp_path, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    dataset = random_shop(tmp_path, seed=1)
    systems = {
        name: evaluate(
            dataset, table(exact_vectors(list(dataset.item_ids), seed)), ProtocolConfig()
        )
        for seed, name in enumerate(("efficientnet_lite0_imagenet", "color_histogram"))
    }
    first = next(iter(systems.values()))
    comparison = compare_systems(
        {name: result.per_case for name, result in systems.items()},
        first.random_per_case,
        first.k,
        n_bootstrap=10,
    )
    console = make_console()  # stdout is not a terminal under pytest
    assert console.width == PIPE_WIDTH == 80
    with console.capture() as captured:
        console.print(comparison_table(comparison, "two systems"))
    lines = captured.get().splitlines()
    assert max(map(len, lines)) <= 80
    means = comparison.table.xs("mean", axis=1, level=1)
    for system, row in means.iterrows():  # every number whole, on its system's line
        line = next(x for x in lines if x.strip().startswith(system[:10]))
        assert all(f"{value:.4f}" in line for value in row)
