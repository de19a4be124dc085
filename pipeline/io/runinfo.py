"""What a recorded run says about itself: run.json and the attributes of its trajectories.zarr group.

Every writer of a run (``prune record``, the ``Recorder``, the synthetic runs
of tests and benchmarks, the in-memory run of dynamic pruning) builds these
through :func:`run_info` and :func:`trajectory_attrs`, so the keys, their
order and their types are decided here once; :func:`check_info` is the same
contract seen from the reading side (one line for a damaged file).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Sequence

from pipeline.io import layout
from pipeline.io.atomic import _jsonable, write_json
from pipeline.io.errors import PruneError

RUN_SCHEMA_VERSION = 1

#: Keys every run.json has (the later stages read them); ``run_info`` and ``write_run_info`` refuse a dict without.
RUN_KEYS = ("schema_version", "data", "n_train", "classes", "model", "config", "epochs", "inits", "seed",
            "record_pass", "fingerprint")

#: Every key a run.json may have, in the order it is written (the order of ``prune record``'s run.json).
RUN_INFO_FIELDS = (
    "schema_version", "data", "data_dir", "n_train",
    "n_total", "manifest", "pool", "n_pool", "mc_samples",  # a run recorded on a manifest's subset
    "n_val", "n_test", "classes", "input_shape", "model", "config", "epochs", "inits", "seed", "seeds",
    "record_pass", "eval_pass", "logits_dtype", "checkpoints", "snapshot_epochs",
    "imbalance", "imbalance_seed",  # a run on a long-tailed training set (prune record --imbalance R)
    "label_noise", "label_noise_seed", "label_noise_flipped", "fingerprint", "data_identity", "device",
    "final_test_accuracy",
    "synthetic", "recorded_by", "torch",  # written without prune's training loop
    "versions", "processes",
)

#: The attributes of a run's trajectories.zarr group, in the order they are written (docs/design.md §3).
TRAJECTORY_ATTRS = ("schema_version", "fingerprint", "classes", "epochs_recorded", "record_pass", "eval_pass",
                    "snapshot_epochs", "label_noise")


def run_info(**fields: Any) -> dict[str, Any]:
    """The run.json of a run, from its named values (``schema_version`` is filled in).

    The keys come out in :data:`RUN_INFO_FIELDS` order, so the same values
    always give the same bytes. A key outside that list, a missing key of
    :data:`RUN_KEYS`, or a value a reader would refuse is a bug in the
    writer: ``ValueError``, before anything is written.
    """
    if "schema_version" in fields:
        raise ValueError("run_info fills in schema_version itself")
    unknown = sorted(set(fields) - set(RUN_INFO_FIELDS))
    if unknown:
        raise ValueError(f"run.json has no key {', '.join(map(repr, unknown))} (known: {', '.join(RUN_INFO_FIELDS)})")
    fields["schema_version"] = RUN_SCHEMA_VERSION
    info = {k: fields[k] for k in RUN_INFO_FIELDS if k in fields}
    check_run_info(info)
    return info


def check_run_info(info: dict[str, Any]) -> None:
    """``ValueError`` unless ``info`` is a run.json a reader takes: every key of RUN_KEYS, each value of its type."""
    missing = [k for k in RUN_KEYS if k not in info]
    if missing:
        raise ValueError(f"run.json would lack {', '.join(missing)}")  # a bug in the writer, not a user error
    try:
        check_info(json.loads(json.dumps(info, default=_jsonable)), Path(layout.RUN_JSON))  # as a reader sees it
    except PruneError as err:
        raise ValueError(f"run.json would be refused by its readers: {err}") from None


def write_run_info(run: str | os.PathLike, info: dict[str, Any]) -> None:
    """Write RUN/run.json (built by :func:`run_info`), the completion marker of a recorded run (written last)."""
    check_run_info(info)
    write_json(layout.run_json(run), info)


def trajectory_attrs(*, fingerprint: str, classes: Sequence[str], epochs: int, eval_pass: bool,
                     snapshot_epochs: Sequence[int] = (), label_noise: float = 0.0,
                     record_pass: str = "train") -> dict[str, Any]:
    """The attributes of a run's trajectories.zarr group (pass them to ``create_trajectories``)."""
    return {"schema_version": RUN_SCHEMA_VERSION, "fingerprint": fingerprint, "classes": list(classes),
            "epochs_recorded": list(range(epochs)), "record_pass": record_pass, "eval_pass": bool(eval_pass),
            "snapshot_epochs": list(snapshot_epochs), "label_noise": label_noise}


