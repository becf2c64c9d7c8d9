"""Figures of a report (matplotlib, no display needed), each saved as PNG and SVG.

Figures are built on ``matplotlib.figure.Figure`` directly, which renders with the Agg
canvas without pyplot's global state: safe in tests, workers and headless machines.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from artrec.io import atomic_path
from artrec.recsys.compare import DAGGER, RANDOM, Comparison
from artrec.recsys.metrics import metric_key
from artrec.reporting.paper_tables import CORRELATIONS, MIN_BACKBONES, Table1

FORMATS = ("png", "svg")
#: Format -> savefig metadata (no creation date, so figures are reproducible).
METADATA = {"png": {"Software": None}, "svg": {"Date": None}}
BEST, OTHER, BASELINE = "#1b6ca8", "#8fb8d8", "#b0b0b0"


def figure_stem(metric: str) -> str:
    """``recall@20`` -> ``bars_recall_at_20`` (a file name without odd characters)."""
    return "bars_" + metric.replace("@", "_at_")


def metric_bars(comparison: Comparison, metric: str) -> Figure:
    """One bar per run (and Random): the mean of ``metric`` with its bootstrap interval;
    the best run dark, daggers on runs significantly worse than it."""
    stats = comparison.table[metric]
    means = stats["mean"].to_numpy(dtype=float)
    errors = np.vstack([means - stats["ci_low"], stats["ci_high"] - means]).clip(min=0)
    labels = [f"{name}{DAGGER if sig else ''}" for name, sig in stats["significant"].items()]
    colours = [
        BASELINE if name == RANDOM else BEST if best else OTHER
        for name, best in stats["is_best"].items()
    ]
    figure = Figure(figsize=(7.0, 1.2 + 0.38 * len(means)), layout="constrained")
    axes = figure.add_subplot()
    rows = np.arange(len(means))
    axes.barh(rows, means, xerr=errors, color=colours, capsize=3, error_kw={"linewidth": 1})
    axes.set_yticks(rows, labels=labels)
    axes.invert_yaxis()
    for row, mean in zip(rows, means, strict=True):
        axes.annotate(
            f"{mean:.4f}", (mean, row), xytext=(4, -8), textcoords="offset points", fontsize=7
        )
    level = f"{100 * (1 - comparison.alpha):g}%"
    axes.set_xlabel(f"{metric}: mean over {comparison.n_cases} test cases, {level} bootstrap CI")
    axes.set_title(f"{metric} ({DAGGER}: significantly worse than the best)", fontsize=10)
    axes.grid(axis="x", alpha=0.3)
    return figure


def top1_scatter(table: Table1) -> Figure | None:
    """ImageNet top-1 against recall@k, one labelled point per backbone (None when no
    run has a known top-1); the Random level dashed; the rank correlations in the title."""
    recall = metric_key("recall", table.k)
    runs = table.frame.drop(RANDOM)
    runs = runs[runs["imagenet_top1"].notna()]
    if runs.empty:
        return None
    figure = Figure(figsize=(6.4, 4.4), layout="constrained")
    axes = figure.add_subplot()
    axes.scatter(runs["imagenet_top1"], runs[recall], color=BEST, zorder=3)
    for name, values in runs.iterrows():
        axes.annotate(
            str(name),
            (values["imagenet_top1"], values[recall]),
            xytext=(5, 4),
            textcoords="offset points",
            fontsize=8,
        )
    axes.axhline(table.frame.loc[RANDOM, recall], color=BASELINE, linestyle="--", label=RANDOM)
    axes.margins(x=0.2, y=0.1)
    axes.set_xlabel("ImageNet top-1 accuracy (%)")
    axes.set_ylabel(recall)
    axes.legend(loc="best", fontsize=8)
    axes.grid(alpha=0.3)
    axes.set_title(_correlation_title(table, recall), fontsize=9)
    return figure


def _correlation_title(table: Table1, recall: str) -> str:
    values = table.correlation.loc[recall]
    if values["n"] < MIN_BACKBONES:
        return f"{int(values['n'])} backbone(s) with a known top-1: too few for rank correlations"
    parts = [
        f"{name} = {values[statistic]:.2f} (p = {values[p_value]:.3f})"
        for name, (statistic, p_value, _) in CORRELATIONS.items()
    ]
    return f"{', '.join(parts)}; n = {int(values['n'])}"


def save_figure(figure: Figure, stem: Path) -> dict[str, Path]:
    """Write ``stem.png`` and ``stem.svg`` atomically; return format -> path. The layout
    is computed for the first format and kept for the second."""
    paths = {}
    for fmt in FORMATS:
        path = paths[fmt] = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format=fmt, dpi=150, metadata=METADATA[fmt])
        figure.set_layout_engine("none")
    return paths
