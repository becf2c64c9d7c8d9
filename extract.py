"""Embed every item with a frozen backbone: embeddings.npz (docs/data.md), then the protocol.

python extract.py dataset=demo backbone=efficientnet_lite0
python extract.py -m backbone=resnet50,vgg19 dataset=ugallery dataset.root=ROOT
"""

import hydra
from omegaconf import DictConfig

from artrec.tasks import config_store
from artrec.tasks.entry import register_resolvers, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="extract")
def main(cfg: DictConfig) -> float | None:
    return run_task("extract", cfg)  # imported here: --help stays fast


if __name__ == "__main__":
    register_resolvers()  # ${artrec.sweep_name:...} / ${artrec.job_name:...} in conf/hydra/
    config_store.register("extract")  # the typed schemas conf/*.yaml start from
    main()
