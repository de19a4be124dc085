"""Where the recording overhead goes: the training loop with the hook built up step by step.

Runs `fit` (MNIST-1D, cnn1d, 40 epochs, same seed) in one process with, in
turn: no hook; a hook that does nothing (the cost of calling one); a hook
that only scatters each batch's logits into an (n, C) buffer; the recording
hook with its file writes switched off; the full recording hook. Rounds
alternate the variants so drift on the machine hits them alike. It also
prints the time spent inside the full hook's ``on_batch`` and
``on_epoch_end`` (the latter includes the wait for the final write).

    python bench/record_breakdown.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="mnist1d")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()

    import numpy as np
    import torch

    from pipeline.io.run import create_trajectories
    from pipeline.engine.recording import RecordHook
    from pipeline.engine.loop import fit
    from pipeline.engine.setup import build, load_data, train_config

    bundle = load_data(a.data, None, False)
    cfg = train_config(a.data, None)
    n, C = len(bundle.train), len(bundle.classes)
    device = torch.device("cpu")
    inside = {"on_batch": 0.0, "on_epoch_end": 0.0}

    class Null:
        def on_batch(self, epoch, idx, logits, loss) -> None:
            pass

        def on_epoch_end(self, epoch, model, evals) -> None:
            pass

    class Scatter(Null):
        def __init__(self) -> None:
            self.buf = torch.full((n, C), float("nan"))

        def on_batch(self, epoch, idx, logits, loss) -> None:
            self.buf[idx] = logits.float()

    class NoWrites(RecordHook):
        def _write(self, slab) -> None:
            pass

    class Timed(RecordHook):
        def on_batch(self, *args) -> None:
            t0 = time.perf_counter()
            super().on_batch(*args)
            inside["on_batch"] += time.perf_counter() - t0

        def on_epoch_end(self, *args) -> None:
            t0 = time.perf_counter()
            super().on_epoch_end(*args)
            inside["on_epoch_end"] += time.perf_counter() - t0

    def hooks_for(kind: str, folder: Path) -> list:
        if kind == "no hook":
            return []
        if kind == "empty hook":
            return [Null()]
        if kind == "scatter only":
            return [Scatter()]
        group = create_trajectories(folder / "trajectories.zarr", inits=1, epochs=cfg.epochs, targets=bundle.train.y,
                                    num_classes=C, dtype="float16", eval_pass=False, attrs={})
        cls = NoWrites if kind == "record, no file writes" else Timed
        return [cls(run_dir=folder, group=group, init=0, bundle=bundle, device=device, dtype="float16",
                    eval_pass=False, checkpoints=set(), eval_batch=max(256, 2 * cfg.batch_size))]

    kinds = ["no hook", "empty hook", "scatter only", "record, no file writes", "record"]
    times: dict[str, list[float]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        fit(build(cfg.model, bundle, 0), bundle, np.arange(n), cfg, epochs=2, device=device, seed=0)  # warm-up
        for r in range(a.repeats):
            for kind in kinds:
                folder = Path(tmp) / f"{r}-{kinds.index(kind)}"
                folder.mkdir()
                net = build(cfg.model, bundle, 0)
                t0 = time.perf_counter()
                hooks = hooks_for(kind, folder)
                fit(net, bundle, np.arange(n), cfg, epochs=cfg.epochs, device=device, seed=0, hooks=hooks)
                times[kind].append(time.perf_counter() - t0)
    base = statistics.median(times["no hook"])
    print(f"data={a.data} epochs={cfg.epochs} n={n} torch_threads={torch.get_num_threads()} repeats={a.repeats}")
    for kind, ts in times.items():
        med = statistics.median(ts)
        print(f"{kind:24s} median {med:6.2f}s  (runs: {', '.join(f'{t:.2f}' for t in ts)})  {100 * (med / base - 1):+.1f}%")
    per = {k: v / a.repeats for k, v in inside.items()}
    print(f"inside the recording hook, per run: on_batch {per['on_batch']:.3f}s, on_epoch_end {per['on_epoch_end']:.3f}s")


if __name__ == "__main__":
    main()
