"""The embeddings hook: penultimate features of every training sample at chosen epochs.

Moderate coreset and self-supervised prototypes score samples by where they
sit in the model's feature space; this hook records that space
(``model.features``) at the ``prune record --embeddings`` epochs, into the
``embeddings`` array (init, snapshot, sample, dim) of trajectories.zarr.
With them go the classifier that reads them (``heads``) and the validation
split's features (``val_embeddings``, labels ``val_targets``): the
last-layer gradients of the gradient-based samplers (Craig, GradMatch,
Glister, submodular) are built from these three, with no model loaded.
"""

from __future__ import annotations

import torch

from pipeline.engine.hooks import Hook

from pipeline.io.run import create_embeddings, create_heads, logits_shape


def features(model: torch.nn.Module, split, device: torch.device, batch_size: int) -> torch.Tensor:
    """Eval-mode ``model.features`` of every sample of ``split``, un-augmented, in sample order (float32, on device)."""
    from pipeline.engine.loop import predict

    return predict(model, split, None, device, batch_size, forward=model.features)


class EmbeddingHook(Hook):
    """Writes one init's embeddings after each snapshot epoch (a completed-epoch count, as ``--checkpoints``).

    Snapshot 0 (the initial weights) happens before training: ``record``
    calls ``capture(0, model)`` itself. The array is created at the first
    capture, when the feature width is known.
    """

    def __init__(self, *, group, init: int, bundle, device: torch.device, snapshots: list[int], batch_size: int):
        self.group = group
        self.init = init
        self.bundle = bundle
        self.device = device
        self.snapshots = list(snapshots)
        self.batch_size = batch_size

    def capture(self, completed_epochs: int, model: torch.nn.Module) -> None:
        model = model.to(self.device)
        h = features(model, self.bundle.train, self.device, self.batch_size)
        hv = features(model, self.bundle.val, self.device, self.batch_size)
        keys = set(self.group.array_keys())
        inits, k = logits_shape(self.group)[0], self.snapshots.index(completed_epochs)
        if "embeddings" not in keys:
            create_embeddings(self.group, inits=inits, snapshots=len(self.snapshots), n=h.shape[0], dim=h.shape[1])
        if "heads" not in keys:
            create_heads(self.group, inits=inits, snapshots=len(self.snapshots), num_classes=len(self.bundle.classes),
                         dim=h.shape[1], val=hv.shape[0])
            y = self.group.create_array("val_targets", shape=(hv.shape[0],), dtype="int64",
                                        chunks=(max(1, hv.shape[0]),), dimension_names=("sample",))
            y[:] = self.bundle.val.y
        self.group["embeddings"][self.init, k] = h.to(torch.float16).cpu().numpy()
        self.group["val_embeddings"][self.init, k] = hv.to(torch.float16).cpu().numpy()
        lin = model.classifier
        self.group["heads"][self.init, k] = torch.cat([lin.bias.detach()[:, None], lin.weight.detach()], 1).float().cpu().numpy()

    def on_batch(self, epoch: int, idx: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> None:
        pass

    def on_epoch_end(self, epoch: int, model: torch.nn.Module, evals: dict) -> None:
        if epoch + 1 in self.snapshots:
            self.capture(epoch + 1, model)
