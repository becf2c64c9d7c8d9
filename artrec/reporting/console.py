"""Console tables of protocol results (rich), printed through artrec.console. Imported by
every command line before it parses its arguments, so it imports no torch, pandas or scipy
at the top (``--help`` stays fast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from artrec.console import BOX

if TYPE_CHECKING:
    from artrec.recsys.compare import Comparison
    from artrec.recsys.result import EvalResult

SHORT_NAMES = {
    "recall": "R",
    "precision": "P",
    "f1": "F1",
    "map": "MAP",
    "mrr": "MRR",
    "ndcg": "nDCG",
    "auc": "AUC",
}


def result_table(result: EvalResult, title: str) -> Table:
    """Metrics per test case, per user, and the exact Random expectation, one column each;
    with ``protocol.split=time`` the test period's, and the validation period's mean first."""
    table = Table(title=title, title_justify="left", box=BOX)
    table.add_column("metric")
    columns = ["mean over test cases", "mean over users", "Random (exact)"]
    if result.val:
        columns = ["val: mean over cases", *(f"test: {column}" for column in columns)]
    for column in columns:
        table.add_column(column, justify="right")
    for name, value in result.metrics.items():
        table.add_row(
            name,
            *([f"{result.val.metrics[name]:.4f}"] if result.val else []),
            f"{value:.4f}",
            f"{result.metrics_by_user[name]:.4f}",
            f"{result.random[name]:.4f}",
        )
    table.caption = (
        f"{result.n_test_cases} test cases from {result.n_users} users; "
        f"{result.n_skipped} skipped (no relevant candidate); "
        f"MAP and nDCG: protocol.variant={result.protocol['variant']}"
        + (
            f"; {result.n_dropped_items} items without embedding dropped"
            if result.n_dropped_items
            else ""
        )
    )
    if result.cuts:
        table.caption += (
            f"; the test period's (from {result.cuts['test_start']}), validation from "
            f"{result.cuts['val_start']} ({result.val.n_test_cases} cases)"
        )
    return table


def comparison_table(comparison: Comparison, title: str) -> Table:
    """One row per system plus Random: the mean per metric, best bold, daggers (the
    intervals are in comparison.md / comparison.csv)."""
    from artrec.recsys.compare import DAGGER

    table = Table(title=title, title_justify="left", box=BOX)
    table.add_column("system", overflow="fold", min_width=12)
    for metric in comparison.metrics:
        table.add_column(_short(metric), justify="right", no_wrap=True)
    for system in comparison.table.index:
        cells = []
        for metric in comparison.metrics:
            stats = comparison.table.loc[system, metric]
            text = f"{stats['mean']:.4f}{DAGGER if stats['significant'] else ''}"
            text = f"[bold]{text}[/bold]" if stats["is_best"] else text
            cells.append(text)
        table.add_row(system, *cells)
    table.caption = (
        f"{comparison.n_cases} test cases; bold = best; "
        f"{DAGGER} = significantly worse than the best (Wilcoxon, Holm, p < {comparison.alpha:g}); "
        "Random = exact expectation; intervals in comparison.md"
    )
    return table


def _short(metric: str) -> str:
    """``recall@20`` -> ``R@20``, as the paper's tables write them."""
    name, _, k = metric.partition("@")
    short = SHORT_NAMES.get(name, name)
    return f"{short}@{k}" if k else short
