"""Embedding across ranks: the predict loop (extract) and the in-fit loop (the evaluation
callback) share one path and give the same vectors as a direct forward pass; the merge
drops padding and reads only this run's ranks."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from artrec.data import load_dataset
from artrec.data.images import ItemImages
from artrec.models.backbone import BackboneSpec, build_backbone
from artrec.models.embedder import EmbedderModule, embed_images, embed_in_fit, forward, merge_shards
from tests.fixtures import write_image_dataset

CPU = {"accelerator": "cpu", "devices": 1, "strategy": "auto", "precision": "32-true"}


def images_and_backbone(tmp_path):
    """Seven images, the fourth missing; a tiny random backbone."""
    dataset = load_dataset(write_image_dataset(tmp_path / "ds", n_items=7))
    paths = dataset.items["image"].tolist()
    paths[3] = str(tmp_path / "missing.jpg")
    torch.manual_seed(0)
    backbone = build_backbone(BackboneSpec(name="test_efficientnet", pretrained=False))
    return ItemImages(paths, backbone.transform()), backbone


def test_embeddings_equal_a_direct_forward_pass(tmp_path):
    images, backbone = images_and_backbone(tmp_path)
    rows, vectors, failed = embed_images(
        images,
        backbone,
        trainer_cfg=CPU,
        shard_dir=tmp_path / "shards",
        batch_size=3,
        num_workers=0,
        progress=False,
    )
    assert rows.tolist() == [0, 1, 2, 4, 5, 6]
    assert failed.tolist() == [3]
    with torch.no_grad():
        expected = backbone(torch.stack([images[r][0] for r in rows.tolist()]))
    np.testing.assert_allclose(vectors, expected.numpy(), rtol=1e-5, atol=1e-6)
    assert not (tmp_path / "shards").exists()


def test_merge_drops_distributed_padding(tmp_path):
    vec = torch.arange(10, dtype=torch.float32).reshape(5, 2)
    torch.save(
        {
            "rows": torch.tensor([0, 2, 4]),
            "ok": torch.tensor([True, True, True]),
            "vectors": vec[[0, 2, 4]],
        },
        tmp_path / "rank0.pt",
    )
    # rank 1 got rows 1, 3 and the padding repeat of row 0; row 3 was unreadable
    torch.save(
        {
            "rows": torch.tensor([1, 3, 0]),
            "ok": torch.tensor([True, False, True]),
            "vectors": vec[[1, 0]],
        },
        tmp_path / "rank1.pt",
    )
    torch.save({"rows": torch.tensor([9])}, tmp_path / "rank2.pt")  # a larger crashed run's
    rows, vectors, failed = merge_shards(tmp_path, world_size=2)
    assert rows.tolist() == [0, 1, 2, 4]
    np.testing.assert_array_equal(vectors, vec[[0, 1, 2, 4]].numpy())
    assert failed.tolist() == [3]


def rank(number: int, world_size: int) -> SimpleNamespace:
    """What embed_in_fit reads of a trainer on rank ``number`` (one process plays both)."""
    return SimpleNamespace(
        global_rank=number,
        world_size=world_size,
        is_global_zero=number == 0,
        strategy=SimpleNamespace(barrier=lambda: None),
    )


def test_in_fit_shares_on_two_ranks_merge_to_the_predict_loops_result(tmp_path):
    images, backbone = images_and_backbone(tmp_path)
    expected = embed_images(
        images, backbone, trainer_cfg=CPU, shard_dir=tmp_path / "p", num_workers=0, progress=False
    )
    module, shards = EmbedderModule(backbone), tmp_path / "shards"
    module.train()
    assert embed_in_fit(rank(1, 2), module, images, forward, shard_dir=shards) is None
    assert (shards / "rank1.pt").is_file()  # rank 1's share: rows 1, 3, 5 (3 failed)
    rows, vectors, failed = embed_in_fit(rank(0, 2), module, images, forward, shard_dir=shards)
    assert module.training and not shards.exists()  # mode restored, shares removed
    assert rows.tolist() == expected[0].tolist() == [0, 1, 2, 4, 5, 6]
    assert failed.tolist() == expected[2].tolist() == [3]
    np.testing.assert_allclose(vectors, expected[1], rtol=1e-5, atol=1e-6)


def test_the_evaluation_callback_passes_its_loader_settings_on(tmp_path, monkeypatch):
    """RecEvalCallback's ``num_workers`` and ``batch_size`` reach the embedding loader."""
    from artrec.callbacks import rec_eval
    from artrec.recsys.config import ProtocolConfig

    seen = {}

    def spy(trainer, module, inputs, fn, **kwargs):
        seen.update(kwargs)
        return None  # as on a non-zero rank: nothing to evaluate

    monkeypatch.setattr(rec_eval, "embed_in_fit", spy)
    callback = rec_eval.RecEvalCallback(
        None, [], ProtocolConfig(), tmp_path, batch_size=7, num_workers=3
    )
    trainer = SimpleNamespace(strategy=SimpleNamespace(barrier=lambda: None))
    callback._run(trainer, None, rec_eval.start_embedding, "rec_start", tmp_path / "start")
    assert (seen["num_workers"], seen["batch_size"]) == (3, 7)
