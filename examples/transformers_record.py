"""Record training dynamics from a Hugging Face Trainer, prune half the data with TDDS + CCS, retrain on the rest.

    pip install -e '.[transformers]'
    python examples/transformers_record.py --epochs 10 --out out/transformers_record

Model: a two-layer BERT built from a config (random weights, nothing is
downloaded). Data: a synthetic sequence classification task made here, token
ids directly (no tokenizer): each sequence of noise tokens carries two copies
of its class's marker token, and 10% of the training labels are flipped.
Writes OUT/run (an ordinary prune run), OUT/keep.parquet (the manifest) and
OUT/result.json.
"""

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset
from transformers import BertConfig, BertForSequenceClassification, PrinterCallback, Trainer, TrainingArguments

from pipeline import score, select
from pipeline.integrations.transformers import PruneTrainer, RecordCallback, add_ids

parser = argparse.ArgumentParser(description="Record with PruneTrainer + RecordCallback, score, select, retrain.")
parser.add_argument("--epochs", type=int, default=10, help="epochs of each training (at least 2: TDDS compares epochs)")
parser.add_argument("--rate", type=float, default=0.5, help="fraction of the training samples removed")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", type=Path, default=Path("out/transformers_record"),
                    help="folder for the run and the manifest")
args = parser.parse_args()
if args.epochs < 2:
    parser.error("--epochs must be at least 2")

warnings.filterwarnings("ignore", ".*pin_memory.*")  # on a machine without a GPU
CLASSES, VOCAB, LENGTH = 4, 64, 16


def make_split(n: int, seed: int, noise: float = 0.0) -> Dataset:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = rng.integers(1 + CLASSES, VOCAB, (n, LENGTH))  # noise tokens; 1..CLASSES are the class markers
    for i in range(n):
        x[i, rng.choice(LENGTH, 2, replace=False)] = 1 + y[i]
    flip = rng.random(n) < noise
    y[flip] = (y[flip] + rng.integers(1, CLASSES, flip.sum())) % CLASSES  # a different class
    return Dataset.from_dict({"input_ids": x.tolist(), "label": y.tolist()})


train = add_ids(make_split(800, args.seed, noise=0.1))  # a column "idx": each row's sample id 0..N-1
val, test = make_split(200, args.seed + 1), make_split(200, args.seed + 2)
y_train = np.array(train["label"])


def model():
    torch.manual_seed(args.seed)
    return BertForSequenceClassification(BertConfig(
        vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=LENGTH, num_labels=CLASSES))


def arguments(folder: str, **kw) -> TrainingArguments:
    return TrainingArguments(output_dir=str(args.out / folder), num_train_epochs=args.epochs, learning_rate=2e-3,
                             per_device_train_batch_size=32, per_device_eval_batch_size=100, save_strategy="no",
                             logging_strategy="no", report_to="none", disable_tqdm=True, seed=args.seed, **kw)


def accuracy(trainer) -> float:
    p = trainer.predict(test)
    return float((p.predictions.argmax(1) == p.label_ids).mean())


# -- 1. train on the full data; the callback writes the run when training ends. eval_strategy="epoch" gives
# eval.parquet's per-class val recalls (DRoP's quota reads them); force=True replaces an earlier invocation's run
full = PruneTrainer(model=model(), args=arguments("hf_full", eval_strategy="epoch"), train_dataset=train,
                    eval_dataset=val, callbacks=[RecordCallback(args.out / "run", targets=y_train, num_classes=CLASSES,
                                                                data="tokens-hf", force=True)])
full.remove_callback(PrinterCallback)  # no per-epoch metrics printed
full.train()

# -- 2. score, 3. select and write the manifest (TDDS's default window is 10 epochs; a shorter run needs less)
window = min(10, args.epochs)
scores = score(args.out / "run", "tdds", window=window)
selection = select(scores, args.rate, method="ccs", seed=args.seed, out=args.out / "keep.parquet")
print(f"the same from the command line: prune score --run {args.out / 'run'} --method tdds --window {window}; "
      f"prune select --run {args.out / 'run'} --method ccs --rate {args.rate} --out {args.out / 'keep.parquet'}")

# -- 4. a fresh model on the kept samples only: a plain Trainer (it drops the idx column itself)
small = Trainer(model=model(), args=arguments("hf_subset"), train_dataset=train.select(selection.sample.tolist()))
small.remove_callback(PrinterCallback)
small.train()

result = {"n_train": len(train), "n_kept": len(selection), "full_test_acc": accuracy(full),
          "subset_test_acc": accuracy(small)}
(args.out / "result.json").write_text(json.dumps(result, indent=2))
print(f"full data ({result['n_train']} samples): test accuracy {result['full_test_acc']:.4f} | "
      f"tdds + ccs, rate {args.rate} ({result['n_kept']} kept): test accuracy {result['subset_test_acc']:.4f}")
