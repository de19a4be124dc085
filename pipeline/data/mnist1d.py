"""MNIST-1D from the `mnist1d` package's own generator, cached as .npz."""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
from pathlib import Path

import numpy as np

from .base import DataBundle, Split, make_bundle

NUM_SAMPLES = 20_000  # 16,000 train / 4,000 test with the generator's train_split of 0.8


def _generator_args():
    from mnist1d.data import get_dataset_args

    args = get_dataset_args()
    args.num_samples = NUM_SAMPLES
    return args


def cache_path(data_dir: Path) -> Path:
    """Cache file for the current generator parameters (and package version)."""
    from importlib.metadata import PackageNotFoundError, version

    args = _generator_args()
    params = {k: v for k, v in sorted(vars(args).items()) if k != "url"}
    try:
        params["mnist1d_version"] = version("mnist1d")
    except PackageNotFoundError:
        params["mnist1d_version"] = "unknown"
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    name = (
        f"mnist1d_n{args.num_samples}_seed{args.seed}_split{args.train_split}"
        f"_len{args.final_seq_length}_{digest}.npz"
    )
    return Path(data_dir) / name


def generate() -> dict[str, np.ndarray]:
    """Run `mnist1d.data.make_dataset`, leaving numpy's and Python's global RNG as they were."""
    from mnist1d.data import make_dataset

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(_generator_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x_train": raw["x"].astype(np.float32)[:, None, :],
        "y_train": raw["y"].astype(np.int64),
        "x_test": raw["x_test"].astype(np.float32)[:, None, :],
        "y_test": raw["y_test"].astype(np.int64),
    }


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except Exception:  # missing, truncated or foreign file: regenerate
        return None
    n_train = int(NUM_SAMPLES * _generator_args().train_split)
    ok = (
        arrays["x_train"].shape[0] == arrays["y_train"].shape[0] == n_train
        and arrays["x_test"].shape[0] == arrays["y_test"].shape[0] == NUM_SAMPLES - n_train
        and arrays["x_train"].dtype == np.float32
        and arrays["y_train"].dtype == np.int64
    )
    return arrays if ok else None


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    except OSError:
        return  # read-only data dir: the data set still loads, just without a cache
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def load(data_dir: Path, download: bool = False) -> DataBundle:
    path = cache_path(data_dir)
    arrays = _read_cache(path)
    if arrays is None:
        arrays = generate()
        _write_cache(path, arrays)
    import torch

    train = Split(y=arrays["y_train"], x=torch.from_numpy(arrays["x_train"]))
    test = Split(y=arrays["y_test"], x=torch.from_numpy(arrays["x_test"]))
    classes = [str(k) for k in range(10)]
    return make_bundle("mnist1d", classes, (1, arrays["x_train"].shape[-1]), train, test)
