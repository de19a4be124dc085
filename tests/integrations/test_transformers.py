"""transformers: a real Trainer on CPU records a run (PruneTrainer + RecordCallback) and trains with a DynamicSampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

transformers = pytest.importorskip("transformers")
datasets = pytest.importorskip("datasets")

from pipeline import DynamicSampler, PruneError, score  # noqa: E402
from pipeline.integrations.transformers import PruneTrainer, RecordCallback, add_ids  # noqa: E402
from pipeline.io import open_run  # noqa: E402

N, LENGTH, VOCAB, CLASSES = 200, 12, 40, 3


def token_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of noise tokens (4..VOCAB-1) with three copies of their class's marker token (1 + class)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    x = rng.integers(4, VOCAB, (n, LENGTH))
    for i in range(n):
        x[i, rng.choice(LENGTH, 3, replace=False)] = 1 + y[i]
    return x, y


@pytest.fixture(scope="module")
def data():
    x, y = token_data(N, 0)
    assert len({tuple(r) for r in x.tolist()}) == N  # each row names its sample (the forward hook relies on it)
    xv, yv = token_data(90, 1)
    return x, y, xv, yv


def tiny_bert(seed: int = 0):
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=32, max_position_embeddings=LENGTH, num_labels=CLASSES,
                                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return transformers.BertForSequenceClassification(cfg)


def arguments(tmp_path, epochs: int, **kw):
    return transformers.TrainingArguments(
        output_dir=str(tmp_path / "hf"), num_train_epochs=epochs, per_device_train_batch_size=32,
        per_device_eval_batch_size=64, learning_rate=3e-3, save_strategy="no", logging_strategy="no",
        report_to="none", use_cpu=True, disable_tqdm=True, seed=0, **kw)


def hf_set(x, y):
    return datasets.Dataset.from_dict({"input_ids": x.tolist(), "label": y.tolist()})


def test_record_callback_logs_every_training_logit_with_its_id(tmp_path, data):
    x, y, xv, yv = data
    row_id = {tuple(r): i for i, r in enumerate(x.tolist())}
    model = tiny_bert()
    seen: list[tuple[int, np.ndarray]] = []  # (sample, logits) of every training forward, in order
    forwarded: set[str] = set()

    def hook(module, args, kwargs, output):
        forwarded.update(kwargs)
        if module.training:
            for row, z in zip(kwargs["input_ids"].tolist(), output.logits.detach().numpy()):
                seen.append((row_id[tuple(row)], z))

    model.register_forward_hook(hook, with_kwargs=True)
    cb = RecordCallback(tmp_path / "run", targets=y, num_classes=CLASSES, data="tokens", logits_dtype="float32")
    trainer = PruneTrainer(model=model, args=arguments(tmp_path, 2, eval_strategy="epoch"),
                           train_dataset=add_ids(hf_set(x, y)), eval_dataset=hf_set(xv, yv), callbacks=[cb])
    trainer.train()

    assert "idx" not in forwarded and "input_ids" in forwarded  # the ids left the batch before the forward
    run = open_run(tmp_path / "run")
    assert (run.n, run.epochs, run.inits, run.num_classes) == (N, 2, 1, CLASSES)
    np.testing.assert_array_equal(run.targets, y)
    logits = run.array("logits")[:]
    assert len(seen) == 2 * N
    for epoch in range(2):  # no pruning: the first N training rows are epoch 0, the next N epoch 1
        ids = np.array([i for i, _ in seen[epoch * N:(epoch + 1) * N]])
        assert sorted(ids.tolist()) == list(range(N))  # every sample once per epoch
        expected = np.stack([z for _, z in seen[epoch * N:(epoch + 1) * N]])
        np.testing.assert_allclose(logits[0, epoch, ids], expected, rtol=0, atol=1e-6)
    ev = run.eval_table()
    assert sorted(ev.filter(ev["split"] == "val")["epoch"].unique().to_list()) == [0, 1]

    s = score(run, "aum")
    np.testing.assert_array_equal(s.sample, np.arange(N))
    assert np.all(np.isfinite(s.score))


@pytest.mark.parametrize("rule,epochs", [("rcap", 2), ("infobatch", 4)])
def test_dynamic_sampler_chooses_each_epochs_samples(tmp_path, data, rule, epochs):
    x, y, _, _ = data
    rows = [{"input_ids": torch.tensor(r), "label": int(t)} for r, t in zip(x, y)]  # a plain data set of dicts
    sampler = DynamicSampler(rule, y, rate=0.5, seed=1, epochs=epochs)

    class Counting(PruneTrainer):
        seen: dict[int, list[int]] = {}

        def compute_loss(self, model, inputs, return_outputs=False, **kw):
            if model.training:
                self.seen.setdefault(int(self.state.epoch), []).extend(inputs["idx"].tolist())
            return super().compute_loss(model, inputs, return_outputs=return_outputs, **kw)

    trainer = Counting(model=tiny_bert(), args=arguments(tmp_path, epochs, lr_scheduler_type="linear"),
                       train_dataset=add_ids(rows), dynamic=sampler)
    trainer.train()

    drawn = {e: np.sort(ids) for e, ids, _ in sampler.plan.used}
    assert sorted(trainer.seen) == sorted(drawn) == list(range(epochs))
    for epoch, ids in trainer.seen.items():
        assert sorted(ids) == drawn[epoch].tolist()  # each drawn sample once, nothing else
    counts = [len(trainer.seen[e]) for e in range(epochs)]
    if rule == "rcap":
        assert counts == [N - round(0.5 * N)] * epochs
    else:  # no losses before epoch 0; the last 12.5% of the epochs train on everything
        assert counts[0] == counts[3] == N and max(counts[1:3]) < N
    # the schedule was moved on past the skipped steps: it ends where a full-data training's ends
    schedule = getattr(trainer.lr_scheduler, "scheduler", trainer.lr_scheduler)
    assert schedule.last_epoch == trainer.state.max_steps == epochs * int(np.ceil(N / 32))
    assert trainer.state.epoch == epochs


def test_infobatch_weights_the_kept_low_loss_samples(tmp_path, data):
    x, y, _, _ = data
    sampler = DynamicSampler("infobatch", y, rate=0.5, seed=0, epochs=4)
    losses = torch.linspace(0.0, 2.0, N)  # samples below the mean loss (1.0) are the prunable ones
    sampler.update(torch.arange(N), losses)
    sampler.set_epoch(1)
    kept = sampler.samples_this_epoch
    low = kept[kept < N // 2][:4]
    ids = torch.tensor(np.concatenate([low, [N - 1, N - 2]]))
    assert len(kept) == N - 50 and len(low) == 4  # losses below 1.0: samples 0..99, half of them left out
    model = tiny_bert()
    trainer = PruneTrainer(model=model, args=arguments(tmp_path, 4), train_dataset=add_ids(hf_set(x, y)),
                           dynamic=sampler)
    batch = {"input_ids": torch.tensor(x[ids.numpy()]), "labels": torch.tensor(y[ids.numpy()]), "idx": ids}
    model.train()
    loss = trainer.compute_loss(model, batch)
    with torch.no_grad():
        per = F.cross_entropy(model(input_ids=batch["input_ids"]).logits, batch["labels"], reduction="none")
    weights = torch.tensor([2.0] * 4 + [1.0] * 2)  # 1 / (1 - rate) for the kept low-loss samples
    torch.testing.assert_close(loss.detach(), (per * weights).mean())


def test_record_callback_refuses_a_plain_trainer_and_batches_without_ids(tmp_path, data):
    x, y, _, _ = data
    cb = RecordCallback(tmp_path / "run", targets=y, num_classes=CLASSES)
    plain = transformers.Trainer(model=tiny_bert(), args=arguments(tmp_path, 1), train_dataset=hf_set(x, y),
                                 callbacks=[cb])
    with pytest.raises(PruneError, match="PruneTrainer"):
        plain.train()
    no_ids = PruneTrainer(model=tiny_bert(), args=arguments(tmp_path, 1), train_dataset=hf_set(x, y), callbacks=[cb])
    with pytest.raises(PruneError, match="no 'idx'"):
        no_ids.train()
    assert not (tmp_path / "run").exists()  # the partial run was removed
    both = PruneTrainer(model=tiny_bert(), args=arguments(tmp_path, 2), train_dataset=add_ids(hf_set(x, y)),
                        callbacks=[cb], dynamic=DynamicSampler("rs2", y, 0.5))
    with pytest.raises(PruneError, match="every sample"):
        both.train()
