"""Record training dynamics from a Lightning Trainer, prune half the data with TDDS + CCS, retrain on the rest.

    pip install -e '.[lightning]'
    python examples/lightning_record.py --epochs 20 --out out/lightning_record

Data: scikit-learn's bundled 8x8 digits (nothing is downloaded). Writes
OUT/run (an ordinary prune run), OUT/keep.parquet (the manifest) and OUT/result.json.
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

from pipeline import IndexedDataset, score, select, subset
from pipeline.integrations.lightning import RecordCallback

parser = argparse.ArgumentParser(description="Record with RecordCallback, score, select and retrain with Lightning.")
parser.add_argument("--epochs", type=int, default=20, help="epochs of each training (at least 2: TDDS compares epochs)")
parser.add_argument("--rate", type=float, default=0.5, help="fraction of the training samples removed")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", type=Path, default=Path("out/lightning_record"),
                    help="folder for the run and the manifest")
args = parser.parse_args()
if args.epochs < 2:
    parser.error("--epochs must be at least 2")
logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner about GPUs and TPUs
warnings.filterwarnings("ignore", ".*does not have many workers.*")  # in-memory tensors need no workers

# -- data: 60% train, 20% val, 20% test, split once with a fixed seed
x, y = load_digits(return_X_y=True)
x_train, x_rest, y_train, y_rest = train_test_split(x / 16.0, y, test_size=0.4, stratify=y, random_state=0)
x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0)
x_train, x_val, x_test = (torch.tensor(a, dtype=torch.float32) for a in (x_train, x_val, x_test))
y_train, y_val, y_test = (torch.tensor(a) for a in (y_train, y_val, y_test))
train_ds = IndexedDataset(TensorDataset(x_train, y_train))  # batches end with the sample ids: (x, y, idx)
val_loader = DataLoader(TensorDataset(x_val, y_val), batch_size=256)


class Classifier(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y, idx = batch
        logits = self(x)
        # RecordCallback reads the logits from what training_step returns (detached: no graph kept)
        return {"loss": F.cross_entropy(logits, y), "logits": logits.detach()}

    def validation_step(self, batch, batch_idx):
        return {"logits": self(batch[0])}  # optional: the callback turns them into val recalls per class

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)


def fit(data, callbacks=()):
    torch.manual_seed(args.seed)
    model = Classifier()
    loader = DataLoader(data, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(args.seed))
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, callbacks=list(callbacks), logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, loader, val_loader)
    return model


def accuracy(model, x, y):
    with torch.no_grad():
        return (model.eval()(x).argmax(1) == y).float().mean().item()


# -- 1. train on the full data; the callback writes the run when fit ends
# (epochs default to max_epochs; force=True replaces the run of an earlier invocation)
full_model = fit(train_ds, [RecordCallback(args.out / "run", targets=y_train, num_classes=10, data="digits-lightning",
                                           force=True)])

# -- 2. score, 3. select and write the manifest (TDDS's default window is 10 epochs; a shorter run needs less)
scores = score(args.out / "run", "tdds", window=min(10, args.epochs))
selection = select(scores, args.rate, method="ccs", seed=args.seed, out=args.out / "keep.parquet")

# -- 4. a fresh model on the kept samples only, with the same trainer settings
subset_model = fit(subset(train_ds, args.out / "keep.parquet"))

result = {"n_train": len(train_ds), "n_kept": len(selection),
          "full_test_acc": accuracy(full_model, x_test, y_test),
          "subset_test_acc": accuracy(subset_model, x_test, y_test)}
(args.out / "result.json").write_text(json.dumps(result, indent=2))
print(f"full data ({result['n_train']} samples): test accuracy {result['full_test_acc']:.4f} | "
      f"tdds + ccs, rate {args.rate} ({result['n_kept']} kept): test accuracy {result['subset_test_acc']:.4f}")
