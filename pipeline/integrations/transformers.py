"""Record a run from a Hugging Face ``transformers.Trainer``, or train one with dynamic pruning
(``pip install -e ".[transformers]"``).

::

    from pipeline.integrations.transformers import PruneTrainer, RecordCallback, add_ids

    train = add_ids(train)                  # a column "idx": each row's sample id, 0..N-1
    trainer = PruneTrainer(model=model, train_dataset=train, eval_dataset=val,
                           args=TrainingArguments("out", num_train_epochs=E, eval_strategy="epoch"),
                           callbacks=[RecordCallback("runs/mine", targets=train["label"])])
    trainer.train()

Afterwards ``runs/mine`` is an ordinary run: ``prune score``, ``prune select``...

A callback alone never sees the logits, so :class:`PruneTrainer` (a ``Trainer``
subclass; subclass it instead of ``Trainer`` if you have your own) takes the
sample ids out of each batch in ``compute_loss`` (they never reach the
model's forward), computes the loss as ``Trainer`` does and hands the ids and
the logits of the model's output to every :class:`RecordCallback`. It also
keeps the index column through ``remove_unused_columns`` (the Trainer would
otherwise drop it, the model's forward having no such argument), so the
TrainingArguments need nothing special; what the callback refuses is listed
on it. The epoch of a batch is the Trainer's epoch counter (0-based). With
``eval_strategy="epoch"`` and an evaluation set with labels, the last
evaluation of each epoch gives eval.parquet's val rows (per-class recalls for
DRoP's quota and CDB-W).

Dynamic pruning: ``PruneTrainer(..., dynamic=DynamicSampler("infobatch", y, 0.5, epochs=E))``
trains every epoch on the sampler's selection, tells it each batch's
per-sample losses (and logits) and weights them as it says (InfoBatch's
rescale), as ``prune train --dynamic`` does (examples/transformers_record.py
records; docs/api.md has both).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Callable

try:
    import accelerate  # noqa: F401 - the Trainer cannot run without it
    import transformers
except ImportError:  # pragma: no cover - the message is the point
    from pipeline.io import PruneError

    raise PruneError("pipeline.integrations.transformers needs transformers: pip install -e '.[transformers]'") from None

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Sampler

from pipeline.api.dynamic import DynamicSampler
from pipeline.api.recorder import Recorder
from pipeline.io import PruneError

INDEX_COLUMN = "idx"


def add_ids(dataset, column: str = INDEX_COLUMN):
    """``dataset`` with each row's sample id (its position, 0..N-1) under ``column``.

    A ``datasets.Dataset`` gets a new column; any other map-style data set of
    dict rows is wrapped so that row ``i`` is ``{**dataset[i], column: i}``.
    """
    if hasattr(dataset, "add_column") and hasattr(dataset, "column_names"):
        if column in dataset.column_names:
            raise PruneError(f"the data set already has a column {column!r}")
        return dataset.add_column(column, np.arange(len(dataset), dtype=np.int64))
    return _DictWithIds(dataset, column)


class _DictWithIds(torch.utils.data.Dataset):
    def __init__(self, dataset, column: str):
        self.dataset, self.column = dataset, column

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> dict:
        row = self.dataset[i]
        if not isinstance(row, Mapping):
            raise PruneError(f"add_ids needs rows that are dicts (the Trainer's batches), got {type(row).__name__}; "
                             "for (x, y) tuples use pipeline.IndexedDataset with your own loop")
        return {**row, self.column: i}


def _logits_of(outputs) -> torch.Tensor:
    logits = outputs.get("logits") if isinstance(outputs, Mapping) else getattr(outputs, "logits", None)
    if not isinstance(logits, torch.Tensor):
        raise PruneError("the model's output carries no 'logits' (a transformers ModelOutput or a dict with a "
                         "'logits' key of shape (batch, classes) is needed)")
    return logits


def _label_key(trainer, inputs: Mapping) -> str | None:
    for key in [*(getattr(trainer, "label_names", None) or []), "labels", "label"]:
        if key in inputs:
            return key
    return None


def _check_epochs(args, who: str) -> int:
    if args.max_steps is not None and args.max_steps > 0:
        raise PruneError(f"{who} works in whole epochs: set num_train_epochs and leave max_steps at -1 "
                         f"(it is {args.max_steps})")
    epochs = float(args.num_train_epochs)
    if epochs < 1 or epochs != int(epochs):
        raise PruneError(f"{who} needs a whole number of epochs: num_train_epochs is {args.num_train_epochs}")
    return int(epochs)


class RecordCallback(transformers.TrainerCallback):
    """A ``TrainerCallback`` that writes a prune run folder from a :class:`PruneTrainer`'s training batches.

    Parameters are those of :class:`pipeline.Recorder`; ``targets`` are the
    training labels in sample-id order and ``epochs`` defaults to the
    arguments' ``num_train_epochs``. The Recorder is made when training
    begins, closed (the run moved into place) when it ends, and removed if
    training raises.

    Refused, with one line saying what to change: a plain ``Trainer`` (it
    never shows the logits), ``max_steps``, a fractional ``num_train_epochs``,
    ``dataloader_drop_last=True`` (samples would go unrecorded), more than one
    process, resuming from a checkpoint, and a ``dynamic=`` sampler on the
    same trainer (every epoch must see every sample).
    """

    def __init__(self, run_dir: str | os.PathLike, *, targets, num_classes: int | None = None,
                 epochs: int | None = None, **recorder_options: Any):
        self.run_dir, self.targets, self.num_classes = run_dir, targets, num_classes
        self.epochs, self.options = epochs, recorder_options
        self.recorder: Recorder | None = None
        self.epoch = -1  # the Trainer's epoch being trained; -1 before the first
        self.attached = False  # set by PruneTrainer.train for the length of a training
        self._val: list[tuple[torch.Tensor, torch.Tensor]] = []  # the evaluation in progress
        self._pending: tuple[int, torch.Tensor, torch.Tensor] | None = None  # the epoch's last evaluation

    # -- the Trainer's events ----------------------------------------------------
    def on_train_begin(self, args, state, control, **kwargs):
        if not self.attached:
            raise PruneError("RecordCallback sees the logits only through PruneTrainer: build the trainer with "
                             "pipeline.integrations.transformers.PruneTrainer instead of transformers.Trainer")
        if args.world_size > 1:
            raise PruneError(f"RecordCallback records in one process; this training runs {args.world_size}")
        if args.dataloader_drop_last:
            raise PruneError("RecordCallback needs every sample in every epoch: set dataloader_drop_last=False")
        epochs = self.epochs if self.epochs is not None else _check_epochs(args, "RecordCallback")
        self.abort()  # a training restarted in the same trainer (auto_find_batch_size) starts a fresh run
        self.recorder = Recorder(self.run_dir, targets=self.targets, num_classes=self.num_classes, epochs=epochs,
                                 **self.options)
        self.epoch, self._val, self._pending = -1, [], None

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._flush()
        self.epoch += 1

    def on_evaluate(self, args, state, control, **kwargs):
        if self._val and self.recorder is not None and self.epoch >= 0:
            self._pending = (self.epoch, torch.cat([z for z, _ in self._val]), torch.cat([y for _, y in self._val]))
        self._val = []

    def on_train_end(self, args, state, control, **kwargs):
        if self.recorder is None:
            return
        try:
            self._flush()
            self.recorder.close()  # removes the run itself when it refuses (an epoch short of samples)
        except BaseException:
            self.abort()
            raise
        self.recorder = None

    # -- what PruneTrainer hands over ----------------------------------------------
    @property
    def recording(self) -> bool:
        return self.recorder is not None and self.epoch >= 0

    def log_batch(self, idx: torch.Tensor, logits: torch.Tensor) -> None:
        """One training batch's sample ids and logits, in the current epoch."""
        self.recorder.log(self.epoch, idx, logits)

    def log_eval_batch(self, logits: torch.Tensor, labels: torch.Tensor) -> None:
        """One evaluation batch's logits and labels (kept on the host until the evaluation ends)."""
        self._val.append((logits.detach().float().cpu(), labels.detach().cpu()))

    def abort(self) -> None:
        """Remove the run being written, if any."""
        if self.recorder is not None:
            self.recorder.abort()
            self.recorder = None

    def _flush(self) -> None:
        if self._pending is not None and self.recorder is not None:
            epoch, logits, labels = self._pending
            self.recorder.log_eval(epoch, "val", logits, labels)
        self._pending = None


