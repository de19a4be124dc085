"""Record training dynamics in your own PyTorch loop, prune half the data with TDDS + CCS, retrain on the rest.

    python examples/plain_pytorch.py --epochs 20 --out out/plain_pytorch

Data: scikit-learn's bundled 8x8 digits (nothing is downloaded). Writes
OUT/run (an ordinary prune run: `prune score --run OUT/run` reads it too),
OUT/keep.parquet (the manifest) and OUT/result.json.
"""

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

from pipeline import IndexedDataset, Recorder, score, select, subset

parser = argparse.ArgumentParser(description="Record, score, select and retrain in a plain PyTorch loop.")
parser.add_argument("--epochs", type=int, default=20, help="epochs of each training (at least 2: TDDS compares epochs)")
parser.add_argument("--rate", type=float, default=0.5, help="fraction of the training samples removed")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", type=Path, default=Path("out/plain_pytorch"), help="folder for the run and the manifest")
args = parser.parse_args()
if args.epochs < 2:
    parser.error("--epochs must be at least 2")

# -- data: 60% train, 20% val, 20% test, split once with a fixed seed
x, y = load_digits(return_X_y=True)
x_train, x_rest, y_train, y_rest = train_test_split(x / 16.0, y, test_size=0.4, stratify=y, random_state=0)
x_val, x_test, y_val, y_test = train_test_split(x_rest, y_rest, test_size=0.5, stratify=y_rest, random_state=0)
x_train, x_val, x_test = (torch.tensor(a, dtype=torch.float32) for a in (x_train, x_val, x_test))
y_train, y_val, y_test = (torch.tensor(a) for a in (y_train, y_val, y_test))
# IndexedDataset appends each item's sample id (its index here): (x, y, idx). Ids are what
# the Recorder stores logits under, and what a manifest lists.
train_ds = IndexedDataset(TensorDataset(x_train, y_train))


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def train(data, rec=None):
    """One training run on `data` (items (x, y, idx)); with `rec`, every batch's logits are recorded."""
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    loader = DataLoader(data, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(args.seed))
    for epoch in range(args.epochs):
        for xb, yb, idx in loader:
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if rec is not None:
                rec.log(epoch, idx, logits)  # the training forward pass's logits, as `prune record` stores them
        if rec is not None:  # val recalls per class: what DRoP's quota and CDB-W read
            with torch.no_grad():
                rec.log_eval(epoch, "val", model(x_val), y_val)
    return model


# -- 1. train on the full data while recording. The run folder appears only when the
# `with` block ends cleanly; force=True replaces the run of an earlier invocation.
with Recorder(args.out / "run", targets=y_train, num_classes=10, epochs=args.epochs, data="digits-example",
              force=True) as rec:
    full_model = train(train_ds, rec)

# -- 2. score every sample. TDDS's default window is 10 epochs; a shorter run needs a shorter one.
scores = score(rec.run, "tdds", window=min(10, args.epochs))

# -- 3. keep N - round(rate*N) samples with coverage-centric selection, and write the manifest
selection = select(scores, args.rate, method="ccs", seed=args.seed, out=args.out / "keep.parquet")

# -- 4. a fresh model on the kept samples only (the same epochs, so fewer steps)
subset_model = train(subset(train_ds, args.out / "keep.parquet"))

result = {"n_train": len(train_ds), "n_kept": len(selection),
          "full_test_acc": accuracy(full_model, x_test, y_test),
          "subset_test_acc": accuracy(subset_model, x_test, y_test)}
(args.out / "result.json").write_text(json.dumps(result, indent=2))
print(f"full data ({result['n_train']} samples): test accuracy {result['full_test_acc']:.4f} | "
      f"tdds + ccs, rate {args.rate} ({result['n_kept']} kept): test accuracy {result['subset_test_acc']:.4f}")
