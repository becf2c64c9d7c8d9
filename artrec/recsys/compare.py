"""Compare recommendation systems evaluated on the same test cases (docs/outputs.md per_case.csv).

Per metric: the mean over test cases with a paired percentile-bootstrap interval, and a
paired Wilcoxon signed-rank test of every other system (and the random baseline) against
the best one, Holm-corrected within the metric. Works on plain data frames so any source
of per-case results (a protocol run, or per_case.csv files read back) can be compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from artrec.data.csvio import write_csv_atomic
from artrec.errors import ComparisonError, ConfigError, preview
from artrec.io import write_text_atomic
from artrec.recsys.config import CompareConfig
from artrec.recsys.periods import PERIOD, TEST
from artrec.recsys.stats import bootstrap_means, holm, paired_wilcoxon, percentile_ci

#: per_case.csv metric column -> its label in tables (``{k}`` is the cut-off).
METRIC_LABELS: dict[str, str] = {
    "recall": "recall@{k}",
    "precision": "precision@{k}",
    "f1": "f1@{k}",
    "map": "map@{k}",
    "mrr": "mrr@{k}",
    "ndcg": "ndcg@{k}",
    "auc": "auc",
}
#: Columns that identify a test case; they must agree row by row across systems.
CASE_KEYS = ("user_id", "time", "n_candidates", "n_relevant")
RANDOM = "Random"
STATS = ("mean", "ci_low", "ci_high", "p_value", "p_holm", "significant", "is_best")
CSV_COLUMNS = ("system", "metric", *STATS)
DAGGER = "†"
_MARKDOWN_SPECIALS = {"&": "&amp;", "<": "&lt;", ">": "&gt;"} | {
    char: "\\" + char for char in "\\`*_[]|"
}


def metric_labels(k: int) -> list[str]:
    """The table labels of the metrics, in per_case.csv order (``recall@20``, ..., ``auc``)."""
    return [template.format(k=k) for template in METRIC_LABELS.values()]


@dataclass(frozen=True)
class Comparison:
    """The comparison table and the settings that produced it.

    ``table`` has one row per system, then ``Random`` (index ``system``), and columns
    ``(metric label, stat)`` with stat in :data:`STATS`. ``p_value``/``p_holm`` are NaN for
    the reference (first best) row of a metric; ``is_best`` marks every row tied for best.
    """

    table: pd.DataFrame
    k: int
    alpha: float
    n_cases: int
    n_bootstrap: int
    seed: int

    @property
    def metrics(self) -> list[str]:
        """Metric labels in table order."""
        return list(dict.fromkeys(self.table.columns.get_level_values(0)))

    def long(self) -> pd.DataFrame:
        """One row per (system, metric) with the columns of comparison.csv."""
        rows = [
            {"system": system, "metric": metric, **self.table.loc[system, metric].to_dict()}
            for system in self.table.index
            for metric in self.metrics
        ]
        frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
        return frame.astype({"significant": bool, "is_best": bool})

    def to_markdown(self) -> str:
        """A Markdown table (mean [CI] per cell, best bold, daggers) and its footnote."""
        header = ["system", *self.metrics]
        lines = [_md_row(header), _md_row(["---", *["---:"] * len(self.metrics)])]
        for system in self.table.index:
            cells = [_format_cell(self.table.loc[system, metric]) for metric in self.metrics]
            lines.append(_md_row([markdown_escape(system), *cells]))
        return "\n".join(lines) + "\n\n" + self._footnote() + "\n"

    def _footnote(self) -> str:
        level = f"{100 * (1 - self.alpha):g}%"
        return (
            f"Mean over {self.n_cases} test cases [{level} percentile-bootstrap interval, "
            f"{self.n_bootstrap} paired resamples of the test cases, seed {self.seed}].\n"
            f"**Bold**: best in its column. {DAGGER}: significantly worse than the best in its "
            "column (paired two-sided Wilcoxon signed-rank test over test cases, zero "
            f"differences dropped, Holm-corrected within the column, p < {self.alpha:g}).\n"
            f"{RANDOM}: exact expectation under a uniformly random ranking of the same candidates."
        )


def compare_systems(
    systems: Mapping[str, pd.DataFrame],
    random: pd.DataFrame,
    k: int,
    *,
    alpha: float = CompareConfig.alpha,
    n_bootstrap: int = CompareConfig.n_bootstrap,
    seed: int = CompareConfig.seed,
) -> Comparison:
    """Compare ``systems`` (name -> per_case table, same test cases in the same order).

    ``random`` holds the per-case exact random expectation (the metric columns; if it has
    the case-key columns they are checked too). The bootstrap draws one set of resampled
    test cases shared by every system and metric, so intervals are paired; its level is
    ``1 - alpha``, the same alpha that marks Holm-corrected p-values as significant.
    """
    _check_settings(k, alpha, n_bootstrap)
    frames = _check_cases(systems, random)
    values = np.stack([_metric_values(name, frame) for name, frame in frames.items()], axis=1)
    n_cases, n_rows, n_metrics = values.shape
    replicates = bootstrap_means(values.reshape(n_cases, -1), n_bootstrap, seed)
    low, high = percentile_ci(replicates.reshape(n_bootstrap, n_rows, n_metrics), alpha)
    parts = {
        label: _metric_stats(values[:, :, j], low[:, j], high[:, j], alpha)
        for j, label in enumerate(metric_labels(k))
    }
    table = pd.concat(parts, axis=1)
    table.index = pd.Index(list(frames), name="system")
    return Comparison(table, k, alpha, n_cases, n_bootstrap, seed)


def write_comparison(comparison: Comparison, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``comparison.md`` and ``comparison.csv`` into ``out_dir`` atomically."""
    out_dir = Path(out_dir)
    md_path, csv_path = out_dir / "comparison.md", out_dir / "comparison.csv"
    write_text_atomic(md_path, comparison.to_markdown())
    write_csv_atomic(comparison.long(), csv_path)
    return md_path, csv_path


