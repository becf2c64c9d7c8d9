"""Test-wide settings: offline, no prompts, caches in a temporary folder."""

from __future__ import annotations

import os
import tempfile

# Set before any test imports huggingface_hub, wandb or artrec's cache helpers.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "offline"
os.environ.setdefault("ARTREC_CACHE", tempfile.mkdtemp(prefix="artrec-test-cache-"))

from artrec.tasks import config_store  # after the environment above

config_store.register()  # the schemas conf/*.yaml start from, as the entry scripts register
