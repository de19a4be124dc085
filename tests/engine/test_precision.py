"""`--precision`: the training forward pass under autocast (bf16 on a CPU; fp16 needs CUDA), refused at the door."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import torch

from cli_helpers import error_line, prune
from pipeline.engine.hooks import Hook
from pipeline.engine.loop import fit
from pipeline.engine.setup import build, load_data, train_config


def _weights_after_one_epoch(precision: str) -> torch.Tensor:
    bundle = load_data("digits", None, False)
    cfg = dataclasses.replace(train_config("digits", None, epochs=1), precision=precision)
    net = build(cfg.model, bundle, 0)
    seen = []

    class Watch(Hook):
        def on_batch(self, epoch, idx, logits, loss):
            seen.append(logits.dtype)

    hook = Watch()
    fit(net, bundle, np.arange(len(bundle.train)), cfg, epochs=1, device=torch.device("cpu"), seed=0, hooks=[hook],
        eval_splits=())
    return torch.cat([p.detach().flatten() for p in net.parameters()]), set(seen)


def test_bf16_autocast_trains_close_to_fp32_but_not_equal():
    w32, d32 = _weights_after_one_epoch("fp32")
    w16, d16 = _weights_after_one_epoch("bf16")
    assert d32 == {torch.float32} and d16 == {torch.bfloat16}  # the forward pass really ran in bfloat16
    assert not torch.equal(w32, w16)
    assert torch.allclose(w32, w16, atol=5e-2)


def test_precision_on_the_command_line(tmp_path):
    run = tmp_path / "run"
    prune("record", "--run", run, "--data", "digits", "--epochs", "1")
    prune("train", "--run", run, "--epochs", "1", "--precision", "bf16", "--name", "bf")
    assert json.loads((run / "train" / "bf" / "metrics.json").read_text())["config"]["precision"] == "bf16"
    assert "CUDA" in error_line(prune("train", "--run", run, "--epochs", "1", "--precision", "fp16", "--device", "cpu",
                                      ok=False))
    assert "fp32, bf16, fp16" in error_line(prune("train", "--run", run, "--precision", "fp8", ok=False))
    assert sorted(p.name for p in (run / "train").iterdir()) == ["bf"]
