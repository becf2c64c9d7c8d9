"""Fine-tune a backbone + 1024-d shared layer + task heads; judge the embedding by the protocol.

python train.py                                   # the demo
python train.py tuning=shallow tasks=artist_medium dataset=ugallery dataset.root=ROOT
python train.py ... hydra.run.dir=OUT       # the same command again resumes a killed run
"""

import hydra
from omegaconf import DictConfig

from artrec.tasks import config_store
from artrec.tasks.entry import register_resolvers, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return run_task("train", cfg)  # imported here: --help stays fast


if __name__ == "__main__":
    register_resolvers()  # ${artrec.sweep_name:...} / ${artrec.job_name:...} in conf/hydra/
    config_store.register("train")  # the typed schemas conf/*.yaml start from
    main()
