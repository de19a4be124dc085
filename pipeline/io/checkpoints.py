"""Model checkpoints: ``RUN/checkpoints/init=I/epoch=K.pt``, loadable with ``torch.load(..., weights_only=True)``."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from pipeline.io.atomic import atomic_path
from pipeline.io.errors import PruneError


def save_checkpoint(path: str | os.PathLike, model) -> None:
    """Write ``model``'s state dict (on the host) atomically.

    Serialised in memory first: ``torch.save`` to a file records that file's
    (temporary, random) name inside the archive, so the same weights would
    not give the same bytes.
    """
    save_state(path, {k: v.detach().cpu() for k, v in model.state_dict().items()})


def save_state(path: str | os.PathLike, state: dict) -> None:
    """``torch.save(state)`` serialised in memory, then written atomically (same state, same bytes).

    What checkpoints and the resume states of ``prune record`` and ``prune train`` are written with.
    """
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buf.getvalue())


def load_state(path: str | os.PathLike, version: int, again: str) -> dict:
    """A resume state written by :func:`save_state` with ``state["version"] == version``; one line otherwise.

    ``again`` ends the line: what the user does instead (e.g. "record again without --resume").
    """
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # written atomically, so only a foreign or damaged file gets here
        raise PruneError(f"{path} is not a readable resume state ({err.__class__.__name__}); {again}") from None
    if not isinstance(state, dict) or state.get("version") != version:
        raise PruneError(f"{path} was written by another version of prune; {again}")
    return state


def load_state_dict(path: str | os.PathLike) -> dict:
    """A checkpoint's state dict (tensors on the host); one line if it is missing or is not a state dict."""
    import torch

    path = Path(path)
    again = "record the run again (prune record --checkpoints ...)"
    if not path.exists():
        raise PruneError(f"checkpoint {path} is missing; {again}")
    try:
        with warnings.catch_warnings():  # torch warns about a foreign pickle before refusing it: one line only
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # random bytes make the unpickler raise almost any type (IndexError, KeyError, ...)
        raise PruneError(f"{path} is not a readable checkpoint ({err.__class__.__name__}); the file is damaged: "
                         f"{again}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise PruneError(f"{path} is not a model state dict (a mapping of parameter names to tensors); {again}")
    return state


def load_into(path: str | os.PathLike, model, what: str):
    """Load the checkpoint at ``path`` into ``model`` (a ``what``, for the message); returns the model."""
    state = load_state_dict(path)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise PruneError(f"{path} does not load into a {what} ({err.__class__.__name__}); the checkpoint is of another model") from None
    return model
