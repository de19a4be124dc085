"""Dynamic data pruning with a Lightning Trainer: a DynamicSampler re-selects the samples every epoch.

    pip install -e '.[lightning]'
    python examples/lightning_dynamic.py --method infobatch --rate 0.5 --epochs 20 --out out/lightning_dynamic

Lightning builds the train DataLoader once unless told otherwise:
``reload_dataloaders_every_n_epochs=1`` makes it call ``train_dataloader`` every
epoch, which is where the sampler is moved to the new epoch. Data: scikit-learn's
bundled 8x8 digits (nothing is downloaded). Writes OUT/result.json.
"""

import argparse
import json
import logging
import warnings
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

from pipeline import DynamicSampler, IndexedDataset

parser = argparse.ArgumentParser(description="Train a LightningModule with a DynamicSampler.")
parser.add_argument("--method", choices=["infobatch", "rcap", "rs2"], default="infobatch")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--rate", type=float, default=0.5,
                    help="fraction pruned each epoch (InfoBatch: of the low-loss samples)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", type=Path, default=Path("out/lightning_dynamic"), help="folder for result.json")
args = parser.parse_args()
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner about GPUs and TPUs
warnings.filterwarnings("ignore", ".*does not have many workers.*")  # in-memory tensors need no workers

# -- data: 80% train, 20% test, split once with a fixed seed
x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.2, stratify=y, random_state=0)
x_train, x_test = (torch.tensor(a, dtype=torch.float32) for a in (x_train, x_test))
y_train, y_test = (torch.tensor(a) for a in (y_train, y_test))
train_ds = IndexedDataset(TensorDataset(x_train, y_train))  # items (x, y, idx): update() needs the ids


class Classifier(L.LightningModule):
    def __init__(self, sampler):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
        self.sampler = sampler
        self.passes = 0

    def forward(self, x):
        return self.net(x)

    def train_dataloader(self):  # called every epoch (reload_dataloaders_every_n_epochs=1)
        self.sampler.set_epoch(self.current_epoch)  # draws this epoch's samples from the losses seen so far
        return DataLoader(train_ds, batch_size=64, sampler=self.sampler)

    def training_step(self, batch, batch_idx):
        x, y, idx = batch
        loss = F.cross_entropy(self(x), y, reduction="none")  # per-sample: the rule reads each loss
        self.passes += len(idx)
        return (loss * self.sampler.update(idx, loss)).mean()  # InfoBatch's rescaling; other rules weigh 1

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)


torch.manual_seed(args.seed)
# InfoBatch needs the epoch count: it trains on everything in the last 12.5% of them
sampler = DynamicSampler(args.method, y_train, args.rate, seed=args.seed, epochs=args.epochs)
model = Classifier(sampler)
trainer = L.Trainer(max_epochs=args.epochs, reload_dataloaders_every_n_epochs=1, accelerator="cpu", devices=1,
                    logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
trainer.fit(model)

with torch.no_grad():
    acc = (model.eval()(x_test).argmax(1) == y_test).float().mean().item()
full_passes = args.epochs * len(train_ds)
result = {"method": args.method, "rate": args.rate, "epochs": args.epochs, "full_passes": full_passes,
          "pruned_passes": model.passes, "pruned_test_acc": acc}
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "result.json").write_text(json.dumps(result, indent=2))
print(f"{args.method} rate {args.rate}: {model.passes} of {full_passes} sample-passes "
      f"({model.passes / full_passes:.0%}), test accuracy {acc:.4f}")
