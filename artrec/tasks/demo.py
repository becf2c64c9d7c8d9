"""``make demo``: the whole pipeline on the embedded demo gallery, offline, in minutes.

1. generate the gallery (first run only) and print its summary;
2. embed every item with four extractors (ImageNet EfficientNet-Lite0, the same network
   randomly initialised, a randomly initialised ResNet-18, the colour histogram);
3. fine-tune: ``python train.py``'s default run (deep tuning of the ImageNet
   EfficientNet-Lite0 on the artists), printing before / after / Random;
4. judge all five embeddings on the same test cases: the comparison with the Random row.

Completed extractions and a completed fine-tuning run are reused, so a second
``make demo`` only re-evaluates.
"""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from artrec.data.source import load_configured_dataset
from artrec.data.summary import summarize, summary_table
from artrec.reporting.console import make_console
from artrec.tasks import extract, recommend_eval, train

REPO = Path(__file__).resolve().parents[2]
OUT = Path("outputs") / "demo"
INPUT_SIZE = "backbone.input_size=128"  # the gallery's images are 128 px
SYSTEMS = {
    "efficientnet_lite0_imagenet": ["backbone=efficientnet_lite0", INPUT_SIZE],
    "efficientnet_lite0_random": [
        "backbone=efficientnet_lite0",
        "backbone.pretrained=false",
        INPUT_SIZE,
    ],
    "resnet18_random": ["backbone=resnet18", "backbone.pretrained=false", INPUT_SIZE],
    "color_histogram": ["backbone=color_histogram"],
}
FINETUNED = "efficientnet_lite0_deep_artist"


def _config(name: str, overrides: list[str]) -> dict:
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(name, overrides=overrides)
    return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)


def main() -> None:
    console = make_console()
    dataset_cfg = _config("extract", [f"output_dir={OUT}"])["dataset"]
    console.print(summary_table(summarize(load_configured_dataset(dataset_cfg))))
    for name, overrides in SYSTEMS.items():
        console.rule(f"[bold]{name}")
        extract.run(_config("extract", [*overrides, "evaluate=false", f"output_dir={OUT / name}"]))
    console.rule(f"[bold]{FINETUNED}: python train.py")
    if (OUT / FINETUNED / "metrics.json").is_file():
        console.print(f"{OUT / FINETUNED} is complete; skipping training.")
    else:
        train.run(_config("train", [f"output_dir={OUT / FINETUNED}"]))
    console.rule("[bold]Comparison on the demo gallery")
    files = [str(OUT / name / extract.EMBEDDINGS_FILE) for name in [*SYSTEMS, FINETUNED]]
    recommend_eval.run(
        _config("recommend_eval", [f"embeddings=[{','.join(files)}]", f"output_dir={OUT}"])
    )


if __name__ == "__main__":
    main()
