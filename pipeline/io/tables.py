"""Parquet artifacts: explicit schemas, JSON key-value metadata, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.io.atomic import atomic_path
from pipeline.io.errors import PruneError

# RUN/dynamics/init=I/epoch=E/part-0.parquet; init and epoch come from the path
# (hive partitioning), so they are not repeated inside the files.
DYNAMICS_SCHEMA = pa.schema(
    [
        ("sample", pa.int64()),
        ("target", pa.int64()),
        ("pred", pa.int64()),
        ("loss", pa.float32()),
        ("correct", pa.bool_()),
        ("p_true", pa.float32()),
        ("margin", pa.float32()),
        ("prob_margin", pa.float32()),
        ("el2n", pa.float32()),
        ("entropy", pa.float32()),
        # TDDS's term against the sample's previous epoch, Σ_c |p_t,c (log(p_t,c+1e-8) − log(p_t−1,c+1e-8))|;
        # NaN at epoch 0. With it every trajectory score works from dynamics/ alone (prune record --logits none).
        ("kl_step", pa.float32()),
    ]
)

# RUN/eval.parquet: per init, epoch, split and class
EVAL_SCHEMA = pa.schema(
    [
        ("init", pa.int64()),
        ("epoch", pa.int64()),
        ("split", pa.string()),
        ("class", pa.int64()),
        ("n", pa.int64()),
        ("recall", pa.float64()),
        ("precision", pa.float64()),
        ("f1", pa.float64()),
        ("loss", pa.float64()),
    ]
)

SCORES_SCHEMA = pa.schema([("sample", pa.int64()), ("target", pa.int64()), ("score", pa.float64())])

MANIFEST_SCHEMA = pa.schema([("sample", pa.int64()), ("target", pa.int64())])
MANIFEST_WEIGHTED_SCHEMA = MANIFEST_SCHEMA.append(pa.field("weight", pa.float64()))
# file-backed data sets: each kept sample's file, relative to the data folder (RUN/files.parquet)
MANIFEST_PATH_FIELD = pa.field("path", pa.string())

# RUN/train/<name>/history.parquet: one row per epoch and split
HISTORY_SCHEMA = pa.schema(
    [
        ("epoch", pa.int64()),
        ("split", pa.string()),
        ("accuracy", pa.float64()),
        ("balanced_accuracy", pa.float64()),
        ("worst_class_accuracy", pa.float64()),
        ("loss", pa.float64()),
        ("lr", pa.float64()),
        ("train_loss", pa.float64()),
    ]
)

# RUN/train/<name>/samples.parquet (dynamic pruning): one row per sample used in
# an epoch, with the weight its loss carried (InfoBatch's 1/(1-rate) rescale, else 1)
SAMPLES_SCHEMA = pa.schema(
    [
        ("epoch", pa.int64()),
        ("sample", pa.int64()),
        ("weight", pa.float64()),
    ]
)


#: ``prune sweep``'s results.parquet: one row per (cell, seed), the cell's parameters and every metric of its training.
SWEEP_RESULTS_SCHEMA = pa.schema([
    ("sweep", pa.string()), ("cell", pa.string()), ("seed", pa.int64()), ("score", pa.string()),
    ("method", pa.string()), ("quota", pa.string()), ("rate", pa.float64()),
    ("beta", pa.float64()), ("gamma", pa.float64()), ("recalls", pa.string()),
    ("keep", pa.string()), ("budget", pa.string()), ("cdbw", pa.bool_()),
    ("epochs_fraction", pa.float64()),  # a budget-matched full-data cell's fraction of the epochs (null: all)
    ("accuracy", pa.float64()), ("val_accuracy", pa.float64()), ("balanced_accuracy", pa.float64()),
    ("worst_class_accuracy", pa.float64()), ("val_worst_class_accuracy", pa.float64()),
    ("n_kept", pa.int64()), ("n_total", pa.int64()), ("sample_passes", pa.int64()),
    # the query's sample passes and the end-to-end cost in full-data trainings (docs/cost.md); null: unknown
    ("query_passes", pa.int64()), ("cost", pa.float64()), ("steps", pa.int64()),
    ("epochs", pa.int64()), ("seconds", pa.float64()),
    ("class_recall", pa.list_(pa.float64())), ("val_class_recall", pa.list_(pa.float64())),
])
#: The hyper-parameter columns of a sweep's results that ``prune report`` chooses by validation, jointly.
SWEEP_HYPER = ("beta", "gamma", "recalls")


# Dictionary-encoding float columns costs more than it saves: measured 6.3 ms vs 1.9 ms
# per 16,000-row dynamics file, on the recording path of every epoch.
DYNAMICS_DICTIONARY = ["target", "pred"]


def write_table(path: str | os.PathLike, columns: dict[str, Any], schema: pa.Schema, metadata: dict[str, Any] | None = None,
                use_dictionary: bool | list[str] = True, compression: str | dict[str, str] = "snappy",
                column_encoding: dict[str, str] | None = None) -> None:
    """Write ``columns`` with exactly ``schema``; metadata values are stored as JSON.

    ``use_dictionary``, ``compression`` and ``column_encoding`` are passed to
    :func:`pyarrow.parquet.write_table`; they change how the values are
    stored, never the schema or the values read back.
    """
    table = pa.table({f.name: pa.array(np.asarray(columns[f.name]) if not isinstance(columns[f.name], list) else columns[f.name], type=f.type) for f in schema}, schema=schema)
    if metadata:
        table = table.replace_schema_metadata({k: json.dumps(v, default=_plain) for k, v in metadata.items()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, use_dictionary=use_dictionary, compression=compression,
                       column_encoding=column_encoding)


def read_table_metadata(path: str | os.PathLike) -> dict[str, Any]:
    return _decode_metadata(_read_schema(path))


def _decode_metadata(schema: pa.Schema) -> dict[str, Any]:
    """The key-value metadata of a Parquet file's schema, JSON values decoded."""
    raw = schema.metadata or {}
    out = {}
    for k, v in raw.items():
        key = k.decode()
        if key == "ARROW:schema":
            continue
        try:
            out[key] = json.loads(v)
        except json.JSONDecodeError:
            out[key] = v.decode(errors="replace")
    return out


