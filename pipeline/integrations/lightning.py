"""Record a run from a Lightning training (``pip install -e ".[lightning]"``).

::

    from pipeline import IndexedDataset
    from pipeline.integrations.lightning import RecordCallback

    class Module(L.LightningModule):
        def training_step(self, batch, batch_idx):
            x, y, idx = batch                      # IndexedDataset(ds) adds idx
            logits = self(x)
            loss = F.cross_entropy(logits, y)
            return {"loss": loss, "logits": logits.detach()}
        def validation_step(self, batch, batch_idx):   # optional: val recalls for DRoP / CDB-W
            x, y = batch[:2]
            return {"logits": self(x)}

    trainer = L.Trainer(max_epochs=E, callbacks=[RecordCallback("runs/mine", targets=y_train)])
    trainer.fit(Module(), train_loader, val_loader)

Afterwards ``runs/mine`` is an ordinary run: ``prune score``, ``prune select``...
The callback takes each training batch's logits from what ``training_step``
returns (key ``logits``) or, failing that, from ``module.last_logits``; the
sample ids from the batch's last element (or its ``idx`` key for dict
batches). Validation outputs with ``logits`` give eval.parquet's val rows.

Dynamic pruning: build the train DataLoader with a :class:`pipeline.DynamicSampler`
and ``Trainer(reload_dataloaders_every_n_epochs=1)``; call
``sampler.set_epoch(self.current_epoch)`` in ``train_dataloader`` and weight
the per-sample losses with ``sampler.update(idx, loss)`` in ``training_step``
(examples/lightning_dynamic.py).
"""

from __future__ import annotations

import os
from typing import Any

try:
    import lightning.pytorch as pl
except ImportError:  # pragma: no cover - the message is the point
    try:
        import pytorch_lightning as pl  # the older package name
    except ImportError:
        from pipeline.io import PruneError

        raise PruneError("pipeline.integrations.lightning needs Lightning: pip install -e '.[lightning]'") from None

import torch

from pipeline.api.recorder import Recorder
from pipeline.io import PruneError


def _ids(batch) -> torch.Tensor:
    if isinstance(batch, dict):
        if "idx" not in batch:
            raise PruneError("a dict batch must carry the sample ids under 'idx' (wrap the data set in IndexedDataset)")
        return batch["idx"]
    if isinstance(batch, (tuple, list)) and batch:
        return batch[-1]
    raise PruneError("the batch must end with the sample ids: wrap the data set in pipeline.IndexedDataset")


def _targets(batch) -> torch.Tensor:
    if isinstance(batch, dict):
        for key in ("y", "label", "labels", "target", "targets"):
            if key in batch:
                return batch[key]
        raise PruneError("a dict validation batch needs its labels under 'y', 'label' or 'target'")
    return batch[1]


class RecordCallback(pl.Callback):
    """A Lightning callback that writes a prune run folder from the training steps.

    Parameters are those of :class:`pipeline.Recorder`; ``epochs`` defaults
    to the trainer's ``max_epochs``.
    """

    def __init__(self, run_dir: str | os.PathLike, *, targets, num_classes: int | None = None,
                 epochs: int | None = None, **recorder_options: Any):
        self.run_dir, self.targets, self.num_classes = run_dir, targets, num_classes
        self.epochs, self.options = epochs, recorder_options
        self.recorder: Recorder | None = None
        self._val: list[tuple[torch.Tensor, torch.Tensor]] = []

    def on_fit_start(self, trainer, pl_module) -> None:
        epochs = self.epochs if self.epochs is not None else trainer.max_epochs
        if epochs is None or epochs < 1:
            raise PruneError("RecordCallback needs the number of epochs: set Trainer(max_epochs=E) or epochs=E")
        self.recorder = Recorder(self.run_dir, targets=self.targets, num_classes=self.num_classes, epochs=epochs,
                                 **self.options)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        logits = outputs.get("logits") if isinstance(outputs, dict) else None
        if logits is None:
            logits = getattr(pl_module, "last_logits", None)
        if logits is None:
            raise PruneError("training_step must return {'loss': ..., 'logits': logits.detach()} "
                             "(or set self.last_logits) for RecordCallback")
        self.recorder.log(trainer.current_epoch, _ids(batch), logits)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if trainer.sanity_checking or not isinstance(outputs, dict) or "logits" not in outputs:
            return
        self._val.append((outputs["logits"].detach().cpu(), _targets(batch).detach().cpu()))

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking or not self._val or self.recorder is None:
            self._val = []
            return
        logits = torch.cat([z for z, _ in self._val])
        y = torch.cat([t for _, t in self._val])
        self._val = []
        self.recorder.log_eval(trainer.current_epoch, "val", logits, y)

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if self.recorder is not None:
            self.recorder.abort()