class _FullLength(Sampler):
    """A DynamicSampler that tells the Trainer the full data set's length.

    The Trainer sizes its epoch loop and the learning-rate schedule once,
    from the loader's length before the first epoch; no epoch of any rule
    holds more than the N samples, so a pruned epoch simply ends early.
    """

    def __init__(self, sampler: DynamicSampler):
        self.sampler = sampler

    def __iter__(self):
        return iter(self.sampler)

    def __len__(self) -> int:
        return len(self.sampler.targets)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)


class _DynamicEpochs(transformers.TrainerCallback):
    """Moves the DynamicSampler to each epoch and keeps the schedule and ``state.epoch`` on whole epochs."""

    def __init__(self, sampler: DynamicSampler):
        self.sampler, self.epoch, self.steps_per_epoch = sampler, -1, 0

    def on_train_begin(self, args, state, control, **kwargs):
        self.epoch = -1
        self.steps_per_epoch = state.max_steps // _check_epochs(args, "dynamic pruning")

    def on_epoch_begin(self, args, state, control, **kwargs):
        self.epoch += 1
        self.sampler.set_epoch(self.epoch)

    def on_epoch_end(self, args, state, control, lr_scheduler=None, **kwargs):
        # A pruned epoch took fewer optimiser steps than the full one the schedule was sized for: move the
        # schedule on to where a full epoch ends, so each epoch starts at the learning rate full-data training
        # has there (prune's own schedule is a function of the epoch too).
        schedule = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate wraps it
        if isinstance(schedule, torch.optim.lr_scheduler.LRScheduler) and not isinstance(
                schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
            while schedule.last_epoch < (self.epoch + 1) * self.steps_per_epoch:
                schedule.step()
        state.epoch = float(self.epoch + 1)  # the Trainer counts it in full epochs' steps


def _cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.float(), labels.long(), reduction="none")