def _read_schema(path: str | os.PathLike) -> pa.Schema:
    path = Path(path)
    if not path.exists():
        raise PruneError(f"{path} does not exist")
    try:
        return pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise PruneError(f"{path} is not a readable Parquet file ({_first_line(err)})") from None


def _read(path: str | os.PathLike, schema: pa.Schema, what: str) -> pa.Table:
    path = Path(path)
    _read_schema(path)
    try:
        # memory-mapped: the column chunks are decoded straight from the page
        # cache instead of being read into buffers first
        table = pq.read_table(path, memory_map=True)
    except (pa.ArrowInvalid, OSError) as err:
        raise PruneError(f"{path} is not a readable Parquet file ({_first_line(err)})") from None
    missing = [f.name for f in schema if f.name not in table.column_names]
    if missing:
        raise PruneError(f"{path} is not a {what}: missing column(s) {', '.join(missing)}")
    return table


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class Scores:
    """A score table: one score per sample, and where it came from."""

    sample: np.ndarray
    target: np.ndarray | None
    score: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def method(self) -> str:
        return self.meta.get("method", "?")

    @property
    def higher_is_harder(self) -> bool | None:
        """Which end is hard, from the ``higher_is_harder`` metadata; None when the table does not say."""
        return parse_flag(self.meta.get("higher_is_harder"), "higher_is_harder", self.path)

    @property
    def fingerprint(self) -> str | None:
        return self.meta.get("fingerprint")


def write_scores(path: str | os.PathLike, sample: np.ndarray, target: np.ndarray, score: np.ndarray, *, method: str,
                 parameters: dict[str, Any], higher_is_harder: bool, fingerprint: str, source_run: str,
                 extra: dict[str, Any] | None = None) -> None:
    score = np.asarray(score, dtype=np.float64)
    if not np.all(np.isfinite(score)):
        bad = int(np.sum(~np.isfinite(score)))
        raise PruneError(f"{method} produced {bad} non-finite score(s); the recorded logits may hold NaN (diverged training)")
    meta = {
        "artifact": "scores",
        "method": method,
        "parameters": parameters,
        "higher_is_harder": bool(higher_is_harder),
        "fingerprint": fingerprint,
        "source_run": source_run,
        **(extra or {}),
    }
    write_table(path, {"sample": sample, "target": target, "score": score}, SCORES_SCHEMA, meta)


