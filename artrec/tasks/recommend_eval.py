"""recommend_eval: judge one or several embeddings files by the purchase-prediction protocol.

One file writes ``metrics.json`` and ``per_case.csv`` into the output directory
(docs/outputs.md). Several files are evaluated on the same test cases: each one's results go to
``systems/<name>/`` and the paired comparison to ``comparison.md`` / ``comparison.csv``.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from artrec.console import make_console
from artrec.data.fingerprint import dataset_inputs
from artrec.data.source import load_configured_dataset
from artrec.embeddings import find_embedding_files, load_embeddings
from artrec.faults import fault_point
from artrec.recsys.compare import compare_systems, write_comparison
from artrec.recsys.config import CompareConfig
from artrec.recsys.evaluate import evaluate
from artrec.recsys.result import EvalResult, write_result
from artrec.reporting.console import comparison_table, result_table
from artrec.rundir import SYSTEMS_DIR, file_digest
from artrec.tasks.configs import RecommendEvalConfig
from artrec.tasks.jobs import Task
from artrec.tasks.objective import in_multirun, objective_value


def inputs(cfg: RecommendEvalConfig) -> dict[str, str]:
    """What an evaluation reads: the dataset's CSV files and every embeddings file."""
    dataset = load_configured_dataset(cfg.dataset, require_purchases=True)
    found = dataset_inputs(dataset, images=False)
    for name, path in find_embedding_files(cfg.embeddings).items():
        found[f"embeddings/{name}"] = file_digest(path)
    return found


def run(cfg: RecommendEvalConfig) -> float:
    """Evaluate every embeddings file ``cfg.embeddings`` names; return the sweep objective
    (recall@k of the only system, or the best recall@k of several; with
    ``protocol.split=time`` the validation period's)."""
    console = make_console()
    dataset = load_configured_dataset(cfg.dataset, require_purchases=True)
    protocol = cfg.protocol
    files = find_embedding_files(cfg.embeddings)
    out = Path(cfg.output_dir)
    results: dict[str, EvalResult] = {}
    for name, path in files.items():
        result = evaluate(dataset, load_embeddings(path), protocol, progress=cfg.progress)
        target = out if len(files) == 1 else out / SYSTEMS_DIR / name
        fault_point("evaluated")
        write_result(result, target, embeddings_label=str(path), dataset_label=str(dataset.root))
        if len(files) == 1:
            console.print(result_table(result, title=f"{name}  ({path})"))
        results[name] = result
    if len(results) > 1:
        _compare(results, cfg.compare, out, console)
    console.print(f"Results written to {out}")
    objective, multirun = f"rec/recall@{protocol.k}", in_multirun()
    return max(
        objective_value(result.logged_metrics(), objective, protocol.split, multirun=multirun)
        for result in results.values()
    )


def _compare(
    results: dict[str, EvalResult], settings: CompareConfig, out: Path, console: Console
) -> None:
    first = next(iter(results.values()))
    comparison = compare_systems(
        {name: result.per_case for name, result in results.items()},
        first.random_per_case,
        first.k,
        alpha=settings.alpha,
        n_bootstrap=settings.n_bootstrap,
        seed=settings.seed,
    )
    write_comparison(comparison, out)
    console.print(
        comparison_table(comparison, title=f"{len(results)} systems on the same test cases")
    )


TASK = Task("recommend_eval", run, schema=RecommendEvalConfig, inputs=inputs)
