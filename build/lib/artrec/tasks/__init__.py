"""``run(cfg)`` for each entry script: plain functions over plain config dicts, no Hydra."""
