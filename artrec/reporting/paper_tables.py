"""The paper's tables from a group of runs judged on the same test cases.

Table 1: frozen extractors, rec metrics next to ImageNet top-1 / top-5, and the paper's
RQ1 as numbers: Kendall's tau and Spearman's rho between ImageNet top-1 and each rec
metric, with p-values. Table 2: every run sorted by recall@k, the exact Random row, best
bold and daggers from the paired comparison (``artrec.recsys.compare``). Each is written
as Markdown, CSV and LaTeX, and says which metric variant its MAP and nDCG are: only
``protocol.variant=paper`` gives the paper's definitions (docs/metrics.md).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from artrec.data.csvio import write_csv_atomic
from artrec.io import write_text_atomic
from artrec.recsys.compare import RANDOM, Comparison, compare_systems
from artrec.recsys.metrics import metric_key
from artrec.reporting.runs import RunGroup
from artrec.reporting.text_tables import Cell, TextTable, number, short_label, to_latex, to_markdown

TABLE1_METRICS = ("recall", "precision", "mrr", "ndcg")  # the paper's Table 1 columns
TABLE2_METRICS = ("recall", "precision", "f1", "map", "mrr", "ndcg")  # and Table 2's
IMAGENET = ("imagenet_top1", "imagenet_top5")
#: Rank correlation -> (statistic column, p-value column, scipy function).
CORRELATIONS = {
    "Kendall's tau": ("kendall_tau", "kendall_p", stats.kendalltau),
    "Spearman's rho": ("spearman_rho", "spearman_p", stats.spearmanr),
}
MIN_BACKBONES = 3
#: What a table's MAP and nDCG columns are, per protocol.variant of its runs.
VARIANT_NOTES = {
    "paper": (
        "MAP and nDCG as the paper defines them (protocol.variant=paper): MAP@k is the mean "
        "of P@i over i = 1..k, nDCG divides by the ideal DCG of the hits."
    ),
    "standard": (
        "MAP and nDCG are the standard ones (protocol.variant=standard), not the paper's: "
        "evaluate with protocol.variant=paper to compare them with the paper's columns."
    ),
}


def variant_note(variant: str) -> str:
    """The note that says what a table's MAP and nDCG columns are."""
    return VARIANT_NOTES.get(variant, f"MAP and nDCG: protocol.variant={variant}.")


def period_notes(split: dict[str, str] | None) -> list[str]:
    """With ``protocol.split=time``: the note that the numbers are the test period's and the
    choices were made on the validation period."""
    if not split:
        return []
    return [
        f"Test period only (test cases from {split['test_start']}): the runs' settings were "
        f"chosen on the validation period (from {split['val_start']}), which these numbers "
        "never include; significance tests use the test period's cases."
    ]


def variant_title(title: str, variant: str) -> str:
    """A table title that names the metric variant of its numbers."""
    return f"{title}, protocol.variant={variant}"


@dataclass(frozen=True)
class Table1:
    """``frame``: one row per frozen run (best recall first), then Random; columns
    ``backbone``, every metric label, ``imagenet_top1``, ``imagenet_top5``.
    ``correlation``: one row per metric; ``n`` backbones with top-1, and the columns of
    :data:`CORRELATIONS` (NaN with fewer than :data:`MIN_BACKBONES`)."""

    title: str
    frame: pd.DataFrame
    correlation: pd.DataFrame
    k: int
    variant: str
    split: dict[str, str] | None = None

    @property
    def n_top1(self) -> int:
        """How many frozen runs carry an ImageNet top-1 accuracy."""
        return int(self.correlation["n"].iloc[0]) if len(self.correlation) else 0

    @property
    def has_rq1(self) -> bool:
        """Enough backbones with a known top-1 for the rank correlations (RQ1)."""
        return self.n_top1 >= MIN_BACKBONES

    @property
    def note(self) -> str:
        if not self.has_rq1:
            return (
                f"No RQ1 table: rank correlations need at least {MIN_BACKBONES} frozen runs of "
                f"ImageNet weights with a known top-1 accuracy; {self.n_top1} here."
            )
        return (
            f"Rank correlation between ImageNet top-1 and each metric over {self.n_top1} "
            "backbones (two-sided p-values; Kendall's tau-b)."
        )


