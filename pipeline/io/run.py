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
from typing import Any, Iterator, Sequence

import numpy as np

from pipeline.io import layout
from pipeline.io.atomic import read_json
from pipeline.io.errors import PruneError
from pipeline.io.runinfo import (RUN_KEYS, RUN_SCHEMA_VERSION, check_info, json_repr, run_info,  # noqa: F401
                                 trajectory_attrs, write_run_info)
LOGITS_DIMS = ("init", "epoch", "sample", "class")
EMBEDDING_DIMS = ("init", "snapshot", "sample", "dim")
CHUNK_BYTES = 2 << 20  # ~2 MiB chunks along `sample` (docs/design.md §3)
# Logits and embeddings are stored uncompressed: zstd saved 5% on recorded MNIST-1D
# logits but made streamed reads 2.7× slower (bench/RESULTS.md, "Zarr storage").
READ_BYTES = 128 << 20  # float32 bytes of one streamed block of logits when scoring
#: The dtypes prune writes for each array; anything else is an edited or foreign store.
ARRAY_DTYPES = {"logits": ("float16", "float32"), "eval_logits": ("float16", "float32"),
                "embeddings": ("float16", "float32"), "targets": ("int64",), "clean_targets": ("int64",),
                "samples": ("int64",), "pool_samples": ("int64",), "pool_targets": ("int64",),
                "pool_logits": ("float16", "float32"), "pool_mc_logits": ("float16", "float32"),
                "pool_embeddings": ("float16", "float32")}


def _why(err: BaseException) -> str:
    """The exception's type and first line, for a one-line message."""
    text = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
    return f"{err.__class__.__name__}: {text}" if text else err.__class__.__name__


def check_labels(y: np.ndarray, num_classes: int, what: str) -> None:
    """Every label in 0..num_classes-1, else one line (a label out of range would skew every per-class count)."""
    if len(y) and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        bad = int(np.sum((y < 0) | (y >= num_classes)))
        first = int(np.flatnonzero((y < 0) | (y >= num_classes))[0])
        raise PruneError(f"{what} holds {bad} label(s) outside 0..{num_classes - 1} (sample {first}: {int(y[first])}); "
                         "record the run again")


