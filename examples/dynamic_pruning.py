"""Dynamic data pruning in a plain PyTorch loop: a DynamicSampler re-selects the samples every epoch.

    python examples/dynamic_pruning.py --method infobatch --rate 0.5 --epochs 20 --out out/dynamic_pruning

InfoBatch (Qin et al., ICLR 2024) drops a share of the samples whose loss is below the
mean and up-weights the rest of them; RCAP (DataCull) and RS2 are the other rules. The
same model is also trained on the full data, for comparison. Data: scikit-learn's
bundled 8x8 digits (nothing is downloaded). Writes OUT/result.json.
"""

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch.utils.data import DataLoader, TensorDataset

from pipeline import DynamicSampler, IndexedDataset

parser = argparse.ArgumentParser(description="Train with a DynamicSampler and compare with full-data training.")
parser.add_argument("--method", choices=["infobatch", "rcap", "rs2"], default="infobatch")
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--rate", type=float, default=0.5,
                    help="fraction pruned each epoch (InfoBatch: of the low-loss samples)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", type=Path, default=Path("out/dynamic_pruning"), help="folder for result.json")
args = parser.parse_args()

# -- data: 80% train, 20% test, split once with a fixed seed
x, y = load_digits(return_X_y=True)
x_train, x_test, y_train, y_test = train_test_split(x / 16.0, y, test_size=0.2, stratify=y, random_state=0)
x_train, x_test = (torch.tensor(a, dtype=torch.float32) for a in (x_train, x_test))
y_train, y_test = (torch.tensor(a) for a in (y_train, y_test))
train_ds = IndexedDataset(TensorDataset(x_train, y_train))  # items (x, y, idx): update() needs the ids


def train(sampler=None):
    """Train a fresh model; returns (model, sample-passes: samples fed through it over all epochs)."""
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    if sampler is None:
        loader = DataLoader(train_ds, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(args.seed))
    else:
        loader = DataLoader(train_ds, batch_size=64, sampler=sampler)
    passes = 0
    for epoch in range(args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)  # draws this epoch's samples from the losses seen so far
        for xb, yb, idx in loader:
            loss = F.cross_entropy(model(xb), yb, reduction="none")  # per-sample: the rule reads each loss
            if sampler is not None:
                loss = loss * sampler.update(idx, loss)  # InfoBatch rescales kept low-loss samples; else weights are 1
            opt.zero_grad()
            loss.mean().backward()
            opt.step()
            passes += len(idx)
    return model, passes


def accuracy(model):
    with torch.no_grad():
        return (model(x_test).argmax(1) == y_test).float().mean().item()


full_model, full_passes = train()
# the sampler's draws come from its own generator seeded by (seed, epoch): no global RNG is touched.
# InfoBatch needs the epoch count: it trains on everything in the last 12.5% of them.
sampler = DynamicSampler(args.method, y_train, args.rate, seed=args.seed, epochs=args.epochs)
pruned_model, pruned_passes = train(sampler)

result = {"method": args.method, "rate": args.rate, "epochs": args.epochs,
          "full_passes": full_passes, "pruned_passes": pruned_passes,
          "full_test_acc": accuracy(full_model), "pruned_test_acc": accuracy(pruned_model)}
args.out.mkdir(parents=True, exist_ok=True)
(args.out / "result.json").write_text(json.dumps(result, indent=2))
print(f"full data: {full_passes} sample-passes, test accuracy {result['full_test_acc']:.4f} | "
      f"{args.method} rate {args.rate}: {pruned_passes} sample-passes ({pruned_passes / full_passes:.0%}), "
      f"test accuracy {result['pruned_test_acc']:.4f}")
