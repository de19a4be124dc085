"""GraNd (Paul et al., NeurIPS 2021): the per-sample gradient norm at an early checkpoint."""

from __future__ import annotations

import numpy as np

from pipeline.io import PruneError, fingerprint
from pipeline.score.base import ScoreMethod
from pipeline.score.methods._arrays import label_mode, training_label

GRAD_BYTES = 256 << 20  # float32 bytes of one batch of per-sample gradients


def default_checkpoint(recorded: list[int], epochs: int) -> int:
    """The recorded checkpoint nearest 10% of training (Paul et al. score early); ties go to the earlier."""
    return min(recorded, key=lambda k: (abs(k - 0.1 * epochs), k))


def gradient_norms(model, x, y):
    """‖∇_θ CE(f(x_n), y_n)‖₂ over every parameter θ, for each sample n of one batch.

    Per-sample gradients with ``torch.func`` (``vmap`` of ``grad`` of the
    one-sample loss), as the authors' JAX code (``vmap``/``jacrev`` of the
    per-sample cross-entropy). The model is used as it is (eval mode:
    batch-norm statistics are the running ones, so a sample's gradient does
    not depend on its batch).
    """
    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, grad, vmap

    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss(p, b, xi, yi):
        return F.cross_entropy(functional_call(model, (p, b), (xi.unsqueeze(0),)), yi.unsqueeze(0))

    g = vmap(grad(loss), in_dims=(None, None, 0, 0))(params, buffers, x, y)
    return torch.sqrt(sum(t.flatten(1).pow(2).sum(1) for t in g.values()))


def last_layer_norms(model, x, y):
    """‖∇_{W,b} CE‖₂ of the final linear layer only, exactly, without autograd.

    With h = features(x) and p = softmax(W h + b), the gradients are
    ∂/∂b = p − onehot(y) and ∂/∂W = (p − onehot(y)) hᵀ, so the norm is
    ‖p − onehot(y)‖₂ · sqrt(1 + ‖h‖₂²) — DeepCore's GraNd, which concatenates
    exactly these two blocks.
    """
    import torch

    with torch.no_grad():
        h = model.features(x).flatten(1)
        g = torch.softmax(model.classifier(h).double(), dim=1)
        h = h.double()
        g[torch.arange(len(y), device=g.device), y] -= 1.0
        return g.norm(dim=1) * torch.sqrt(1.0 + h.pow(2).sum(1))


