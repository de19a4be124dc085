"""DeepFool: on a linear model the perturbation is the distance to the nearest decision boundary; a recorded run
end to end."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cli_helpers import prune
from pipeline.io import PruneError, open_run, read_scores
from pipeline.record.synthetic import write_run
from pipeline.score.methods.deepfool import deepfool_norms
from pipeline.score.registry import METHODS
from pipeline.score.run import score


class Linear(nn.Module):
    """f(x) = W·flatten(x) + b: DeepFool's linearisation is exact, so one step reaches the boundary."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray):
        super().__init__()
        self.fc = nn.Linear(weight.shape[1], weight.shape[0]).double()
        with torch.no_grad():
            self.fc.weight.copy_(torch.from_numpy(weight))
            self.fc.bias.copy_(torch.from_numpy(bias))

    def forward(self, x):
        return self.fc(x.flatten(1))


def boundary_distance(w: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """min_{c ≠ ŷ} |f_c − f_ŷ| / ‖w_c − w_ŷ‖₂ per row of x (flattened), ŷ = argmax f: the closed form."""
    x = x.reshape(len(x), -1)
    f = x @ w.T + b
    out = []
    for fi in f:
        y = int(np.argmax(fi))
        out.append(min(abs(fi[c] - fi[y]) / np.linalg.norm(w[c] - w[y]) for c in range(len(b)) if c != y))
    return np.array(out)


@pytest.mark.parametrize("classes", [2, 5])
def test_linear_model_distance_is_the_closed_form(classes):
    rng = np.random.default_rng(classes)
    w, b = rng.normal(size=(classes, 12)), rng.normal(size=classes)
    x = rng.normal(size=(40, 3, 4))  # any input shape: the perturbation lives on the flattened input
    model = Linear(w, b).eval()
    got = deepfool_norms(model, torch.from_numpy(x), max_iter=50).numpy()
    np.testing.assert_allclose(got, boundary_distance(w, b, x), rtol=1e-5, atol=1e-9)
    assert all(p.requires_grad for p in model.parameters())  # the model is left as it was


def test_linear_model_three_classes_by_hand():
    # f = (x1, x2, 0): at x = (3, 1) class 0 leads; boundary with class 1 at distance |1 − 3| / ‖(−1, 1)‖ = √2,
    # with class 2 at |0 − 3| / ‖(−1, 0)‖ = 3; DeepFool moves to the first
    w = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    got = deepfool_norms(Linear(w, np.zeros(3)).eval(), torch.tensor([[3.0, 1.0]], dtype=torch.float64))
    np.testing.assert_allclose(got.numpy(), [np.sqrt(2.0)], rtol=1e-12)


def test_a_sample_whose_prediction_cannot_move_stops_at_zero():
    # every class has the same gradient: no linear step changes the prediction
    w = np.ones((3, 4))
    got = deepfool_norms(Linear(w, np.array([1.0, 0.0, -1.0])).eval(), torch.ones(2, 4, dtype=torch.float64))
    np.testing.assert_array_equal(got.numpy(), [0.0, 0.0])


def test_deepfool_is_low_is_hard_and_takes_its_options():
    m = METHODS["deepfool"]
    assert m.higher_is_harder is False
    assert dict(m.defaults) == {"epoch": None, "max_iter": 50, "device": "auto"}
    with pytest.raises(PruneError, match="--max-iter"):
        m.resolve({"max_iter": 0}, None)


def test_without_checkpoints_names_the_flag(tmp_path):
    run = write_run(tmp_path / "run", np.zeros((1, 2, 3, 2), np.float32), np.array([0, 1, 0]))
    with pytest.raises(PruneError, match=r"deepfool needs model checkpoints.*prune record --checkpoints"):
        score(run=run, method="deepfool", params={})


def test_recorded_run_end_to_end(tmp_path):
    run = tmp_path / "run"
    prune("record", "--data", "digits", "--model", "mlp", "--epochs", "1", "--checkpoints", "0,final",
          "--batch-size", "256", "--device", "cpu", "--run", str(run))
    res = prune("score", "--method", "deepfool", "--run", str(run), "--opt", "max_iter=20")
    t = read_scores(run / "scores" / "deepfool.parquet")
    assert "deepfool(epoch=1, max_iter=20" in res.output  # the default checkpoint is the last recorded
    assert len(t.score) == open_run(run).n and np.isfinite(t.score).all() and (t.score >= 0).all()
    assert t.higher_is_harder is False and t.meta["parameters"]["epoch"] == 1
    prune("score", "--method", "deepfool", "--run", str(run), "--epoch", "0", "--opt", "max_iter=20",
          "--out", str(tmp_path / "init.parquet"))
    assert np.isfinite(read_scores(tmp_path / "init.parquet").score).all()
