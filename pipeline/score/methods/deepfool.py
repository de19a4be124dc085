"""DeepFool (Ducoffe & Precioso, 2018): the size of the smallest perturbation that changes the model's prediction."""

from __future__ import annotations

import numpy as np

from pipeline.score.base import ScoreMethod
from pipeline.score.methods.grand import checkpoint_epoch, load_checkpoint, load_training_data

#: float32 bytes of one batch's input gradients, one per class (class × sample × input size)
JACOBIAN_BYTES = 256 << 20


def last_checkpoint(recorded: list[int], epochs: int) -> int:
    """DeepCore runs DeepFool on the model it has just trained: the last recorded checkpoint."""
    return max(recorded)


def deepfool_norms(model, x, max_iter: int = 50):
    """‖r‖₂ of the DeepFool perturbation r of every sample of one batch ``x``, float64 on ``x``'s device.

    As DeepCore's ``deepfool.py``, for each sample still unchanged: with ŷ the
    class the model predicts for the *original* input, f the logits at the
    current input x + r and w_c = ∇_x f_c there, take the class
    l = argmin_{c≠ŷ} |f_c − f_ŷ| / ‖w_c − w_ŷ‖₂ and step
    r += |f_l − f_ŷ| / ‖w_l − w_ŷ‖₂² · (w_l − w_ŷ), the move onto the
    linearised boundary between ŷ and l (no overshoot); stop when the
    prediction at x + r is no longer ŷ, or after ``max_iter`` steps (r is then
    what was accumulated). On a model linear in its input, one step lands on
    the nearest decision boundary: ‖r‖ = min_c |f_c − f_ŷ| / ‖w_c − w_ŷ‖.
    A class whose gradient equals ŷ's (‖w_c − w_ŷ‖ = 0) cannot be reached by
    a linear step and is passed over; a sample with no reachable class stops
    where it is. The model runs as it is (eval mode set by the caller); its
    parameters are not differentiated.
    """
    import torch

    dev = x.device
    n = len(x)
    with torch.no_grad():
        f0 = model(x)
    classes = f0.shape[1]
    r_tot = torch.zeros(n, x[0].numel(), dtype=torch.float64, device=dev)
    active = torch.arange(n, device=dev)  # rows of the batch still unchanged
    target = f0.argmax(dim=1)  # ŷ, fixed at the original input
    cur = x.detach().clone()
    saved = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        for _ in range(max_iter):
            xa = cur.requires_grad_(True)
            f = model(xa)
            # (m, C, D): ∂f_c/∂x of each sample, from the batch sum (samples are independent in eval mode)
            w = torch.stack([torch.autograd.grad(f[:, c].sum(), xa, retain_graph=c + 1 < classes)[0].flatten(1)
                             for c in range(classes)], dim=1)
            rows = torch.arange(len(xa), device=dev)
            w = w - w[rows, target].unsqueeze(1)
            f = f.detach().double()
            gap = (f - f[rows, target].unsqueeze(1)).abs()
            norm = torch.linalg.vector_norm(w, dim=2, dtype=torch.float64).clamp_min(torch.finfo(torch.float64).tiny)
            ratio = torch.where(norm > torch.finfo(torch.float64).tiny, gap / norm, torch.full_like(gap, float("inf")))
            ratio[rows, target] = float("inf")
            dist, l = ratio.min(dim=1)  # ties go to the lower class, as argmin
            stuck = ~torch.isfinite(dist)
            size = torch.where(stuck, torch.zeros_like(dist), dist / norm[rows, l])
            step = size.unsqueeze(1) * w[rows, l].double()  # |f_l − f_ŷ| / ‖w_l − w_ŷ‖² · (w_l − w_ŷ)
            r_tot[active] += step
            cur = (xa.detach() + step.to(xa.dtype).view_as(xa)).detach()
            with torch.no_grad():
                going = (model(cur).argmax(dim=1) == target) & ~stuck
            if not bool(going.any()):
                break
            active, target, cur = active[going], target[going], cur[going]
    finally:
        for p, flag in zip(model.parameters(), saved):
            p.requires_grad_(flag)
    return r_tot.norm(dim=1)


def deepfool_scores(model, split, device, *, max_iter: int = 50, rows: np.ndarray | None = None) -> np.ndarray:
    """DeepFool norms of samples ``rows`` of ``split`` (default all, in sample order; un-augmented) under
    ``model`` in eval mode, by batches that keep the per-class input gradients near :data:`JACOBIAN_BYTES`."""
    import torch

    model.to(device).eval()
    rows = np.arange(len(split)) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows) == 0:
        return np.empty(0)
    probe = split.take(rows[:1], device)
    with torch.no_grad():
        classes = model(probe).shape[1]
    batch = int(max(1, min(1024, JACOBIAN_BYTES // (4 * classes * probe[0].numel()))))
    out = np.empty(len(rows), dtype=np.float64)
    for start in range(0, len(rows), batch):
        idx = slice(start, min(len(rows), start + batch))
        out[idx] = deepfool_norms(model, split.take(rows[idx], device), max_iter).cpu().numpy()
    return out


def compute(run, params) -> np.ndarray:
    from pipeline.engine.loop import resolve_device

    k = checkpoint_epoch(run, params, "deepfool", last_checkpoint)
    device = resolve_device(params["device"])
    bundle, _ = load_training_data(run)  # the labels are not read: DeepFool starts from the predicted class
    norms = [deepfool_scores(load_checkpoint(run, i, k, bundle), bundle.train, device,
                             max_iter=int(params["max_iter"]), rows=run.sample_ids)
             for i in range(run.inits)]
    return np.mean(norms, axis=0)


METHOD = ScoreMethod(
    name="deepfool",
    compute=compute,
    higher_is_harder=False,
    hard_end="low (close to the decision boundary)",
    formula="‖r‖₂ of the DeepFool perturbation (no overshoot, at most --max-iter 50 linearised steps, each onto the "
            "nearest linearised boundary of the predicted class) at the checkpoint after --epoch epochs (default the "
            "last recorded), eval mode, un-augmented inputs, mean over inits",
    paper="Ducoffe & Precioso, Adversarial Active Learning for Deep Networks: a Margin Based Approach, arXiv:1802.09841, "
          "2018 (as DeepCore's DeepFool)",
    defaults={"epoch": None, "max_iter": 50, "device": "auto"},
    needs=("checkpoints (prune record --checkpoints, default 0,10%,final)", "the data set's files, as recorded"),
)