def grand_scores(model, split, targets: np.ndarray | None, device, *, last_layer: bool = False,
                 rows: np.ndarray | None = None, label: str = "true", num_classes: int | None = None) -> np.ndarray:
    """GraNd of samples ``rows`` of ``split`` (default all, in sample order; un-augmented) under ``model`` in eval mode.

    ``label``: ``true`` differentiates the loss at ``targets`` (one per row);
    ``max`` at the class the model predicts, argmax_c f(x)_c; ``avg`` is the
    mean over every class c (``num_classes`` of them) of the norm with c as
    the label, one pass per class (DRoP's code on unlabelled data).
    """
    import torch

    model.to(device).eval()
    if rows is None:
        rows = np.arange(len(split) if targets is None else len(targets))
    rows = np.asarray(rows, dtype=np.int64)
    n_params = sum(p.numel() for p in model.parameters())
    batch = 4096 if last_layer else int(max(1, min(4096, GRAD_BYTES // (4 * n_params))))
    y_all = torch.from_numpy(np.asarray(targets, dtype=np.int64)) if label == "true" else None
    norms_of = last_layer_norms if last_layer else gradient_norms
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), batch):
        idx = np.arange(start, min(len(rows), start + batch))
        x = split.take(rows[idx], device)
        if label == "true":
            norms = norms_of(model, x, y_all[idx].to(device))
        elif label == "max":
            with torch.no_grad():
                y = model(x).argmax(dim=1)
            norms = norms_of(model, x, y)
        else:
            norms = sum(norms_of(model, x, torch.full((len(idx),), c, dtype=torch.int64, device=x.device)).double()
                        for c in range(num_classes)) / num_classes
        out[idx] = norms.double().cpu().numpy()
    return out


def load_training_data(run):
    """The data set's training split as the model trained on it (an ``--imbalance`` long tail, ``--label-noise``
    flips included).

    The labels are those of the whole training set (``run.n_total`` rows, the
    ones the fingerprint is taken over); a run on a manifest's subset trained
    on rows ``run.sample_ids`` of it, and its pool is rows ``run.pool_ids``.
    """
    from pipeline.data.longtail import train_as_recorded
    from pipeline.engine.setup import load_data

    if run.info.get("synthetic") or run.info.get("model") in (None, "none"):
        raise PruneError(f"run {run.path} has no model to differentiate (it was not recorded by `prune record`)")
    bundle = train_as_recorded(run.info, load_data(run.dataset, run.info.get("data_dir"), False))
    y = bundle.train.y
    if len(y) != run.n_total or fingerprint(bundle.name, "train", y, bundle.identity) != run.fingerprint:
        raise PruneError(f"the {run.dataset} training set found on disk is not the one run {run.path} recorded "
                         "(its fingerprint differs); point --data-dir of `prune record` at the same files")
    return bundle, y


def load_checkpoint(run, init: int, epoch: int, bundle):
    from pipeline.io.checkpoints import load_into
    from pipeline.models import build_model

    model = build_model(run.info["model"], tuple(run.info["input_shape"]), run.num_classes)
    return load_into(run.checkpoint_path(init, epoch), model, run.info["model"])


def checkpoint_epoch(run, params, name: str = "grand", default=default_checkpoint) -> int:
    """The checkpoint a model-based score ``name`` reads: --epoch, or ``default(recorded, epochs)`` (GraNd's: the
    recorded one nearest 10% of training)."""
    recorded = run.checkpoint_epochs
    if not recorded:
        raise PruneError(f"{name} needs model checkpoints and run {run.path} has none: "
                         "record with `prune record --checkpoints 0,10%,final` (from your own loop: "
                         "rec.checkpoint(epoch, model) of a Recorder made with model= and input_shape=)")
    k = default(recorded, run.epochs) if params["epoch"] is None else int(params["epoch"])
    if k not in recorded:
        raise PruneError(f"--epoch {k}: {name} needs a checkpoint after {k} epochs; this run has them after "
                         f"{', '.join(map(str, recorded))} (record with `prune record --checkpoints ...,{k}`)")
    params["epoch"] = k  # the table's metadata records the checkpoint actually used
    return k


def _norms(run, params, rows: np.ndarray, mode: str) -> np.ndarray:
    from pipeline.engine.loop import resolve_device

    k = checkpoint_epoch(run, params)
    device = resolve_device(params["device"])
    bundle, y = load_training_data(run)
    targets = y[rows] if mode == "true" else None
    norms = [grand_scores(load_checkpoint(run, i, k, bundle), bundle.train, targets, device,
                          last_layer=bool(params["last_layer"]), rows=rows, label=mode, num_classes=run.num_classes)
             for i in range(run.inits)]
    return np.mean(norms, axis=0)


def compute(run, params) -> np.ndarray:
    mode = training_label(params, "grand")
    return _norms(run, params, run.sample_ids, mode)


def pool(run, params) -> np.ndarray:
    """GraNd of the pool (its inputs are the training set's rows ``run.pool_ids``), label ``max`` or ``avg``."""
    mode = params["label"] = label_mode(params.get("label"), "grand", pool=True)  # the table records the rule used
    return _norms(run, params, run.pool_ids, mode)


METHOD = ScoreMethod(
    name="grand",
    compute=compute,
    pool=pool,
    higher_is_harder=True,
    formula="‖∇_θ CE(f(x), y)‖₂ over all parameters at the checkpoint after --epoch epochs (default: nearest 10% of training), "
            "eval mode, mean over inits; --last-layer: ‖p − onehot(y)‖₂·sqrt(1 + ‖h‖₂²) (DeepCore); "
            "--label max: y = the predicted class, avg: mean over every class as y (the pool's default is max)",
    paper="Paul et al., Deep Learning on a Data Diet: Finding Important Examples Early in Training, NeurIPS 2021",
    defaults={"epoch": None, "last_layer": False, "device": "auto", "label": None},
    needs=("checkpoints (prune record --checkpoints, default 0,10%,final)", "the data set's files, as recorded",
           "on the pool: a run recorded with --manifest M --pool (the pool's inputs are read from the data set)"),
)
