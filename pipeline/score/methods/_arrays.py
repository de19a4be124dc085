"""Shared array access for score methods: per-sample dynamics as (init, epoch, sample) arrays."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError


def dynamics_array(run, column: str, epochs: range | None = None) -> np.ndarray:
    """Column of RUN/dynamics as an (init, epoch, sample) array, read one epoch file at a time.

    Each file is checked as it is read (``Run.dynamics_epoch``): a missing or
    damaged epoch is one line naming the file.
    """
    E = range(run.epochs) if epochs is None else epochs
    out = None
    for i in range(run.inits):
        for k, e in enumerate(E):
            values = run.dynamics_epoch(i, e, [column])[column]
            if out is None:
                out = np.empty((run.inits, len(E), run.n), dtype=values.dtype)
            out[i, k] = values
    if out is None:
        raise PruneError(f"run {run.path} records no epochs")
    return out


def dynamics_per_init(run, column: str, step, start, finish, epochs: range | None = None) -> np.ndarray:
    """Fold one column of RUN/dynamics epoch by epoch, mean over inits, with memory bounded by a few sample vectors.

    For each init: ``acc = start(n)``, then ``acc = step(acc, values, k)`` for
    each epoch's values in order, then ``finish(acc)`` gives that init's
    scores. One epoch file is in memory at a time (the whole column was
    ~50 bytes per sample-epoch: 5 GB at 1M samples x 100 epochs).
    """
    E = range(run.epochs) if epochs is None else epochs
    total = np.zeros(run.n, dtype=np.float64)
    for i in range(run.inits):
        acc = start(run.n)
        for k, e in enumerate(E):
            acc = step(acc, run.dynamics_epoch(i, e, [column])[column], k)
        total += finish(acc)
    return total / run.inits


def dynamics_windows(run, column: str, epochs: range, width: int, count: int, per_window) -> np.ndarray:
    """Σ_k per_window(sq_k, k) over windows k = 0 .. count−1 of ``width`` consecutive ``epochs`` of a dynamics column,
    mean over inits; sq_k = Σ_j (x_{k+j} − mean_k)², as :func:`window_sq_dev` computes it (two passes, float64).

    Epoch files are read one at a time and only ``width`` epoch vectors are
    held: memory is bounded by the window, not by the epochs recorded.
    """
    total = np.zeros(run.n, dtype=np.float64)
    last = min(len(epochs), count + width - 1)  # the epochs the last window needs
    for i in range(run.inits):
        held: list[np.ndarray] = []
        acc = np.zeros(run.n, dtype=np.float64)
        for j, e in enumerate(epochs[:last]):
            held.append(run.dynamics_epoch(i, e, [column])[column].astype(np.float64))
            if len(held) > width:
                held.pop(0)
            k = j - width + 1
            if k < 0:
                continue
            mean = np.zeros(run.n, dtype=np.float64)
            for x in held:
                mean += x
            mean /= width
            sq = np.zeros(run.n, dtype=np.float64)
            for x in held:
                sq += np.square(x - mean)
            acc += per_window(sq, k)
        total += acc
    return total / run.inits


def dynamics_at(run, column: str, epoch: int) -> np.ndarray:
    """One epoch's dynamics column as float64 (init, sample)."""
    return np.stack([run.dynamics_epoch(i, epoch, [column])[column].astype(np.float64) for i in range(run.inits)])


def needs_logits(run, method: str, what: str = "") -> None:
    """One line when ``run`` keeps dynamics only (``prune record --logits none``) and ``method`` needs the logits."""
    if not run.stores_logits:
        raise PruneError(f"{method}{what} needs the recorded logits, and run {run.path} keeps dynamics/ only "
                         "(recorded with --logits none); record it with --logits float16")


def or_dynamics(plan, from_dynamics):
    """A ``compute`` running ``plan`` through the streaming driver, or ``from_dynamics(run, params)`` where ``plan``
    gives None (a run without logits, scored from RUN/dynamics instead)."""

    def compute(run, params) -> np.ndarray:
        p = plan(run, params)
        if p is None:
            return from_dynamics(run, params)
        from pipeline.score.stream import run_plans

        return run_plans(run, [p])[0][0]

    return compute


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    z = logits - logits.max(axis=axis, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=axis, keepdims=True)
    return z


def epoch_index(run, epoch: int | None, default: int, flag: str = "--epoch") -> int:
    """A 0-based recorded epoch; negative counts from the end (-1 = last)."""
    e = default if epoch is None else int(epoch)
    if e < 0:
        e += run.epochs
    if not 0 <= e < run.epochs:
        raise PruneError(f"{flag} {epoch} is outside the recorded epochs 0..{run.epochs - 1}")
    return e


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis in float64 (finite for any finite logits)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


#: float32 bytes of one slice of samples in ``log_p_true``: small enough to stay in cache across its passes.
SLICE_BYTES = 4 << 20