@dataclass(frozen=True)
class Table2:
    """Every run of a group with the paired comparison (best recall first, then Random)."""

    title: str
    comparison: Comparison
    runs: pd.DataFrame  # index: run label; columns group, task, tuning, augment, backbone, tasks
    variant: str
    split: dict[str, str] | None = None


def correlations(top1: pd.Series, metrics: pd.DataFrame) -> pd.DataFrame:
    """Kendall's tau and Spearman's rho (scipy) of ``top1`` against each column of
    ``metrics`` over the rows where ``top1`` is known; NaN below :data:`MIN_BACKBONES`."""
    known = top1.notna().to_numpy()
    x = top1[known].to_numpy(dtype=float)
    rows = []
    for metric in metrics.columns:
        y = metrics.loc[known, metric].to_numpy(dtype=float)
        row: dict[str, float] = {"metric": metric, "n": int(known.sum())}
        for statistic, p_value, function in CORRELATIONS.values():
            row[statistic], row[p_value] = np.nan, np.nan
            if known.sum() >= MIN_BACKBONES:
                with warnings.catch_warnings():  # constant input: NaN, as scipy says
                    warnings.simplefilter("ignore")
                    result = function(x, y)
                row[statistic], row[p_value] = float(result.statistic), float(result.pvalue)
        rows.append(row)
    return pd.DataFrame(rows).set_index("metric")


def table1(group: RunGroup, comparison: Comparison) -> Table1 | None:
    """Table 1 of a group's frozen runs (None when it has none), with the means of
    ``comparison`` (Table 2's, so the two tables agree to the last digit)."""
    frozen = {run.label: run for run in group.runs if run.frozen}
    if not frozen:
        return None
    means = comparison.table.xs("mean", axis=1, level=1)
    frame = means.loc[[label for label in means.index if label in frozen] + [RANDOM]]
    imagenet = {label: run.imagenet for label, run in frozen.items()}
    for column, accuracy in enumerate(IMAGENET):
        frame[accuracy] = [imagenet.get(label, (None, None))[column] for label in frame.index]
    frame = frame.astype(float)
    frame.insert(
        0, "backbone", [frozen[x].backbone_name if x in frozen else "" for x in frame.index]
    )
    frame.index.name = "run"
    labels = list(means.columns)
    correlation = correlations(frame["imagenet_top1"].drop(RANDOM), frame[labels].drop(RANDOM))
    title = variant_title(f"Table 1: frozen extractors ({group.title})", group.variant)
    return Table1(title, frame, correlation, group.k, group.variant, group.split)


