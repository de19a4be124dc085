"""The embeddings hook: penultimate features of every training sample at chosen epochs.

Moderate coreset and self-supervised prototypes score samples by where they
sit in the model's feature space; this hook records that space
(``model.features``) at the ``prune record --embeddings`` epochs, into the
``embeddings`` array (init, snapshot, sample, dim) of trajectories.zarr.
"""

from __future__ import annotations

import torch

from pipeline.engine.hooks import Hook

from pipeline.io.run import create_embeddings, logits_shape


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
        h = features(model.to(self.device), self.bundle.train, self.device, self.batch_size)
        if "embeddings" not in set(self.group.array_keys()):
            create_embeddings(self.group, inits=logits_shape(self.group)[0], snapshots=len(self.snapshots),
                              n=h.shape[0], dim=h.shape[1])
        k = self.snapshots.index(completed_epochs)
        self.group["embeddings"][self.init, k] = h.to(torch.float16).cpu().numpy()

    def on_batch(self, epoch: int, idx: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> None:
        pass

    def on_epoch_end(self, epoch: int, model: torch.nn.Module, evals: dict) -> None:
        if epoch + 1 in self.snapshots:
            self.capture(epoch + 1, model)