def _metric_stats(
    values: np.ndarray, low: np.ndarray, high: np.ndarray, alpha: float
) -> pd.DataFrame:
    """The STATS columns of one metric; ``values`` is (cases, rows)."""
    means = values.mean(axis=0)
    best = int(np.argmax(means))
    p_values = np.array(
        [
            np.nan if row == best else paired_wilcoxon(values[:, row], values[:, best])
            for row in range(values.shape[1])
        ]
    )
    p_holm = holm(p_values)
    return pd.DataFrame(
        {
            "mean": means,
            "ci_low": low,
            "ci_high": high,
            "p_value": p_values,
            "p_holm": p_holm,
            "significant": np.nan_to_num(p_holm, nan=1.0) < alpha,
            "is_best": means == means[best],
        }
    )


def _check_settings(k: int, alpha: float, n_bootstrap: int) -> None:
    if int(k) != k or k < 1:
        raise ConfigError(f"k={k!r}: the metric cut-off must be a positive integer.")
    if not 0 < alpha < 1:
        raise ConfigError(f"alpha={alpha!r}: the significance level must lie in (0, 1).")
    if int(n_bootstrap) != n_bootstrap or n_bootstrap < 1:
        raise ConfigError(f"n_bootstrap={n_bootstrap!r}: must be a positive integer.")


def _check_cases(
    systems: Mapping[str, pd.DataFrame], random: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """All tables (systems, then Random) after checking they describe the same test cases.

    Case keys are compared as strings, so tables read back with every cell a string
    compare equal to tables built in memory.
    """
    if not systems:
        raise ComparisonError("No systems to compare: pass at least one per-case table.")
    if RANDOM in systems:
        raise ComparisonError(f"System name {RANDOM!r} is reserved for the random baseline.")
    frames = {**systems, RANDOM: random}
    for name, frame in frames.items():
        needed = [*(CASE_KEYS if name != RANDOM else ()), *METRIC_LABELS]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ComparisonError(
                f"Per-case table of {name!r} lacks column(s) {missing}; found "
                f"{list(frame.columns)}. Use the per_case.csv layout of docs/outputs.md."
            )
    for name, frame in frames.items():
        if PERIOD in frame.columns and (frame[PERIOD] != TEST).any():
            raise ComparisonError(
                f"Per-case table of {name!r} holds validation-period cases (column {PERIOD!r}):"
                f" compare the test period only, the rows with {PERIOD}={TEST}."
            )
    ref_name, ref = next(iter(systems.items()))
    if len(ref) == 0:
        raise ComparisonError(f"Per-case table of {ref_name!r} has no test cases.")
    ref_keys = ref[list(CASE_KEYS)].astype(str).reset_index(drop=True)
    for name, frame in frames.items():
        _check_same_cases(name, frame, ref_name, ref_keys)
    return frames


def _check_same_cases(name: str, frame: pd.DataFrame, ref_name: str, ref: pd.DataFrame) -> None:
    fix = "Evaluate every system on the same dataset with the same protocol settings."
    if len(frame) != len(ref):
        raise ComparisonError(
            f"{name!r} has {len(frame)} test cases but {ref_name!r} has {len(ref)}. {fix}"
        )
    keys = [c for c in CASE_KEYS if c in frame.columns]
    mismatch = (frame[keys].astype(str).reset_index(drop=True) != ref[keys]).any(axis=1)
    if mismatch.any():
        rows = np.flatnonzero(mismatch.to_numpy())
        row = int(rows[0])
        raise ComparisonError(
            f"{name!r} and {ref_name!r} differ in test case(s) at row(s) {preview(rows)}: "
            f"row {row} is {dict(frame[keys].astype(str).iloc[row])} in {name!r} but "
            f"{dict(ref[keys].iloc[row])} in {ref_name!r}. {fix}"
        )


def _metric_values(name: str, frame: pd.DataFrame) -> np.ndarray:
    """The metric columns of one table as floats (cases, metrics); must be finite."""
    metrics = frame[list(METRIC_LABELS)].apply(pd.to_numeric, errors="coerce")
    values = metrics.to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        column = list(METRIC_LABELS)[col]
        raise ComparisonError(
            f"Per-case table of {name!r}: {column!r} at row {row} is "
            f"{frame[column].iloc[row]!r}, not a finite number. Re-run its evaluation."
        )
    return values


def _format_cell(stats: pd.Series) -> str:
    mean = f"{stats['mean']:.4f}"
    if stats["is_best"]:
        mean = f"**{mean}**"
    if stats["significant"]:
        mean += DAGGER
    return f"{mean} [{stats['ci_low']:.3f}, {stats['ci_high']:.3f}]"


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown_escape(text: str) -> str:
    """``text`` (a run name, a label) as literal Markdown: no HTML, emphasis, link, code or
    table cell boundary can come out of it, and it stays on one line."""
    one_line = " ".join(str(text).splitlines())
    return "".join(_MARKDOWN_SPECIALS.get(char, char) for char in one_line)