def parse_flag(value: Any, key: str, path: Path | None) -> bool | None:
    """A boolean metadata value: true/false (JSON or the strings "true"/"false"), None when absent; else one line."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise PruneError(f"{path or 'score table'}: metadata {key} must be true or false, got {value!r}")


def _int_column(table: pa.Table, name: str, path) -> np.ndarray:
    col = table.column(name)
    if not pa.types.is_integer(col.type):
        raise PruneError(f"{path}: column {name!r} must hold integers, got {col.type}")
    if col.null_count:
        raise PruneError(f"{path}: column {name!r} has {col.null_count} missing value(s)")
    return col.to_numpy().astype(np.int64, copy=False)


def read_scores(path: str | os.PathLike) -> Scores:
    """A score table, rows in sample order; sample ids must be unique and non-negative.

    Only ``sample`` and ``score`` are required: a table written by your own
    code may leave out ``target`` (then ``.target`` is None) and the
    metadata; ``prune select`` says what it needs of them.
    """
    table = _read(path, pa.schema([SCORES_SCHEMA.field("sample"), SCORES_SCHEMA.field("score")]), "score table")
    meta = _decode_metadata(table.schema)
    sample = _int_column(table, "sample", path)
    target = _int_column(table, "target", path) if "target" in table.column_names else None
    col = table.column("score")
    if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)) or col.null_count:
        raise PruneError(f"{path}: column 'score' must hold numbers without missing values, got {col.type}")
    score = col.to_numpy().astype(np.float64, copy=False)
    del table
    # Tables we write are sorted with unique ids: one comparison pass shows
    # it, and strictly increasing ids are unique, so only a table that needs
    # the sort is searched for duplicates.
    if len(sample) > 1 and not np.all(sample[1:] > sample[:-1]):
        order = np.argsort(sample, kind="stable")
        sample, score = sample[order], score[order]
        target = None if target is None else target[order]
        if not np.all(sample[1:] != sample[:-1]):
            raise PruneError(f"{path}: sample ids must be unique and non-negative")
    if len(sample) and sample[0] < 0:
        raise PruneError(f"{path}: sample ids must be unique and non-negative")
    return Scores(
        sample=sample,
        target=target,
        score=score,
        meta=meta,
        path=Path(path),
    )


@dataclass
class Manifest:
    """A sorted unique list of kept sample ids, with its provenance."""

    sample: np.ndarray
    target: np.ndarray
    weight: np.ndarray | None
    meta: dict[str, Any]
    path: Path | None = None
    files: np.ndarray | None = None  # relative file of each kept sample (file-backed data sets)

    @property
    def ids(self) -> np.ndarray:
        """The kept sample ids (sorted, unique)."""
        return self.sample

    @property
    def fingerprint(self) -> str | None:
        return self.meta.get("fingerprint")


# Manifest ids and labels are stored DELTA_BINARY_PACKED and uncompressed:
# sorted unique ids delta-encode to a couple of bits each and class labels to
# a few, which a codec cannot shrink further (an optional weight column keeps
# dictionary encoding). Measured on 7M kept of 10M samples: 0.26 s and 33.5 MB
# with the defaults (dictionary + snappy), 0.11 s and 6.8 MB like this, and
# the file reads back about twice as fast. The schema and values are the same.
MANIFEST_ENCODING = {"sample": "DELTA_BINARY_PACKED", "target": "DELTA_BINARY_PACKED"}


def write_manifest(path: str | os.PathLike, sample: np.ndarray, target: np.ndarray, meta: dict[str, Any],
                   weight: np.ndarray | None = None, files: np.ndarray | None = None) -> None:
    sample = np.asarray(sample, dtype=np.int64)
    if len(sample) > 1 and not np.all(sample[1:] > sample[:-1]):
        raise ValueError("manifest ids must be sorted and unique")  # a bug, not a user error
    cols = {"sample": sample, "target": np.asarray(target, dtype=np.int64)}
    schema = MANIFEST_SCHEMA
    if weight is not None:
        cols["weight"] = np.asarray(weight, dtype=np.float64)
        schema = MANIFEST_WEIGHTED_SCHEMA
    if files is not None:
        cols["path"] = list(files)
        schema = schema.append(MANIFEST_PATH_FIELD)
    write_table(path, cols, schema, {"artifact": "manifest", **meta}, use_dictionary=["weight"], compression="none",
                column_encoding=MANIFEST_ENCODING)


def read_manifest(path: str | os.PathLike) -> Manifest:
    table = _read(path, MANIFEST_SCHEMA, "manifest")
    meta = _decode_metadata(table.schema)
    kind = meta.get("artifact")
    if kind not in (None, "manifest"):  # a prune table of another kind (a score table has sample and target too)
        how = " (select from it first: `prune select --scores PATH`)" if kind == "scores" else ""
        raise PruneError(f"{path} is a {kind} table, not a manifest of kept samples{how}")
    sample = _int_column(table, "sample", path)
    target = _int_column(table, "target", path)
    if len(sample) == 0:
        raise PruneError(f"{path}: the manifest keeps no samples")
    if not np.all(sample[1:] > sample[:-1]) or sample[0] < 0:
        raise PruneError(f"{path}: manifest sample ids must be sorted, unique and non-negative")
    weight = None
    if "weight" in table.column_names:
        col = table.column("weight")
        if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)) or col.null_count:
            raise PruneError(f"{path}: column 'weight' must hold numbers without missing values, got {col.type}")
        weight = col.to_numpy().astype(np.float64)
    files = np.asarray(table.column("path").to_pylist(), dtype=object) if "path" in table.column_names else None
    return Manifest(sample=sample, target=target, weight=weight, meta=meta,
                    path=Path(path), files=files)


def _plain(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__


# ---------------------------------------------------------------------------- sweep results


def write_sweep_results(path: str | os.PathLike, rows: list[dict[str, Any]], name: str, classes: list[str]):
    """Write a sweep's rows (the columns of :data:`SWEEP_RESULTS_SCHEMA`; ``sweep`` is ``name``) and read them back."""
    cols = {f.name: [name if f.name == "sweep" else row.get(f.name) for row in rows] for f in SWEEP_RESULTS_SCHEMA}
    write_table(path, cols, SWEEP_RESULTS_SCHEMA, {"artifact": "sweep results", "sweep": name, "classes": classes})
    return read_sweep_results(path)


