"""What a dataset holds: counts, label coverage, transactions per user, items per basket.

``python -m artrec.data.summary ROOT`` (or ``--demo``) prints it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

import pandas as pd
from rich.table import Table

from artrec.console import make_console
from artrec.data.dataset import Dataset, load_dataset
from artrec.data.image_check import check_images
from artrec.errors import ArtrecError

TOP_LABELS = 5


@dataclass
class DatasetSummary:
    """Counts and distributions of one dataset (plain numbers, ready for JSON)."""

    root: str
    n_items: int
    n_users: int
    n_purchases: int
    n_transactions: int
    n_test_cases: int  # transactions of users with an earlier transaction (min_profile=1)
    n_unique_items: int | None  # items marked unique=true, None without the column
    time_format: str | None
    label_coverage: dict[str, float] = field(default_factory=dict)  # share of items labelled
    label_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # top values
    label_cardinality: dict[str, int] = field(default_factory=dict)
    transactions_per_user: dict[str, float] = field(default_factory=dict)
    items_per_transaction: dict[str, float] = field(default_factory=dict)


def summarize(dataset: Dataset) -> DatasetSummary:
    """Summarise ``dataset`` without touching its images."""
    baskets = dataset.transactions
    per_user = baskets.groupby("user_id").size() if len(baskets) else pd.Series(dtype=int)
    sizes = baskets["items"].map(len) if len(baskets) else pd.Series(dtype=int)
    items = dataset.items
    summary = DatasetSummary(
        root=str(dataset.root),
        n_items=len(items),
        n_users=int(dataset.purchases["user_id"].nunique()),
        n_purchases=len(dataset.purchases),
        n_transactions=len(baskets),
        n_test_cases=int((per_user - 1).clip(lower=0).sum()),
        n_unique_items=int(items["unique"].fillna(False).sum()) if "unique" in items else None,
        time_format=dataset.time_format,
        transactions_per_user=_describe(per_user),
        items_per_transaction=_describe(sizes),
    )
    for column in dataset.label_columns:
        values = items[column].dropna()
        summary.label_coverage[column] = round(len(values) / max(len(items), 1), 4)
        summary.label_cardinality[column] = int(values.nunique())
        top = values.value_counts().head(TOP_LABELS)
        summary.label_counts[column] = {str(k): int(v) for k, v in top.items()}
    return summary


def _describe(values: pd.Series) -> dict[str, float]:
    if values.empty:
        return {}
    return {
        "mean": round(float(values.mean()), 3),
        "median": float(values.median()),
        "max": int(values.max()),
        "share of 1": round(float((values == 1).mean()), 3),
    }


def summary_table(summary: DatasetSummary) -> Table:
    """A rich table of ``summary`` for the console."""
    table = Table(title=f"Dataset {summary.root}", show_header=False, title_justify="left")
    rows = [
        ("items", summary.n_items),
        ("unique (one-of-a-kind) items", summary.n_unique_items),
        ("users", summary.n_users),
        ("purchases", summary.n_purchases),
        ("transactions", summary.n_transactions),
        ("test cases (min_profile=1)", summary.n_test_cases),
        ("time format", summary.time_format),
        ("transactions per user", summary.transactions_per_user),
        ("items per transaction", summary.items_per_transaction),
    ]
    for column, coverage in summary.label_coverage.items():
        top = ", ".join(f"{k}: {v}" for k, v in summary.label_counts[column].items())
        rows.append(
            (
                f"label '{column}'",
                f"{summary.label_cardinality[column]} values, {coverage:.0%} labelled; top: {top}",
            )
        )
    for name, value in rows:
        table.add_row(name, _format_value(value))
    return table


def _format_value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m artrec.data.summary", description=__doc__)
    parser.add_argument("root", nargs="?", help="dataset directory (canonical layout)")
    parser.add_argument("--demo", action="store_true", help="summarise the demo gallery")
    parser.add_argument("--allow-absolute-images", action="store_true")
    parser.add_argument("--check-images", action="store_true", help="decode every image too")
    args = parser.parse_args(argv)
    console = make_console()
    try:
        if args.demo:
            from artrec.data.gallery import ensure_gallery

            args.root = ensure_gallery()
        if not args.root:
            parser.error("give a dataset ROOT or --demo")
        dataset = load_dataset(args.root, allow_absolute_images=args.allow_absolute_images)
        console.print(summary_table(summarize(dataset)))
        if args.check_images:
            console.print(check_images(dataset, progress=True).summary())
    except ArtrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
