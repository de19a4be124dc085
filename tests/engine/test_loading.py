"""File-backed batches decoded by DataLoader workers: the same tensors as on the training thread, same errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pipeline.data import load_dataset
from pipeline.engine.loading import batches_of
from pipeline.io import PruneError


def _folder(root, n_per_class=6):
    from PIL import Image

    rng = np.random.RandomState(0)
    for split in ("train", "val"):
        for cls in ("a", "b"):
            for i in range(n_per_class):
                p = root / split / cls / f"{i}.png"
                p.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(rng.randint(0, 256, (8, 8, 3)).astype(np.uint8), "RGB").save(p)
    return load_dataset("imagefolder", data_dir=root)


def test_workers_decode_the_same_batches_in_order(tmp_path):
    b = _folder(tmp_path)
    order = [np.array([3, 0, 7]), np.array([11, 2]), np.array([5, 6, 1, 9])]
    here = [b.train.take(ids, "cpu") for ids in order]
    for workers in (0, 1, 2):
        got = list(batches_of(b.train, order, "cpu", workers=workers))
        assert len(got) == 3 and all(torch.equal(g, h) for g, h in zip(got, here))


def test_an_unreadable_image_is_the_same_one_line_error_from_a_worker(tmp_path):
    b = _folder(tmp_path)
    b.train.files[4].write_bytes(b"\x89PNG not really")
    with pytest.raises(PruneError, match="cannot read image .*4.png"):
        list(batches_of(b.train, [np.array([0, 1]), np.array([4, 5])], "cpu", workers=2))