# ---------------------------------------------------------------- the reading side


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


#: What the later stages read from run.json: key -> (check, what it must be). Required keys first.
INFO_REQUIRED = ("fingerprint", "n_train", "classes", "epochs", "inits", "data")
INFO_TYPES: dict[str, tuple[Any, str]] = {
    "fingerprint": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
    "n_train": (lambda v: _count(v) and v >= 1, "an integer >= 1"),
    "classes": (lambda v: isinstance(v, list) and len(v) >= 1 and all(isinstance(c, str) for c in v),
                "a non-empty list of class names (strings)"),
    "epochs": (lambda v: _count(v) and v >= 1, "an integer >= 1"),
    "inits": (lambda v: _count(v) and v >= 1, "an integer >= 1"),
    "data": (lambda v: isinstance(v, str) and v != "", "a data set name"),
    "schema_version": (_count, "an integer"),
    "model": (lambda v: v is None or isinstance(v, str), "a model name"),
    "config": (lambda v: isinstance(v, dict), "an object"),
    "seed": (lambda v: v is None or _count(v), "an integer"),
    "seeds": (lambda v: isinstance(v, list) and all(_count(x) for x in v), "a list of integers"),
    "record_pass": (lambda v: v in ("train", "eval"), "'train' or 'eval'"),
    "eval_pass": (lambda v: isinstance(v, bool), "true or false"),
    "data_dir": (lambda v: v is None or isinstance(v, str), "a folder or null"),
    "logits_dtype": (lambda v: v in ("float16", "float32", "none"), "float16, float32 or none"),
    "checkpoints": (lambda v: isinstance(v, list) and all(_count(x) and x >= 0 for x in v),
                    "a list of epoch counts (integers >= 0)"),
    "snapshot_epochs": (lambda v: isinstance(v, list) and all(_count(x) and x >= 0 for x in v),
                        "a list of epoch counts (integers >= 0)"),
    "label_noise": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < 1,
                    "a fraction in [0, 1)"),
    "imbalance": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 1,
                  "a finite number >= 1"),
    "imbalance_seed": (_count, "an integer"),
}


def check_info(info: Any, path: Path) -> None:
    """Types and ranges of what the stages read from run.json, once, so every stage gets one line for a bad value."""
    again = "fix the value or record the run again"
    if not isinstance(info, dict):
        raise PruneError(f"{path} is damaged: it holds a JSON {type(info).__name__}, not an object; record the run again")
    for key in INFO_REQUIRED:
        if key not in info:
            raise PruneError(f"{path} is damaged: it has no '{key}'; record the run again")
    for key, (ok, what) in INFO_TYPES.items():
        if key in info and not ok(info[key]):
            raise PruneError(f"{path} is damaged: '{key}' must be {what}, got {json_repr(info[key])}; {again}")
    if len(set(info["classes"])) != len(info["classes"]):
        raise PruneError(f"{path} is damaged: 'classes' repeats a name; {again}")
    for key in ("checkpoints", "snapshot_epochs"):
        if any(k > info["epochs"] for k in info.get(key, [])):
            raise PruneError(f"{path} is damaged: '{key}' names an epoch past 'epochs' ({info['epochs']}); {again}")


def json_repr(v: Any) -> str:
    text = json.dumps(v)
    return text if len(text) <= 60 else text[:57] + "..."
