"""Property-based tests of the selection contract (DESIGN §6) on pipeline.select.core.choose.

For any labels, scores, rate, sampler and quota: exactly N − round(rate·N)
unique sorted ids in 0..N-1, per-class kept counts that sum to the budget and
never exceed a class's size, the same ids for the same seed, and a one-line
PruneError exactly where no valid selection exists.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.counts import keep_count
from pipeline.io import PruneError
from pipeline.select.catalog import SAMPLERS as CATALOG
from pipeline.select.core import choose
from pipeline.select.lastlayer import LastLayer

#: every built-in sampler; those reading embeddings, gradients or mean label probabilities get random ones
#: (ties are rare there)
SAMPLERS = sorted(CATALOG)
QUOTAS = ["none", "proportional", "balanced", "drop"]


@st.composite
def problems(draw):
    n = draw(st.integers(1, 60))
    c = draw(st.integers(1, 6))
    targets = np.asarray(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)), dtype=np.int64)
    # few distinct values, so ties are common (they must break by sample id)
    pool = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=8))
    values = np.asarray(draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n)), dtype=np.float64)
    rate = draw(st.floats(0.0, 1.0, exclude_min=True, exclude_max=True))
    recalls = np.asarray(draw(st.lists(st.floats(0.0, 1.0), min_size=c, max_size=c)))
    gen = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    emb = gen.normal(size=(n, 3))
    w, b = gen.normal(size=(c, 3)), gen.normal(size=c)
    val_y = np.repeat(np.arange(c), 2)
    return {"targets": targets, "values": values, "rate": rate, "recalls": recalls, "num_classes": c, "emb": emb,
            "grads": LastLayer.from_head(emb, w, b, targets), "val_targets": val_y,
            "val_grads": LastLayer.from_head(gen.normal(size=(2 * c, 3)), w, b, val_y),
            # a few values on the Beta's edges (0 and 1, where its pdf is 0 or infinite)
            "p_true_mean": np.where(gen.random(n) < 0.2, gen.integers(0, 2, n), gen.uniform(0.0, 1.0, n)),
            "method": draw(st.sampled_from(SAMPLERS)), "quota": draw(st.sampled_from(QUOTAS)),
            "higher_is_harder": draw(st.booleans()), "seed": draw(st.integers(0, 2**31 - 1))}


def _choose(p):
    return choose(targets=p["targets"], values=p["values"], rate=p["rate"], method=p["method"], quota=p["quota"],
                  recalls=p["recalls"], num_classes=p["num_classes"], higher_is_harder=p["higher_is_harder"],
                  emb=p["emb"], grads=p["grads"], val_grads=p["val_grads"], val_targets=p["val_targets"],
                  p_true_mean=p["p_true_mean"], seed=p["seed"])


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_selection_contract(p):
    n = len(p["targets"])
    n_keep = keep_count(n, p["rate"])
    sizes = np.bincount(p["targets"], minlength=p["num_classes"])
    present = int(np.sum(sizes > 0))
    possible = 0 < n_keep < n  # a rate that keeps nothing, or everything, is no selection
    try:
        kept, params, detail, _ = _choose(p)
    except PruneError as err:
        assert not possible, f"refused a selection that exists: {err}"
        assert str(err) and "\n" not in str(err)
        return
    assert possible, "selected where no valid selection exists"
    assert kept.dtype == np.int64 and len(kept) == n_keep
    assert np.all(np.diff(kept) > 0) and kept[0] >= 0 and kept[-1] < n
    per_class = np.bincount(p["targets"][kept], minlength=p["num_classes"])
    assert per_class.sum() == n_keep and np.all(per_class <= sizes)
    if p["quota"] == "drop" and n_keep >= present:
        assert np.all(per_class[sizes > 0] >= 1)  # the floor: no class emptied (dropped when the budget is smaller)
    if p["quota"] == "balanced":
        # equal counts where possible: a class below the largest kept count is kept whole
        top = per_class.max()
        assert np.all((per_class >= top - 1) | (per_class == sizes))
    again, _, _, _ = _choose(p)
    assert np.array_equal(kept, again)  # deterministic for a seed
