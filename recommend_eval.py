"""Evaluate embeddings with the purchase-prediction protocol (docs/protocol.md).

python recommend_eval.py dataset=folder dataset.root=ROOT embeddings=FILE.npz hydra.run.dir=OUT
"""

import hydra
from omegaconf import DictConfig

from artrec.tasks import config_store
from artrec.tasks.entry import register_resolvers, run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="recommend_eval")
def main(cfg: DictConfig) -> float:
    return run_task("recommend_eval", cfg)  # imported here: --help stays fast


if __name__ == "__main__":
    register_resolvers()  # ${artrec.sweep_name:...} / ${artrec.job_name:...} in conf/hydra/
    config_store.register("recommend_eval")  # the typed schemas conf/*.yaml start from
    main()