def _chunk_indices(arr, selection):
    """The chunk coordinates ``selection`` (ints and slices) touches, in order."""
    import itertools

    sel = selection if isinstance(selection, tuple) else (selection,)
    sel = sel + (slice(None),) * (arr.ndim - len(sel))
    ranges = []
    for s, size, c in zip(sel, arr.shape, arr.chunks):
        if isinstance(s, (int, np.integer)):
            lo = int(s) % size if size else 0
            ranges.append(range(lo // c, lo // c + 1))
        else:
            lo, hi, _ = s.indices(size)
            ranges.append(range(lo // c, max(lo, hi - 1) // c + 1) if hi > lo else range(0))
    return itertools.product(*ranges)


#: ``PRUNE_VERIFY=0`` turns off the checksum check of the chunks a stage reads (bench/RESULTS.md §16: its cost)
VERIFY_ENV = "PRUNE_VERIFY"


def _bad_chunk(arr, selection) -> str | None:
    """The file of the first chunk under ``selection`` that zarr cannot read (the slow path, after an error)."""
    for idx in _chunk_indices(arr, selection):
        region = tuple(slice(i * c, min(size, (i + 1) * c)) for i, c, size in zip(idx, arr.chunks, arr.shape))
        try:
            np.asarray(arr[region])
        except Exception:
            return "chunk file c/" + "/".join(map(str, idx))
    return None


def sample_chunk(num_classes: int, itemsize: int, n: int) -> int:
    return int(max(1, min(n, CHUNK_BYTES // max(1, num_classes * itemsize))))


def create_trajectories(path: str | os.PathLike, *, inits: int, epochs: int, targets: np.ndarray, num_classes: int,
                        dtype: str, eval_pass: bool, attrs: dict[str, Any]):
    """Create the Zarr v3 group with empty ``logits`` (and ``eval_logits``) arrays.

    A run's group takes ``attrs`` from :func:`trajectory_attrs`; a scratch
    group (benchmarks, tests of the writer) may pass fewer.

    ``dtype="none"`` (``prune record --logits none``): no logits arrays at all;
    the group's ``logits_shape`` attribute keeps the shape they would have
    (:func:`logits_shape`), and ``targets`` is written as always.
    """
    import zarr

    n = len(targets)
    group = zarr.open_group(str(path), mode="w", zarr_format=3)
    group.attrs.update({"schema_version": RUN_SCHEMA_VERSION, **attrs})
    if dtype == "none":
        group.attrs["logits_shape"] = [inits, epochs, n, num_classes]
    names = [] if dtype == "none" else ["logits"] + (["eval_logits"] if eval_pass else [])
    for name in names:
        s = sample_chunk(num_classes, np.dtype(dtype).itemsize, n)
        group.create_array(name, shape=(inits, epochs, n, num_classes), dtype=dtype, compressors=None,
                           chunks=(1, 1, s, num_classes), dimension_names=LOGITS_DIMS, fill_value=np.nan)
    t = group.create_array("targets", shape=(n,), dtype="int64", chunks=(n,), dimension_names=("sample",))
    t[:] = targets
    return group


def logits_shape(group) -> tuple[int, int, int, int]:
    """(init, epoch, sample, class) of a recording's logits, also where they are not stored (``--logits none``)."""
    if "logits" in set(group.array_keys()):
        return tuple(group["logits"].shape)
    return tuple(int(v) for v in group.attrs["logits_shape"])


def create_embeddings(group, *, inits: int, snapshots: int, n: int, dim: int, dtype: str = "float16"):
    """The ``embeddings`` array (init, snapshot, sample, dim): penultimate features at the snapshot epochs."""
    s = int(max(1, min(n, CHUNK_BYTES // max(1, dim * np.dtype(dtype).itemsize))))
    return group.create_array("embeddings", shape=(inits, snapshots, n, dim), dtype=dtype, chunks=(1, 1, s, dim), compressors=None,
                              dimension_names=EMBEDDING_DIMS, fill_value=np.nan)


def create_heads(group, *, inits: int, snapshots: int, num_classes: int, dim: int, val: int):
    """What the last-layer gradients are built from, at each snapshot: the classifier ``heads`` (init,
    snapshot, class, 1 + dim: its bias, then its weight row) and the validation split's features
    ``val_embeddings`` (init, snapshot, sample, dim), float16 as the training samples'."""
    group.create_array("heads", shape=(inits, snapshots, num_classes, dim + 1), dtype="float32",
                       chunks=(1, 1, num_classes, dim + 1), compressors=None,
                       dimension_names=("init", "snapshot", "class", "weight"), fill_value=np.nan)
    s = int(max(1, min(max(val, 1), CHUNK_BYTES // max(1, dim * 2))))
    group.create_array("val_embeddings", shape=(inits, snapshots, val, dim), dtype="float16", chunks=(1, 1, s, dim),
                       compressors=None, dimension_names=EMBEDDING_DIMS, fill_value=np.nan)


@dataclass
class Run:
    path: Path
    info: dict[str, Any]
    #: read only the first ``prefix`` recorded epochs, as if the recording had stopped there (:meth:`upto`)
    prefix: int | None = None

    def upto(self, epochs: int) -> "Run":
        """This run as if its recording had stopped after ``epochs`` epochs (an early, cheaper query): every
        reader sees only those epochs' logits, dynamics, evaluations, checkpoints and embeddings, and
        :attr:`query_cost` counts only them. The learning-rate schedule was the whole run's: a run recorded for
        ``epochs`` epochs with its own schedule is not the same (docs/cost.md)."""
        total = int(self.info["epochs"])
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or not 1 <= epochs <= total:
            raise PruneError(f"--prefix must be a number of epochs in [1, {total}] (run {self.path} recorded "
                             f"{total}), got {epochs!r}")
        return Run(self.path, self.info, None if int(epochs) == total else int(epochs))

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
        """Epochs this view reads: all recorded ones, or the :meth:`upto` prefix."""
        return int(self.info["epochs"]) if self.prefix is None else self.prefix

    @property
    def recorded_epochs(self) -> int:
        return int(self.info["epochs"])

    @property
    def checkpoint_epochs(self) -> list[int]:
        """Completed-epoch counts with a saved model (``prune record --checkpoints``), within the prefix."""
        return sorted(k for k in (int(e) for e in self.info.get("checkpoints", [])) if k <= self.epochs)

    @property
    def inits(self) -> int:
        return int(self.info["inits"])

    @property
    def dataset(self) -> str:
        return self.info["data"]

    @property
    def query_cost(self) -> dict[str, Any]:
        """What recording this run cost, as a selection's lineage carries it (docs/cost.md): its training's sample
        passes (forward + backward of one sample: inits × epochs × samples trained on) and the recipe that sets
        a pass's price. Seconds are not here (they live in log.json): the lineage has the same bytes on every
        machine."""
        cost = {"run": str(self.path), "sample_passes": self.inits * self.epochs * self.n, "inits": self.inits,
                "epochs": self.epochs, "n_train": self.n, "model": self.info.get("model")}
        return cost if self.prefix is None else {**cost, "recorded_epochs": self.recorded_epochs}

    # -- arrays ---------------------------------------------------------
    @cached_property
    def zarr(self):
        import zarr

        p = layout.trajectories(self.path)
        try:
            return zarr.open_group(str(p), mode="r")
        except Exception as err:  # zarr raises several types for a missing/damaged store
            raise PruneError(f"run {self.path} is damaged: cannot open {p} ({_why(err)}); record the run again") from None

    def array(self, name: str):
        p = layout.trajectories(self.path) / name / "zarr.json"
        group = self.zarr
        try:
            arr = group[name]
        except KeyError:
            raise PruneError(f"run {self.path} is truncated: trajectories.zarr has no '{name}' array") from None
        except Exception as err:  # invalid JSON or metadata zarr cannot parse
            raise PruneError(f"run {self.path} is damaged: {p} is not valid array metadata ({_why(err)}); "
                             "record the run again") from None
        want = ARRAY_DTYPES.get(name)
        if want is not None and str(arr.dtype) not in want:
            raise PruneError(f"run {self.path} is damaged: {p} gives {name} the dtype {arr.dtype} "
                             f"(prune writes {' or '.join(want)}); record the run again")
        return arr

    @cached_property
    def _checksums(self) -> dict[str, str] | None:
        """RUN/checksums.json's sha256 by relative path (None: a run without one, or checks turned off)."""
        if os.environ.get(VERIFY_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
            return None
        from pipeline.io.checksums import CHECKSUMS

        p = self.path / CHECKSUMS
        if not p.exists():
            return None
        doc = read_json(p)
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict):
            raise PruneError(f"{p} is damaged (not prune's checksum list); record the run again")
        self._verified: set[str] = set()
        return {k: v.get("sha256") for k, v in files.items() if isinstance(v, dict)}

    def _verify_chunks(self, name: str, arr, selection) -> None:
        """Hash the chunk files ``selection`` reads, once each, against checksums.json: a flipped bit in a chunk
        decodes to plausible numbers, and nothing else would notice it."""
        sums = self._checksums
        if sums is None:
            return
        from pipeline.io.tables import file_sha256

        base = f"{layout.TRAJECTORIES}/{name}/c/"
        for idx in _chunk_indices(arr, selection):
            rel = base + "/".join(map(str, idx))
            if rel in self._verified or rel not in sums:  # a chunk never written (all fill value) has no file
                continue
            f = self.path / rel
            if not f.is_file() or file_sha256(f) != sums[rel]:
                what = "is missing" if not f.is_file() else "differs from its checksum (a changed or corrupted file)"
                raise PruneError(f"run {self.path} is damaged: {rel} {what}; `prune check --run {self.path}` lists "
                                 f"every damaged file; record the run again (PRUNE_VERIFY=0 reads it unchecked)")
            self._verified.add(rel)

    def read(self, name: str, selection=slice(None)) -> np.ndarray:
        """``array(name)[selection]``, every chunk it reads checked against checksums.json first (once per chunk;
        ``PRUNE_VERIFY=0`` skips it); a chunk zarr cannot decode (truncated, edited) is one line naming its file."""
        arr = self.array(name)
        self._verify_chunks(name, arr, selection)
        try:
            return np.asarray(arr[selection])
        except PruneError:
            raise
        except Exception as err:  # zarr/numcodecs raise ValueError, RuntimeError, ... for a damaged chunk
            where = _bad_chunk(arr, selection) or f"a chunk of {name}"
            raise PruneError(f"run {self.path} is damaged: cannot read {layout.trajectories(self.path) / name}: "
                             f"{where} ({_why(err)}); record the run again") from None

    @cached_property
    def targets(self) -> np.ndarray:
        t = self.read("targets").astype(np.int64, copy=False)
        if t.shape != (self.n,):
            raise PruneError(f"run {self.path} is damaged: {len(t)} targets but run.json says {self.n} samples")
        check_labels(t, self.num_classes, f"run {self.path} is damaged: trajectories.zarr/targets")
        return t

    def has(self, name: str) -> bool:
        return name in set(self.zarr.array_keys())

    # -- a run recorded on a subset (``prune record --manifest``) ---------
    @property
    def n_total(self) -> int:
        """Samples in the whole training set (``n`` unless the run trained on a manifest's subset)."""
        return int(self.info.get("n_total", self.n))

    @cached_property
    def sample_ids(self) -> np.ndarray:
        """The data set's id of each recorded row (sorted int64): ``arange(n)`` for a run on the full data.

        A run recorded with ``--manifest`` trains on that subset: its arrays
        and dynamics have one row per trained sample, and this maps a row to
        the sample's id in the full training set (what tables and manifests
        hold).
        """
        if not self.has("samples"):
            return np.arange(self.n, dtype=np.int64)
        ids = self.read("samples").astype(np.int64, copy=False)
        if ids.shape != (self.n,) or (len(ids) and (ids[0] < 0 or ids[-1] >= self.n_total
                                                     or not np.all(ids[1:] > ids[:-1]))):
            raise PruneError(f"run {self.path} is damaged: trajectories.zarr/samples is not {self.n} sorted ids "
                             f"in 0..{self.n_total - 1}; record the run again")
        return ids

    @property
    def has_pool(self) -> bool:
        """Whether the run predicted the samples it did not train on (``prune record --manifest M --pool``)."""
        return bool(self.info.get("pool")) and self.has("pool_samples")

    @cached_property
    def pool_ids(self) -> np.ndarray:
        """Data-set ids of the pool (the samples not trained on), sorted; one line when the run has no pool."""
        if not self.has_pool:
            raise PruneError(f"run {self.path} has no pool predictions: record it with "
                             "`prune record --manifest M --pool` (the pool is every sample not in M)")
        ids = self.read("pool_samples").astype(np.int64, copy=False)
        if len(ids) and (ids[0] < 0 or ids[-1] >= self.n_total or not np.all(ids[1:] > ids[:-1])):
            raise PruneError(f"run {self.path} is damaged: trajectories.zarr/pool_samples is not sorted ids "
                             f"in 0..{self.n_total - 1}; record the run again")
        return ids

    @cached_property
    def pool_targets(self) -> np.ndarray:
        """The data set's labels of the pool: written in score tables, never read by a label-free score."""
        t = self.read("pool_targets").astype(np.int64, copy=False)
        if t.shape != self.pool_ids.shape:
            raise PruneError(f"run {self.path} is damaged: {len(t)} pool_targets for {len(self.pool_ids)} pool samples")
        check_labels(t, self.num_classes, f"run {self.path} is damaged: trajectories.zarr/pool_targets")
        return t

    def pool_array(self, name: str) -> np.ndarray:
        """A pool array as float32, checked: ``pool_logits`` (init, epoch, pool, class), eval mode after each epoch;
        ``pool_mc_logits`` (init, mc sample, pool, class), dropout on, after the last epoch;
        ``pool_embeddings`` (init, snapshot, pool, dim) at the ``--embeddings`` snapshots."""
        if not self.has_pool:
            self.pool_ids  # raises the one line
        if not self.has(name):
            how = {"pool_mc_logits": "record with --pool --mc-samples K (and a model with --dropout > 0)",
                   "pool_embeddings": "record with --pool --embeddings final"}.get(name, "record it again with --pool")
            raise PruneError(f"run {self.path} has no {name}: {how}")
        out = self.read(name).astype(np.float32, copy=False)
        if out.ndim != 4 or out.shape[0] != self.inits or out.shape[2] != len(self.pool_ids):
            raise PruneError(f"run {self.path} is damaged: {name} has shape {tuple(out.shape)}; record the run again")
        if not np.all(np.isfinite(out)):
            raise PruneError(f"run {self.path}: {name} hold NaN or inf (diverged training?); record again with a lower --lr")
        return out

    @property
    def stores_logits(self) -> bool:
        """False for a run recorded with ``prune record --logits none``: dynamics/ only, no logits arrays."""
        return self.info.get("logits_dtype") != "none"

    def logits_array(self, name: str = "logits"):
        if not self.stores_logits and name in ("logits", "eval_logits"):
            raise PruneError(f"run {self.path} keeps no {name}: it was recorded with --logits none (dynamics/ "
                             "only); record it with --logits float16 for what reads the logits")
        arr = self.array(name)
        expect = (self.inits, self.recorded_epochs, self.n, self.num_classes)
        if tuple(arr.shape) != expect:
            raise PruneError(f"run {self.path} is damaged: {layout.trajectories(self.path) / name / 'zarr.json'} gives "
                             f"{name} the shape {tuple(arr.shape)}, run.json says {expect}; record the run again")
        return arr

    def iter_logits(self, name: str = "logits", epochs: slice = slice(None), chunk: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """Yield ``(start, stop, float32 array (init, epoch, stop-start, class))`` over chunks of samples.

        Streaming by sample keeps memory bounded whatever the run's size. The
        next block is read in a background thread while the caller works on
        the current one, so reading and scoring overlap (two blocks in memory).
        """
        from concurrent.futures import ThreadPoolExecutor

        arr = self.logits_array(name)
        within = range(self.epochs)[epochs]  # the epochs asked for, as indices into the stored (longer) array
        epochs = slice(within.start, within.stop, within.step) if within.step > 0 else epochs
        if chunk is None:
            n_epochs = len(within)
            chunk = max(1, READ_BYTES // max(1, self.inits * n_epochs * self.num_classes * 4))
            stored = arr.chunks[2]
            if chunk >= stored:  # whole storage chunks: none is read twice
                chunk -= chunk % stored
        starts = range(0, self.n, chunk)

        def read(start: int) -> np.ndarray:
            stop = min(self.n, start + chunk)
            block = self.read(name, (slice(None), epochs, slice(start, stop), slice(None))).astype(np.float32, copy=False)
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
        frame = pl.scan_parquet(d, hive_partitioning=True)
        return frame if self.prefix is None else frame.filter(pl.col("epoch") < self.prefix)

    def dynamics_epoch(self, init: int, epoch: int, columns: Sequence[str]) -> dict[str, np.ndarray]:
        """One epoch's per-sample ``columns`` of RUN/dynamics, in sample order, checked.

        A missing, truncated or foreign file is one line naming it; so is a
        file whose rows are not samples 0..N-1 in order (prune writes them so).
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from pipeline.io.tables import DYNAMICS_SCHEMA

        p = layout.dynamics_file(self.path, init, epoch)
        again = "record the run again"
        if not p.exists():
            raise PruneError(f"run {self.path} is truncated: {p} is missing; {again}")
        try:
            table = pq.read_table(p, columns=["sample", *columns], memory_map=True)
        except (pa.ArrowInvalid, pa.ArrowKeyError, OSError, KeyError) as err:
            raise PruneError(f"run {self.path} is damaged: {p} is not a readable dynamics file ({_why(err)}); "
                             f"{again}") from None
        for name in ("sample", *columns):
            want, got = DYNAMICS_SCHEMA.field(name).type, table.schema.field(name).type
            if got != want or table.column(name).null_count:
                raise PruneError(f"run {self.path} is damaged: {p} column {name!r} is {got} with "
                                 f"{table.column(name).null_count} missing value(s), expected {want}; {again}")
        sample = table.column("sample").to_numpy()
        if len(sample) != self.n or (self.n and (sample[0] != 0 or not np.all(np.diff(sample) == 1))):
            raise PruneError(f"run {self.path} is damaged: {p} holds {len(sample)} rows, expected samples "
                             f"0..{self.n - 1} in order; {again}")
        return {name: table.column(name).to_numpy() for name in columns}

    def p_true_mean(self, epochs: int) -> np.ndarray:
        """Each sample's probability of its label averaged over the first ``epochs`` recorded epochs (training
        pass, RUN/dynamics, every run has it), mean over inits; one epoch file in memory at a time."""
        T = int(epochs)
        if not 1 <= T <= self.epochs:
            raise PruneError(f"the mean label probability over {T} epochs needs them recorded; run {self.path} "
                             f"has {self.epochs}")
        total = np.zeros(self.n, dtype=np.float64)
        for i in range(self.inits):
            acc = np.zeros(self.n, dtype=np.float64)
            for e in range(T):
                acc += self.dynamics_epoch(i, e, ["p_true"])["p_true"]
            total += acc / T
        return total / self.inits

    def eval_table(self):
        import polars as pl
        import pyarrow as pa

        from pipeline.io.tables import EVAL_SCHEMA, _read

        p = layout.eval_table(self.path)
        if not p.exists():
            raise PruneError(f"run {self.path} is truncated: {p} is missing")
        try:
            table = _read(p, EVAL_SCHEMA, "eval table")
        except PruneError as err:
            raise PruneError(f"run {self.path} is damaged: {err}; record the run again") from None
        for f in EVAL_SCHEMA:
            got = table.schema.field(f.name).type
            if got != f.type and not (pa.types.is_string(f.type) and pa.types.is_large_string(got)):
                raise PruneError(f"run {self.path} is damaged: {p} column {f.name!r} is {got}, expected {f.type}; "
                                 "record the run again")
        t = pl.from_arrow(table)
        if self.prefix is not None:
            t = t.filter(pl.col("epoch") < self.prefix)
        bad = t.filter((pl.col("class") < 0) | (pl.col("class") >= self.num_classes)).height
        if bad:
            raise PruneError(f"run {self.path} is damaged: {p} has {bad} row(s) with a class outside "
                             f"0..{self.num_classes - 1}; record the run again")
        return t

    def final_val_recalls(self) -> np.ndarray:
        """Per-class validation recall at the last epoch, mean over inits (DRoP's quotas read these)."""
        return self.val_recalls("final")

    def val_recalls(self, how: str = "final") -> np.ndarray:
        """Per-class validation recall of the query model, mean over inits, taken ``how``:

        - ``final``: after the last epoch (the recalls DRoP's Algorithm 1 reads);
        - ``best``: at each init's epoch of best validation accuracy (as the DRoP code's query trainer);
        - ``mean``: averaged over every recorded epoch, the whole learning curve: a class the model
          learns late keeps a larger error, and no class reads 1.0 unless every epoch did.
        """
        import polars as pl

        if how not in RECALL_SOURCES:
            raise PruneError(f"recalls must be taken one of {', '.join(RECALL_SOURCES)}, got {how!r}")
        t = self.eval_table().filter(pl.col("split") == "val")
        if how == "final":
            t = t.filter(pl.col("epoch") == self.epochs - 1)
        elif how == "best":
            acc = (t.group_by(["init", "epoch"]).agg(((pl.col("recall") * pl.col("n")).sum() / pl.col("n").sum()).alias("a"))
                   .sort(["init", "a", "epoch"], descending=[False, True, False]).group_by("init").first())
            t = t.join(acc.select("init", "epoch"), on=["init", "epoch"])
        per_init = t.group_by(["init", "class"]).agg(pl.col("recall").mean())
        r = per_init.group_by("class").agg(pl.col("recall").mean()).sort("class")
        out = np.zeros(self.num_classes)
        out[r["class"].to_numpy()] = r["recall"].to_numpy()
        return out

    @property
    def snapshot_epochs(self) -> list[int]:
        """Completed-epoch counts at which embeddings were recorded (``prune record --embeddings``)."""
        return [int(e) for e in self.info.get("snapshot_epochs", []) if int(e) <= self.epochs]

    def embeddings(self, snapshot: int | None = None) -> np.ndarray:
        """Embeddings (init, sample, dim) as float32 at ``snapshot`` (a recorded epoch count; default the last)."""
        if not self.snapshot_epochs or not self.has("embeddings"):
            raise PruneError(f"run {self.path} has no embeddings: record with `prune record --embeddings E1,E2,...` "
                             "(from your own loop: Recorder(..., snapshots=[...]) and rec.log_embeddings)")
        if snapshot is None:
            k = len(self.snapshot_epochs) - 1
        elif snapshot in self.snapshot_epochs:
            k = self.snapshot_epochs.index(snapshot)
        else:
            raise PruneError(f"--snapshot {snapshot} was not recorded; this run has embeddings after epochs "
                             f"{', '.join(map(str, self.snapshot_epochs))}")
        arr = self.array("embeddings")
        if arr.shape[:3] != (self.inits, len(self.info.get("snapshot_epochs", [])), self.n):
            raise PruneError(f"run {self.path} is damaged: embeddings have shape {tuple(arr.shape)}")
        out = self.read("embeddings", (slice(None), k)).astype(np.float32, copy=False)
        if not np.all(np.isfinite(out)):
            raise PruneError(f"run {self.path}: embeddings hold NaN or inf (diverged training?)")
        return out

    def _snapshot_index(self, snapshot: int | None) -> int:
        self.embeddings(snapshot)  # the checks: embeddings recorded, the snapshot among them
        return len(self.snapshot_epochs) - 1 if snapshot is None else self.snapshot_epochs.index(snapshot)

    def heads(self, snapshot: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The classifier at ``snapshot``: weight (init, class, dim) and bias (init, class), float64."""
        k = self._snapshot_index(snapshot)
        if not self.has("heads"):
            raise PruneError(f"run {self.path} recorded embeddings without the classifier that reads them (an older "
                             "prune): record it again with --embeddings to use gradient-based methods")
        h = self.read("heads", (slice(None), k)).astype(np.float64)
        if h.shape[:2] != (self.inits, self.num_classes) or not np.all(np.isfinite(h)):
            raise PruneError(f"run {self.path} is damaged: trajectories.zarr/heads")
        return h[:, :, 1:], h[:, :, 0]

    def val_embeddings(self, snapshot: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The validation split's features at ``snapshot`` (init, sample, dim) float32, and its labels."""
        k = self._snapshot_index(snapshot)
        if not (self.has("val_embeddings") and self.has("val_targets")):
            raise PruneError(f"run {self.path} has no validation embeddings (an older prune): record it again "
                             "with --embeddings")
        out = self.read("val_embeddings", (slice(None), k)).astype(np.float32, copy=False)
        y = self.read("val_targets").astype(np.int64, copy=False)
        if not np.all(np.isfinite(out)) or out.shape[1] != len(y):
            raise PruneError(f"run {self.path}: val_embeddings hold NaN or inf, or do not match val_targets")
        check_labels(y, self.num_classes, f"run {self.path} is damaged: trajectories.zarr/val_targets")
        return out, y

    def embedding_features(self, snapshot: int | None = None) -> np.ndarray:
        """The embeddings as one feature row per sample, (sample, init·dim), the way selection reads them.

        Embeddings of independently trained inits live in unrelated spaces, so
        they are concatenated (squared distances add up over inits), not
        averaged (which would mix unrelated coordinates).
        """
        stack = self.embeddings(snapshot)
        return np.ascontiguousarray(np.transpose(stack, (1, 0, 2)).reshape(stack.shape[1], -1))

    @cached_property
    def clean_targets(self) -> np.ndarray | None:
        """Labels before ``--label-noise`` flipped some (None when no noise was injected)."""
        if not self.has("clean_targets"):
            return None
        clean = self.read("clean_targets").astype(np.int64, copy=False)
        check_labels(clean, self.num_classes, f"run {self.path} is damaged: trajectories.zarr/clean_targets")
        return clean

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


#: How ``Run.val_recalls`` reads a query model's per-class validation recall (``prune select --recalls``).
RECALL_SOURCES = ("final", "best", "mean")
#: What `--quota drop` reads when no --recalls is given (docs/selection.md, "DRoP's class errors" says why)
DEFAULT_RECALLS = "mean"


def open_run(path: str | os.PathLike) -> Run:
    path = Path(path)
    if not path.exists():
        raise PruneError(f"no run at {path}: run `prune record --run {path}` first")
    if not path.is_dir():
        raise PruneError(f"{path} is not a run folder")
    info_path = layout.run_json(path)
    if not info_path.exists():
        raise PruneError(_not_a_run(path))
    info = read_json(info_path)
    check_info(info, info_path)
    return Run(path=path, info=info)


def _not_a_run(path: Path) -> str:
    """Why ``path`` (a folder without run.json) is no run: a recording that did not finish, or none at all.

    "Incomplete" is said only where a recording started: a folder holding the
    recording's own files, or an unfinished ``.NAME.partial-*`` beside it.
    """
    from pipeline.io.folders import partials_of

    partials = partials_of(path)
    if partials:
        return (f"run {path} is incomplete: its recording did not finish (kept in {partials[0]}); continue it with "
                f"`prune record --resume --run {path}`, or record it again")
    if any((path / name).exists() for name in (layout.TRAJECTORIES, layout.DYNAMICS, layout.EVAL_TABLE)):
        return f"run {path} is incomplete (no run.json): its recording did not finish; record it again"
    return f"no run at {path} (nothing was recorded there): run `prune record --run {path}` first"
