"""The predict-loop embedder: same vectors as a direct forward pass; padding and failures."""

from __future__ import annotations

import numpy as np
import torch

from artrec.data import load_dataset
from artrec.data.images import ItemImages
from artrec.models.backbone import BackboneSpec, build_backbone
from artrec.models.embedder import embed_images, merge_shards
from tests.fixtures import write_image_dataset

CPU = {"accelerator": "cpu", "devices": 1, "strategy": "auto", "precision": "32-true"}


def test_embeddings_equal_a_direct_forward_pass(tmp_path):
    dataset = load_dataset(write_image_dataset(tmp_path / "ds", n_items=7))
    paths = dataset.items["image"].tolist()
    paths[3] = str(tmp_path / "missing.jpg")
    torch.manual_seed(0)
    backbone = build_backbone(BackboneSpec(name="test_efficientnet", pretrained=False))
    transform = backbone.transform()
    images = ItemImages(paths, transform)
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
    rows, vectors, failed = merge_shards(tmp_path)
    assert rows.tolist() == [0, 1, 2, 4]
    np.testing.assert_array_equal(vectors, vec[[0, 1, 2, 4]].numpy())
    assert failed.tolist() == [3]
