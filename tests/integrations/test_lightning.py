"""Lightning: a real Trainer on CPU records a run (RecordCallback) and trains with a DynamicSampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from typer.testing import CliRunner

L = pytest.importorskip("lightning")

from pipeline import DynamicSampler, IndexedDataset  # noqa: E402
from pipeline.cli import app  # noqa: E402
from pipeline.data import load_dataset  # noqa: E402
from pipeline.integrations.lightning import RecordCallback  # noqa: E402
from pipeline.io import open_run, read_manifest  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    b = load_dataset("digits")
    x = b.train.x.float().flatten(1)
    xv = b.val.x.float().flatten(1)
    return x, torch.from_numpy(b.train.y), xv, torch.from_numpy(b.val.y)


class Net(L.LightningModule):
    def __init__(self, dim: int, sampler: DynamicSampler | None = None, data=None):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(dim, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
        self.sampler, self.data = sampler, data
        self.seen: dict[int, list[int]] = {}

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y, idx = batch
        logits = self(x)
        self.seen.setdefault(self.current_epoch, []).extend(idx.tolist())
        if self.sampler is None:
            return {"loss": F.cross_entropy(logits, y), "logits": logits.detach()}
        loss = F.cross_entropy(logits, y, reduction="none")
        return {"loss": (loss * self.sampler.update(idx, loss)).mean()}

    def validation_step(self, batch, batch_idx):
        return {"logits": self(batch[0])}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)

    def train_dataloader(self):  # with reload_dataloaders_every_n_epochs=1: a fresh loader every epoch
        self.sampler.set_epoch(self.current_epoch)
        return DataLoader(IndexedDataset(self.data), batch_size=64, sampler=self.sampler)


def _trainer(**kw):
    return L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                     enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, **kw)


def test_record_callback_writes_a_run_that_prune_scores_and_selects(tmp_path, digits, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y, xv, yv = digits
    torch.manual_seed(0)
    train = DataLoader(IndexedDataset(TensorDataset(x, y)), batch_size=64, shuffle=True)
    val = DataLoader(TensorDataset(xv, yv), batch_size=256)
    cb = RecordCallback(tmp_path / "run", targets=y, num_classes=10, data="digits-lightning")
    _trainer(max_epochs=4, callbacks=[cb]).fit(Net(x.shape[1]), train, val)
    r = open_run(tmp_path / "run")
    assert (r.n, r.epochs, r.num_classes) == (len(y), 4, 10)
    assert np.all(np.isfinite(r.array("logits")[:]))
    assert sorted(r.eval_table()["epoch"].unique().to_list()) == [0, 1, 2, 3]
    runner = CliRunner()
    for args in (["score", "--method", "aum"], ["select", "--method", "topk", "--quota", "drop", "--rate", "0.4"]):
        res = runner.invoke(app, [*args, "--run", str(tmp_path / "run")])
        assert res.exit_code == 0, res.output
    assert len(read_manifest(tmp_path / "keep.parquet").sample) == len(y) - round(0.4 * len(y))


def test_dynamic_sampler_drives_a_lightning_trainer(digits):
    x, y, _, _ = digits
    sampler = DynamicSampler("rcap", y, rate=0.5, seed=3, beta=0.25)
    model = Net(x.shape[1], sampler=sampler, data=TensorDataset(x, y))
    _trainer(max_epochs=3, reload_dataloaders_every_n_epochs=1, limit_val_batches=0).fit(model)
    keep = len(y) - round(0.5 * len(y))
    assert sorted(model.seen) == [0, 1, 2]
    for epoch, ids in model.seen.items():
        assert len(ids) == keep and len(set(ids)) == keep
    # the last epoch trained on exactly what the sampler drew for it
    assert sorted(model.seen[2]) == sampler.samples_this_epoch.tolist()
