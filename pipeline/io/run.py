"""A recorded run folder: run.json, trajectories.zarr, dynamics/, eval.parquet, checkpoints/.

``run.json`` is written last by ``prune record`` (and the whole folder is
renamed into place only when complete), so its presence is the completion
marker; everything here still checks shapes so that a damaged run stops with
one line instead of a traceback deep inside a score.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pipeline.io import layout
from pipeline.io.atomic import read_json, write_json
from pipeline.io.errors import PruneError

RUN_SCHEMA_VERSION = 1
LOGITS_DIMS = ("init", "epoch", "sample", "class")
EMBEDDING_DIMS = ("init", "snapshot", "sample", "dim")
CHUNK_BYTES = 2 << 20  # ~2 MiB chunks along `sample` (DESIGN §3: 1–4 MiB)
# Logits and embeddings are stored uncompressed: zstd saved 5% on recorded MNIST-1D
# logits but made streamed reads 2.7× slower (bench/RESULTS.md, "Zarr storage").
READ_BYTES = 128 << 20  # float32 bytes of one streamed block of logits when scoring


def sample_chunk(num_classes: int, itemsize: int, n: int) -> int:
    return int(max(1, min(n, CHUNK_BYTES // max(1, num_classes * itemsize))))


def create_trajectories(path: str | os.PathLike, *, inits: int, epochs: int, targets: np.ndarray, num_classes: int,
                        dtype: str, eval_pass: bool, attrs: dict[str, Any]):
    """Create the Zarr v3 group with empty ``logits`` (and ``eval_logits``) arrays."""
    import zarr

    n = len(targets)
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.attrs.update({"schema_version": RUN_SCHEMA_VERSION, **attrs})
    names = ["logits"] + (["eval_logits"] if eval_pass else [])
    s = sample_chunk(num_classes, np.dtype(dtype).itemsize, n)
    for name in names:
        group.create_array(name, shape=(inits, epochs, n, num_classes), dtype=dtype, compressors=None,
                           chunks=(1, 1, s, num_classes), dimension_names=LOGITS_DIMS, fill_value=np.nan)
    t = group.create_array("targets", shape=(n,), dtype="int64", chunks=(n,), dimension_names=("sample",))
    t[:] = targets
    return group


def create_embeddings(group, *, inits: int, snapshots: int, n: int, dim: int, dtype: str = "float16"):
    """The ``embeddings`` array (init, snapshot, sample, dim): penultimate features at the snapshot epochs."""
    s = int(max(1, min(n, CHUNK_BYTES // max(1, dim * np.dtype(dtype).itemsize))))
    return group.create_array("embeddings", shape=(inits, snapshots, n, dim), dtype=dtype, chunks=(1, 1, s, dim), compressors=None,
                              dimension_names=EMBEDDING_DIMS, fill_value=np.nan)


@dataclass
class Run:
    path: Path
    info: dict[str, Any]

    # -- identity -------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        return self.info["fingerprint"]

    @property
    def n(self) -> int:
        return int(self.info["n_train"])

    @property
    def classes(self) -> list[str]:
        return list(self.info["classes"])

    @property
    def num_classes(self) -> int:
        return len(self.info["classes"])

    @property
    def epochs(self) -> int:
        return int(self.info["epochs"])

    @property
    def inits(self) -> int:
        return int(self.info["inits"])

    @property
    def dataset(self) -> str:
        return self.info["data"]

    # -- arrays ---------------------------------------------------------
    @cached_property
    def zarr(self):
        import zarr

        p = layout.trajectories(self.path)
        try:
            return zarr.open_group(str(p), mode="r")
        except Exception as err:  # zarr raises several types for a missing/damaged store
            raise PruneError(f"run {self.path} is truncated: cannot open {p} ({err.__class__.__name__}); record it again") from None

    def array(self, name: str):
        try:
            arr = self.zarr[name]
        except KeyError:
            raise PruneError(f"run {self.path} is truncated: trajectories.zarr has no '{name}' array") from None
        return arr

    @cached_property
    def targets(self) -> np.ndarray:
        t = np.asarray(self.array("targets")[:], dtype=np.int64)
        if len(t) != self.n:
            raise PruneError(f"run {self.path} is damaged: {len(t)} targets but run.json says {self.n} samples")
        return t

    def has(self, name: str) -> bool:
        return name in set(self.zarr.array_keys())

    def logits_array(self, name: str = "logits"):
        arr = self.array(name)
        expect = (self.inits, self.epochs, self.n, self.num_classes)
        if tuple(arr.shape) != expect:
            raise PruneError(f"run {self.path} is damaged: {name} has shape {tuple(arr.shape)}, expected {expect}")
        return arr

    def iter_logits(self, name: str = "logits", epochs: slice = slice(None), chunk: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(start, stop, float32 array (init, epoch, stop-start, class))`` over chunks of samples.

        Streaming by sample keeps memory bounded whatever the run's size. The
        next block is read in a background thread while the caller works on
        the current one, so reading and scoring overlap (two blocks in memory).
        """
        from concurrent.futures import ThreadPoolExecutor

        arr = self.logits_array(name)
        if chunk is None:
            n_epochs = len(range(self.epochs)[epochs])
            chunk = max(1, READ_BYTES // max(1, self.inits * n_epochs * self.num_classes * 4))
            stored = arr.chunks[2]
            if chunk >= stored:  # whole storage chunks: none is read twice
                chunk -= chunk % stored
        starts = range(0, self.n, chunk)

        def read(start: int) -> np.ndarray:
            stop = min(self.n, start + chunk)
            block = np.asarray(arr[:, epochs, start:stop, :], dtype=np.float32)
            if not np.all(np.isfinite(block)):
                raise PruneError(f"run {self.path}: {name} hold NaN or inf for samples {start}..{stop - 1} "
                                 "(training diverged, or the recording was cut short); record again with a lower --lr")
            return block

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prune-read") as pool:
            ahead = pool.submit(read, starts[0]) if starts else None
            for i, start in enumerate(starts):
                block = ahead.result()
                ahead = pool.submit(read, starts[i + 1]) if i + 1 < len(starts) else None
                yield start, min(self.n, start + chunk), block
                del block

    # -- tables ---------------------------------------------------------
    def dynamics(self):
        """Lazy Polars frame over RUN/dynamics (hive-partitioned by init and epoch)."""
        import polars as pl

        d = layout.dynamics_dir(self.path)
        if not d.is_dir() or not any(d.rglob("*.parquet")):
            raise PruneError(f"run {self.path} is truncated: {d} holds no Parquet files")
        return pl.scan_parquet(d, hive_partitioning=True)

    def eval_table(self):
        import polars as pl

        p = layout.eval_table(self.path)
        if not p.exists():
            raise PruneError(f"run {self.path} is truncated: {p} is missing")
        return pl.read_parquet(p)

    def final_val_recalls(self) -> np.ndarray:
        """Per-class validation recall at the last epoch, mean over inits (DRoP's quotas read these)."""
        import polars as pl

        t = self.eval_table().filter((pl.col("split") == "val") & (pl.col("epoch") == self.epochs - 1))
        r = t.group_by("class").agg(pl.col("recall").mean()).sort("class")
        out = np.zeros(self.num_classes)
        out[r["class"].to_numpy()] = r["recall"].to_numpy()
        return out

    @property
    def snapshot_epochs(self) -> list[int]:
        """Completed-epoch counts at which embeddings were recorded (``prune record --embeddings``)."""
        return [int(e) for e in self.info.get("snapshot_epochs", [])]

    def embeddings(self, snapshot: int | None = None) -> np.ndarray:
        """Embeddings (init, sample, dim) as float32 at ``snapshot`` (a recorded epoch count; default the last)."""
        if not self.snapshot_epochs or not self.has("embeddings"):
            raise PruneError(f"run {self.path} has no embeddings: record with `prune record --embeddings E1,E2,...`")
        if snapshot is None:
            k = len(self.snapshot_epochs) - 1
        elif snapshot in self.snapshot_epochs:
            k = self.snapshot_epochs.index(snapshot)
        else:
            raise PruneError(f"--snapshot {snapshot} was not recorded; this run has embeddings after epochs "
                             f"{', '.join(map(str, self.snapshot_epochs))}")
        arr = self.array("embeddings")
        if arr.shape[:3] != (self.inits, len(self.snapshot_epochs), self.n):
            raise PruneError(f"run {self.path} is damaged: embeddings have shape {tuple(arr.shape)}")
        out = np.asarray(arr[:, k], dtype=np.float32)
        if not np.all(np.isfinite(out)):
            raise PruneError(f"run {self.path}: embeddings hold NaN or inf (diverged training?)")
        return out

    @cached_property
    def clean_targets(self) -> np.ndarray | None:
        """Labels before ``--label-noise`` flipped some (None when no noise was injected)."""
        if not self.has("clean_targets"):
            return None
        return np.asarray(self.array("clean_targets")[:], dtype=np.int64)

    @property
    def flipped(self) -> np.ndarray | None:
        """Which samples ``--label-noise`` flipped (targets differ from clean_targets); None without noise."""
        clean = self.clean_targets
        if clean is None:
            return None
        if len(clean) != self.n:
            raise PruneError(f"run {self.path} is damaged: {len(clean)} clean_targets but run.json says {self.n} samples")
        return clean != self.targets

    def checkpoint_path(self, init: int, epoch: int | str) -> Path:
        return layout.checkpoint(self.path, init, epoch)


#: Keys every run.json has (the later stages read them); ``write_run_info`` and ``open_run`` check them.
RUN_KEYS = ("schema_version", "data", "n_train", "classes", "model", "config", "epochs", "inits", "seed",
            "record_pass", "fingerprint")


def write_run_info(run: str | os.PathLike, info: dict[str, Any]) -> None:
    """Write RUN/run.json, the completion marker of a recorded run (written last)."""
    missing = [k for k in RUN_KEYS if k not in info]
    if missing:
        raise ValueError(f"run.json would lack {', '.join(missing)}")  # a bug in the writer, not a user error
    write_json(layout.run_json(run), info)


def open_run(path: str | os.PathLike) -> Run:
    path = Path(path)
    if not path.exists():
        raise PruneError(f"no run at {path}: run `prune record --run {path}` first")
    if not path.is_dir():
        raise PruneError(f"{path} is not a run folder")
    info_path = layout.run_json(path)
    if not info_path.exists():
        raise PruneError(f"run {path} is incomplete (no run.json): its recording did not finish; record it again")
    info = read_json(info_path)
    for key in ("fingerprint", "n_train", "classes", "epochs", "inits", "data"):
        if key not in info:
            raise PruneError(f"run {path} is damaged: run.json has no '{key}'")
    return Run(path=path, info=info)