def log_p_true(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """log p_y = z_y − logsumexp(z) per (..., sample), without materialising the full log-softmax.

    The shifted exponentials stay in the input's precision (float32 for
    streamed blocks) and are summed in float64. Slices of samples are turned
    class-axis-first, so the max and the sum over classes are elementwise
    passes over C rows (numpy is slow at reducing many short last axes), and
    each slice stays in cache across the passes.
    """
    z = np.asarray(logits)
    n, C = z.shape[-2], z.shape[-1]
    y_logit = true_class(z, targets)  # (..., n)
    out = np.empty(y_logit.shape, dtype=np.float64)
    per_sample = max(1, z.size // max(1, n)) * z.itemsize
    sub = max(1, SLICE_BYTES // per_sample)
    for s in range(0, n, sub):
        x = np.moveaxis(z[..., s:s + sub, :], -1, 0).copy()  # (C, ..., m)
        m = x.max(axis=0)
        x -= m
        np.exp(x, out=x)
        lse = np.log(x.sum(axis=0, dtype=np.float64))
        out[..., s:s + sub] = (y_logit[..., s:s + sub] - m).astype(np.float64) - lse
    return out


def window_sq_dev(x: np.ndarray, width: int, count: int) -> np.ndarray:
    """Σ_j (x_{k+j} − mean_k)² over windows k = 0 .. count−1 of ``width`` steps along axis 1 of x (I, T, n).

    ``width`` shifted adds per pass instead of a (count, n, width) window
    array; two passes (the window means, then the squared deviations), as
    ``np.std`` computes them, keep tiny late-training values exact.
    """
    mean = np.zeros(x.shape[:1] + (count,) + x.shape[2:])
    for j in range(width):
        mean += x[:, j:j + count]
    mean /= width
    sq = np.zeros_like(mean)
    for j in range(width):
        sq += np.square(x[:, j:j + count] - mean)
    return sq


def true_class(values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """values[..., n, y_n]: the label's entry of every sample, for any leading axes."""
    idx = np.broadcast_to(np.asarray(targets, dtype=np.int64)[:, None], values.shape[:-1] + (1,))
    return np.take_along_axis(values, idx, axis=-1)[..., 0]


def preferred_source(run) -> str:
    """The eval pass where recorded (eval mode, no augmentation, as scoring papers evaluate), else the training pass."""
    return "eval_logits" if run.has("eval_logits") else "logits"


def first_epochs(run, epochs: int | None) -> int:
    """``--epochs T``: the first T recorded epochs (default all), checked against what was recorded."""
    T = run.epochs if epochs is None else int(epochs)
    if not 1 <= T <= run.epochs:
        raise PruneError(f"--epochs {T} is outside 1..{run.epochs} (the epochs recorded)")
    return T


def single_epoch_plan(run, params, per_sample, method: str | None = None):
    """A plan scoring one recorded epoch (``--epoch``, default the last) of the preferred pass, mean over inits.

    ``per_sample(logits (init, sample, class), targets) -> (init, sample)``.
    On a run without logits (``--logits none``): None where ``method`` is None
    (the caller scores RUN/dynamics instead), else one line naming ``method``.
    """
    from pipeline.score.base import LogitsPlan

    e = params["epoch"] = epoch_index(run, params["epoch"], -1)  # the table records the epoch actually used
    if not run.stores_logits:
        if method is None:
            return None
        needs_logits(run, method)
    return LogitsPlan(preferred_source(run), range(e, e + 1), lambda block, y: per_sample(block[:, 0], y).mean(axis=0))


# -- the pool of a run recorded with ``--manifest M --pool`` (active learning) --------------------

def pool_logits_at(run, params, default: int) -> np.ndarray:
    """Eval-mode logits of the pool (init, pool, class) after recorded epoch ``--epoch`` (default ``default``).

    ``params["epoch"]`` becomes the 0-based epoch actually used, as the training-row scores record it.
    """
    e = params["epoch"] = epoch_index(run, params["epoch"], default)
    z = run.pool_array("pool_logits")  # (init, epoch, pool, class), checked; one line when the run has no pool
    if z.shape[1] != run.epochs or z.shape[3] != run.num_classes:
        raise PruneError(f"run {run.path} is damaged: pool_logits has shape {tuple(z.shape)} for {run.epochs} epochs "
                         f"and {run.num_classes} classes; record the run again")
    return z[:, e]


def pool_mc_logits(run) -> np.ndarray:
    """The MC-dropout logits of the pool (init, pass, pool, class), at least one pass."""
    z = run.pool_array("pool_mc_logits")
    if z.shape[1] < 1 or z.shape[3] != run.num_classes:
        raise PruneError(f"run {run.path} is damaged: pool_mc_logits has shape {tuple(z.shape)}; record the run again")
    return z


#: ``--label`` of el2n and grand: the recorded label, or label-free as DRoP's code scores unlabelled data.
LABELS = ("true", "max", "avg")


def label_mode(label: str | None, method: str, pool: bool) -> str:
    """The label rule actually used: ``true`` (the recorded label; the default on training rows),
    ``max`` (the predicted class argmax_c p_c; the default on the pool) or ``avg`` (the mean over every class
    taken as the label). The pool has no label to use, so ``true`` is refused there."""
    mode = ("max" if pool else "true") if label is None else str(label)
    if mode not in LABELS:
        raise PruneError(f"--label must be true|max|avg for {method}, got {label!r}")
    if pool and mode == "true":
        raise PruneError(f"--label true needs the recorded label, which the pool has not: score the pool with "
                         f"--label max or avg ({method})")
    return mode


def training_label(params, method: str) -> str:
    """``label_mode`` on training rows. Left at its default (None), ``label`` is dropped from the parameters,
    so the table's metadata stays what it was before the option existed (the recorded label)."""
    mode = label_mode(params.get("label"), method, pool=False)
    if params.get("label") is None:
        params.pop("label", None)
    return mode