def with_sweep_hyper(df):
    """``df`` (Polars) with every :data:`SWEEP_HYPER` column and the cost columns: results of older sweeps have
    no gamma, recalls or cost (null)."""
    import polars as pl

    types = {"beta": pl.Float64, "gamma": pl.Float64, "recalls": pl.String, "query_passes": pl.Int64, "cost": pl.Float64,
             "epochs_fraction": pl.Float64}
    return df.with_columns([pl.lit(None, dtype=types[h]).alias(h) for h in types if h not in df.columns])


#: What makes a method of a sweep (one line of a report's figure); with ``cell`` (its id) and ``rate``, a cell.
SWEEP_METHOD_KEYS = ("score", "method", "quota", "keep", "budget", "cdbw", "epochs_fraction")
SWEEP_CELL_KEYS = ("cell", *SWEEP_METHOD_KEYS, "rate")
#: The figures summarised over seeds.
SWEEP_SUMMARISED = ("accuracy", "worst_class_accuracy", "val_accuracy", "balanced_accuracy", "seconds", "cost",
                    "query_cost")


def summarise_sweep(df):
    """One row per cell, in the frame's order: the cell's keys, hyper-parameters and kept count, ``seeds``, and
    ``<metric>_mean`` and ``<metric>_std`` (sample std, ddof 1; 0 for one seed) of :data:`SWEEP_SUMMARISED`;
    ``query_cost`` is the query run's part of ``cost`` (0 for full data and dynamic pruning)."""
    import polars as pl

    df = with_sweep_hyper(df)
    q = pl.col("query_passes").cast(pl.Float64)
    query = (pl.col("cost") * q / (q + pl.col("sample_passes").cast(pl.Float64)) if "sample_passes" in df.columns
             else pl.lit(None, dtype=pl.Float64))  # a table written without its passes: the query's part unknown
    return (df.with_columns(query.alias("query_cost")).with_row_index("_order")
            .group_by(list(SWEEP_CELL_KEYS), maintain_order=True)
            .agg(pl.col("_order").min(), *[pl.col(h).first() for h in SWEEP_HYPER], pl.col("n_kept").first(),
                 pl.len().alias("seeds"),
                 *[pl.col(m).mean().alias(f"{m}_mean") for m in SWEEP_SUMMARISED],
                 *[pl.col(m).std(ddof=1).fill_null(0.0).alias(f"{m}_std") for m in SWEEP_SUMMARISED])
            .sort("_order").drop("_order"))


def read_sweep_results(path: str | os.PathLike):
    """A sweep's results.parquet as a Polars frame, every hyper-parameter column present."""
    import polars as pl

    try:
        df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as err:
        raise PruneError(f"{path}: not a readable sweep results table ({_first_line(err)})") from None
    missing = [c for c in ("cell", "seed", "method", "rate", "accuracy", "val_accuracy") if c not in df.columns]
    if missing:
        raise PruneError(f"{path}: not a sweep results table (no column {', '.join(missing)})")
    for c in ("accuracy", "val_accuracy", "worst_class_accuracy"):
        if c in df.columns and df[c].dtype.is_numeric():
            bad = df.filter(~pl.col(c).is_between(0.0, 1.0) | pl.col(c).is_null() | pl.col(c).is_nan())
            if bad.height:
                row = bad.row(0, named=True)
                raise PruneError(f"{path}: {c} of cell {row['cell']} seed {row['seed']} is {row[c]}, not an accuracy "
                                 "in [0, 1]; a damaged results table (run the sweep again with --force)")
    return with_sweep_hyper(df)
