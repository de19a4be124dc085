"""Every on-disk artifact of the pipeline: schemas, readers and writers.

Stages never touch a file format directly; they go through this package, so
the contracts in docs/design.md §3 live in one place.
"""

from pipeline.io.errors import PruneError
from pipeline.io.atomic import atomic_path, write_json, read_json
from pipeline.io.fingerprint import fingerprint
from pipeline.io.tables import (
    DYNAMICS_SCHEMA,
    EVAL_SCHEMA,
    SCORES_SCHEMA,
    MANIFEST_SCHEMA,
    HISTORY_SCHEMA,
    write_table,
    read_table_metadata,
    write_scores,
    read_scores,
    write_manifest,
    read_manifest,
    Scores,
    Manifest,
    file_sha256,
)
from pipeline.io.run import Run, open_run
from pipeline.io.runinfo import RUN_KEYS, RUN_SCHEMA_VERSION, run_info, trajectory_attrs, write_run_info
from pipeline.io import layout

__all__ = [
    "PruneError",
    "atomic_path",
    "write_json",
    "read_json",
    "fingerprint",
    "DYNAMICS_SCHEMA",
    "EVAL_SCHEMA",
    "SCORES_SCHEMA",
    "MANIFEST_SCHEMA",
    "HISTORY_SCHEMA",
    "write_table",
    "read_table_metadata",
    "write_scores",
    "read_scores",
    "write_manifest",
    "read_manifest",
    "Scores",
    "Manifest",
    "file_sha256",
    "Run",
    "open_run",
    "RUN_SCHEMA_VERSION",
    "RUN_KEYS",
    "run_info",
    "trajectory_attrs",
    "write_run_info",
]
