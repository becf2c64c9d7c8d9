"""``make demo``: the whole pipeline on the embedded demo gallery, offline, in minutes.

1. generate the gallery (first run only) and print its summary;
2. embed every item with four extractors (ImageNet EfficientNet-Lite0, the same network
   randomly initialised, a randomly initialised ResNet-18, the colour histogram);
3. fine-tune: ``python train.py``'s default run (deep tuning of the ImageNet
   EfficientNet-Lite0 on the artists), printing before / after / Random;
4. the comparison report of all five runs (tables with the Random row and significance
   markers, figures, recommendation galleries) as one self-contained HTML file.

Every setting is conf/experiment/demo.yaml's (``experiment=demo``); this module only names
the runs. Each step is a job with the run-directory bookkeeping (config.yaml, run.json):
completed runs are reused, an interrupted fine-tuning resumes, so a second ``make demo``
only rewrites the report.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from artrec.console import make_console
from artrec.data.source import load_configured_dataset
from artrec.data.summary import summarize, summary_table
from artrec.reporting.report import write_report
from artrec.tasks import config_store, extract, train
from artrec.tasks.entry import plain_config
from artrec.tasks.jobs import run_job, typed

REPO = Path(__file__).resolve().parents[2]
OUT = Path("outputs") / "demo"
# The frozen extractors: python extract.py experiment=demo <overrides>.
SYSTEMS = {
    "efficientnet_lite0_imagenet": ["backbone=efficientnet_lite0"],
    "efficientnet_lite0_random": ["backbone=efficientnet_lite0", "backbone.pretrained=false"],
    "resnet18_random": ["backbone=resnet18", "backbone.pretrained=false"],
    "color_histogram": ["backbone=color_histogram"],
}
FINETUNED = "efficientnet_lite0_deep_artist"  # python train.py experiment=demo


def _config(name: str, overrides: list[str]) -> dict:
    """conf/<name>.yaml with ``experiment=demo`` and ``overrides``, resolved (as a run's)."""
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(name, overrides=["experiment=demo", *overrides])
    return plain_config(cfg)


def main() -> None:
    config_store.register()
    console = make_console()
    settings = typed(extract.TASK, _config("extract", [f"output_dir={OUT}"]))
    console.print(summary_table(summarize(load_configured_dataset(settings.dataset))))
    for name, overrides in SYSTEMS.items():
        console.rule(f"[bold]{name}")
        run_job(extract.TASK, _config("extract", [*overrides, f"output_dir={OUT / name}"]))
    console.rule(f"[bold]{FINETUNED}: python train.py")
    run_job(train.TASK, _config("train", [f"output_dir={OUT / FINETUNED}"]))
    console.rule("[bold]Comparison on the demo gallery")
    runs = [OUT / name for name in [*SYSTEMS, FINETUNED]]
    index = write_report(runs, OUT / "report", console=console)
    console.print(f"Report: {index.resolve()}")


if __name__ == "__main__":
    main()