class PruneTrainer(transformers.Trainer):
    """A ``transformers.Trainer`` that hands each batch's sample ids and logits to prune.

    Every argument of ``Trainer``, plus:

    index_column : str
        The batch key holding the sample ids (default ``"idx"``, what
        :func:`add_ids` adds). Removed from each batch before the model sees it.
    dynamic : DynamicSampler, optional
        Train with dynamic pruning: the sampler chooses each epoch's samples
        (replacing the Trainer's shuffling), the loss is the mean of the
        per-sample losses times the weights the sampler returns from
        ``update`` (1, or InfoBatch's 1 / (1 − rate)), and the sampler
        learns each batch's losses and logits. The learning-rate schedule is
        sized for full epochs and moved on at the end of each pruned one.
        Needs the labels in the batch, one process, ``num_train_epochs``
        (not ``max_steps``), no ``compute_loss_func`` and no label smoothing.
    per_sample_loss : callable, optional
        ``(logits, labels) -> (B,)`` losses for ``dynamic`` (default: cross-entropy).
    """

    def __init__(self, *args, index_column: str = INDEX_COLUMN, dynamic: DynamicSampler | None = None,
                 per_sample_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.index_column = str(index_column)
        self.dynamic = dynamic
        self.per_sample_loss = per_sample_loss or _cross_entropy
        if dynamic is not None:
            if not isinstance(dynamic, DynamicSampler):
                raise PruneError(f"dynamic must be a pipeline.DynamicSampler, got {type(dynamic).__name__}")
            if getattr(self, "compute_loss_func", None) is not None:
                raise PruneError("dynamic pruning computes the loss per sample itself: pass per_sample_loss= "
                                 "instead of compute_loss_func")
            if self.args.label_smoothing_factor:
                raise PruneError("dynamic pruning computes the loss per sample itself: pass a per_sample_loss= "
                                 "with label smoothing instead of label_smoothing_factor")
            # the loss is a per-batch mean: the Trainer then divides it over gradient accumulation steps itself
            self.model_accepts_loss_kwargs = False
            self.add_callback(_DynamicEpochs(dynamic))

    def _recorders(self) -> list[RecordCallback]:
        return [cb for cb in self.callback_handler.callbacks if isinstance(cb, RecordCallback)]

    # -- training ----------------------------------------------------------------------
    def train(self, *args, **kwargs):
        recorders = self._recorders()
        resuming = kwargs.get("resume_from_checkpoint", args[0] if args else None)
        if (recorders or self.dynamic is not None) and resuming not in (None, False):
            raise PruneError("a recording or a dynamic training cannot resume from a checkpoint (the run and the "
                             "sampler's losses are not saved with it): train from the start")
        if self.dynamic is not None:
            if recorders:
                raise PruneError("a dynamic training leaves samples out of its epochs, and a recording needs every "
                                 "sample in every epoch: record with a PruneTrainer without dynamic=")
            if self.args.world_size > 1:
                raise PruneError(f"dynamic pruning runs in one process; this training runs {self.args.world_size}")
            _check_epochs(self.args, "dynamic pruning")
        for cb in recorders:
            cb.attached = True
        try:
            return super().train(*args, **kwargs)
        except BaseException:
            for cb in recorders:
                cb.abort()
            raise
        finally:
            for cb in recorders:
                cb.attached = False

    def _get_train_sampler(self, *args, **kwargs):
        if self.dynamic is None:
            return super()._get_train_sampler(*args, **kwargs)
        dataset = args[0] if args else kwargs.get("train_dataset")
        dataset = self.train_dataset if dataset is None else dataset
        n = len(self.dynamic.targets)
        if len(dataset) != n:
            raise PruneError(f"the DynamicSampler has {n} targets but the training set has {len(dataset)} rows")
        names = getattr(dataset, "column_names", None)
        if isinstance(names, list) and self.index_column in names:
            ids = np.asarray(dataset[self.index_column])
            if not np.array_equal(ids, np.arange(n)):
                raise PruneError(f"the {self.index_column!r} column must be each row's position 0..{n - 1} in order "
                                 "(the sampler draws rows by position): add it with add_ids")
        return _FullLength(self.dynamic)

    def _set_signature_columns_if_needed(self):
        # remove_unused_columns keeps the forward's arguments and the labels: keep the sample ids too
        super()._set_signature_columns_if_needed()
        columns = getattr(self, "_signature_columns", None)
        if columns is not None and self.index_column not in columns:
            columns.append(self.index_column)

    # -- the loss: where the ids leave the batch ----------------------------------------
    def compute_loss(self, model, inputs, return_outputs=False, **kwargs):
        inputs = dict(inputs)
        ids = inputs.pop(self.index_column, None)
        recorders = [cb for cb in self._recorders() if cb.recording]
        if model.training and ids is None and (recorders or self.dynamic is not None):
            raise PruneError(f"the training batches carry no {self.index_column!r} (each sample's id 0..N-1): add it "
                             "with add_ids(train_dataset), or name your column with PruneTrainer(index_column=...)")
        key = _label_key(self, inputs)
        labels = None if key is None else inputs[key]
        if model.training and self.dynamic is not None:
            if labels is None:
                raise PruneError("dynamic pruning needs the labels in each batch (a 'labels' or 'label' column)")
            del inputs[key]
            outputs = model(**inputs)
            logits = _logits_of(outputs)
            losses = self.per_sample_loss(logits, labels)
            if not isinstance(losses, torch.Tensor) or losses.shape != (len(labels),):
                raise PruneError(f"per_sample_loss must return one loss per sample, shape ({len(labels)},)")
            loss = (losses * self.dynamic.update(ids, losses.detach(), logits.detach())).mean()
        else:
            loss, outputs = super().compute_loss(model, inputs, return_outputs=True, **kwargs)
            if recorders and (model.training or labels is not None):
                logits = _logits_of(outputs).detach()
                for cb in recorders:
                    if model.training:
                        cb.log_batch(ids, logits)
                    else:
                        cb.log_eval_batch(logits, labels)
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None, **kwargs):
        if self.index_column in inputs:  # an evaluation set with ids: they are no input of the model either
            inputs = {k: v for k, v in inputs.items() if k != self.index_column}
        return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys, **kwargs)


__all__ = ["PruneTrainer", "RecordCallback", "add_ids", "INDEX_COLUMN"]