def table2(group: RunGroup, *, alpha: float, n_bootstrap: int, seed: int) -> Table2:
    """Table 2: every run of ``group`` compared on its test cases."""
    ordered = sorted(group.runs, key=lambda run: -float(run.per_case["recall"].mean()))
    comparison = compare_systems(
        {run.label: run.per_case for run in ordered},
        group.random_per_case(),
        group.k,
        alpha=alpha,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    info = pd.DataFrame(
        [
            {
                "run": run.label,
                "group": run.group,
                "task": run.task,
                "tuning": run.tuning,
                "augment": run.augment,
                "backbone": run.backbone_name,
                "tasks": run.tasks,
            }
            for run in ordered
        ]
    ).set_index("run")
    title = variant_title(f"Table 2: all runs ({group.title})", group.variant)
    return Table2(title, comparison, info, group.variant, group.split)


def table1_text(table: Table1) -> list[TextTable]:
    """Table 1 (the paper's four metrics and ImageNet accuracy), and its correlations where
    there are enough backbones with a known top-1 (else Table 1's notes say why not)."""
    labels = [metric_key(name, table.k) for name in TABLE1_METRICS]
    runs = table.frame.drop(RANDOM)
    best = {label: runs[label].max() for label in labels}
    rows = []
    for name, values in table.frame.iterrows():
        cells = [Cell(str(name)), Cell(str(values["backbone"]))]
        cells += [
            Cell(number(values[label]), bold=name != RANDOM and values[label] == best[label])
            for label in labels
        ]
        cells += [Cell(number(values[column], 1)) for column in IMAGENET]
        rows.append(cells)
    header = ["run", "backbone", *map(short_label, labels), "ImageNet top-1", "top-5"]
    main = TextTable(
        table.title,
        header,
        rows,
        frozenset({len(rows) - 1}),
        [
            "Bold: best in its column. Random: exact expectation under a random ranking.",
            variant_note(table.variant),
            *period_notes(table.split),
            *([] if table.has_rq1 else [table.note]),
        ],
        left=2,
    )
    if not table.has_rq1:
        return [main]
    correlation = [
        [Cell(metric), Cell(str(int(values["n"])))]
        + [Cell(number(values[c], 3, "NaN")) for pair in CORRELATIONS.values() for c in pair[:2]]
        for metric, values in table.correlation.iterrows()
    ]
    header = ["metric", "backbones"]
    for name in CORRELATIONS:
        header += [name, "p"]
    corr = TextTable(
        "ImageNet top-1 vs recommendation (RQ1)", header, correlation, notes=[table.note]
    )
    return [main, corr]


def table2_text(table: Table2) -> TextTable:
    """Table 2: the paper's six metrics, best bold, daggers for significantly worse."""
    comparison = table.comparison
    labels = [metric_key(name, comparison.k) for name in TABLE2_METRICS]
    rows = []
    for system in comparison.table.index:
        tuning = str(table.runs["tuning"].get(system, ""))
        augment = table.runs["augment"].get(system, "")
        cells = [Cell(str(system)), Cell(f"{tuning} ({augment})" if augment else tuning)]
        for label in labels:
            stats_ = comparison.table.loc[system, label]
            cells.append(
                Cell(number(stats_["mean"]), bool(stats_["is_best"]), bool(stats_["significant"]))
            )
        rows.append(cells)
    header = ["run", "tuning", *map(short_label, labels)]
    note = (
        f"Mean over {comparison.n_cases} test cases. Bold: best in its column. †: "
        "significantly worse than the best (paired Wilcoxon signed-rank test over test cases, "
        f"Holm-corrected per column, p < {comparison.alpha:g}). Random: exact expectation. "
        f"{100 * (1 - comparison.alpha):g}% bootstrap intervals in the CSV and the figures."
    )
    notes = [
        note,
        "Deep tuning's training augmentation in brackets.",
        variant_note(table.variant),
        *period_notes(table.split),
    ]
    return TextTable(table.title, header, rows, frozenset({len(rows) - 1}), notes, left=2)


def write_tables(t1: Table1 | None, t2: Table2, out: Path) -> list[Path]:
    """table1.{md,csv,tex}, table1_correlation.csv (with RQ1), table2.{md,csv,tex} into
    ``out``."""
    written = []
    if t1 is not None:
        texts = table1_text(t1)
        written += _write(out / "table1", "\n".join(map(to_markdown, texts)), t1.frame)
        write_text_atomic(out / "table1.tex", "\n".join(map(to_latex, texts)))
        written.append(out / "table1.tex")
        if t1.has_rq1:
            write_csv_atomic(t1.correlation.reset_index(), out / "table1_correlation.csv")
            written.append(out / "table1_correlation.csv")
    text = table2_text(t2)
    long = t2.comparison.long().rename(columns={"system": "run"})
    long = long.merge(t2.runs.reset_index(), on="run", how="left")
    written += _write(out / "table2", to_markdown(text), long.set_index("run"))
    write_text_atomic(out / "table2.tex", to_latex(text))
    return [*written, out / "table2.tex"]


def _write(stem: Path, markdown: str, frame: pd.DataFrame) -> list[Path]:
    md, csv = stem.with_suffix(".md"), stem.with_suffix(".csv")
    write_text_atomic(md, markdown)
    write_csv_atomic(frame.reset_index(), csv)
    return [md, csv]
