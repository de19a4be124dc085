"""Record and train throughput on a GPU, on CIFAR-sized synthetic tensors.

Trains the project's loop (`pipeline.engine.loop.fit`, ResNet-18 for 32×32
inputs, SGD, random crop + flip) on N synthetic uint8 images of 3×32×32 in C
classes, three ways, each from the same seed:

* ``train``: no hook (what `prune train` runs);
* ``record``: the recording hook, train pass (what `prune record` runs);
* ``record+eval``: the hook with the extra eval-mode pass (`--eval-pass`).

and, for comparison, ``train (host data)``: the inputs kept in host memory and
copied to the device batch by batch, as before the loop kept in-memory data
sets on the GPU. It prints seconds per epoch (median over the timed epochs of
every round, each fit's first epoch untimed), images per second, the overhead of recording, and
the GPU's busy time (NVML utilisation sampled every 50 ms during the timed
epochs). Then it checks the recording hook's batch path for host syncs: one
epoch runs under ``torch.cuda.set_sync_debug_mode("warn")`` and every
synchronising call is counted by source line; a line that syncs once per
batch would be listed with a count equal to the number of batches.

    python bench/gpu_throughput.py --n 50000 --classes 100 --epochs 8 --rounds 2

Runs on the CPU too (``--device cpu``, slowly; useful only to check the script).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic_bundle(n: int, classes: int, seed: int = 0):
    """N training images (and N/5 test images) of 3×32×32 uint8: a class template plus noise."""
    import numpy as np
    import torch

    from pipeline.data.augment import random_crop_flip
    from pipeline.data.base import Split, make_bundle

    g = torch.Generator().manual_seed(seed)
    templates = torch.randint(0, 256, (classes, 3, 32, 32), generator=g, dtype=torch.int16)

    def images(m: int) -> tuple[torch.Tensor, np.ndarray]:
        y = torch.randint(0, classes, (m,), generator=g)
        noise = torch.randint(-96, 97, (m, 3, 32, 32), generator=g, dtype=torch.int16)
        x = (templates[y] // 2 + 64 + noise).clamp_(0, 255).to(torch.uint8)
        return x, y.numpy()

    (xtr, ytr), (xte, yte) = images(n), images(max(2 * classes, n // 5))
    stats = dict(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    return make_bundle("synthetic-cifar", [f"c{i}" for i in range(classes)], (3, 32, 32),
                       Split(y=ytr, x=xtr, **stats), Split(y=yte, x=xte, **stats), augment=random_crop_flip)


class Busy:
    """Mean NVML GPU utilisation over a span (sampled in a thread)."""

    def __init__(self, device, period: float = 0.05):
        self.device, self.period, self.samples = device, period, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import torch

        while not self._stop.wait(self.period):
            try:
                self.samples.append(torch.cuda.utilization(self.device))
            except Exception:  # no NVML: no figure
                return

    def __enter__(self):
        if self.device.type == "cuda":
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples) if self.samples else float("nan")


def run_mode(mode: str, bundle, cfg, device, epochs: int, tmp: Path) -> dict:
    import numpy as np
    import torch

    from pipeline.io.run import create_trajectories
    from pipeline.engine.recording import RecordHook
    from pipeline.engine import loop
    from pipeline.engine.setup import build

    n, C = len(bundle.train), len(bundle.classes)
    hooks = []
    if mode.startswith("record"):
        eval_pass = mode == "record+eval"
        folder = tmp / mode
        folder.mkdir(parents=True, exist_ok=True)
        group = create_trajectories(folder / "trajectories.zarr", inits=1, epochs=epochs, targets=bundle.train.y,
                                    num_classes=C, dtype="float16", eval_pass=eval_pass, attrs={})
        hooks = [RecordHook(run_dir=folder, group=group, init=0, bundle=bundle, device=device, dtype="float16",
                            eval_pass=eval_pass, checkpoints=set(), eval_batch=max(256, 2 * cfg.batch_size))]
    resident = loop.resident
    if mode == "train (host data)":
        loop.resident = lambda split, dev: split
    stamps: list[float] = []
    busy = Busy(device)

    def progress(log) -> None:
        # the loop already synchronised at the epoch's end (its loss and metrics are on the host)
        stamps.append(time.perf_counter())
        if len(stamps) == 1:
            busy.__enter__()

    net = build(cfg.model, bundle, 0)
    try:
        t0 = time.perf_counter()
        loop.fit(net, bundle, np.arange(n), cfg, epochs=epochs, device=device, seed=0, hooks=hooks, progress=progress)
    finally:
        loop.resident = resident
        busy.__exit__()
    per_epoch = np.diff([t0] + stamps)
    timed = per_epoch[1:]  # epoch 0 warms up (cuDNN autotuning, allocator)
    sec = float(np.median(timed))
    return {"mode": mode, "epoch_s": sec, "images_per_s": n / sec, "gpu_busy_pct": busy.mean,
            "epochs_s": [round(float(s), 3) for s in per_epoch]}


def sync_check(bundle, cfg, device, tmp: Path, host_data: bool = False) -> dict:
    """Count synchronising CUDA calls by source line during one recorded epoch."""
    import numpy as np
    import torch

    from pipeline.io.run import create_trajectories
    from pipeline.engine.recording import RecordHook
    from pipeline.engine import loop
    from pipeline.engine.setup import build

    n, C = len(bundle.train), len(bundle.classes)
    folder = tmp / f"sync-{host_data}"
    group = create_trajectories(folder / "trajectories.zarr", inits=1, epochs=1, targets=bundle.train.y,
                                num_classes=C, dtype="float16", eval_pass=False, attrs={})
    hook = RecordHook(run_dir=folder, group=group, init=0, bundle=bundle, device=device, dtype="float16",
                      eval_pass=False, checkpoints=set(), eval_batch=max(256, 2 * cfg.batch_size))
    net = build(cfg.model, bundle, 0)
    batches = -(-n // cfg.batch_size)
    resident = loop.resident
    if host_data:
        loop.resident = lambda split, dev: split
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            loop.fit(net, bundle, np.arange(n), cfg, epochs=1, device=device, seed=0, hooks=[hook])
        finally:
            torch.cuda.set_sync_debug_mode("default")
            loop.resident = resident
    counts: dict[str, int] = {}
    for w in caught:
        if "synchroniz" in str(w.message).lower():
            key = f"{Path(w.filename).name}:{w.lineno}"
            counts[key] = counts.get(key, 0) + 1
    return {"batches": batches, "syncs_by_line": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
            "per_batch_lines": [k for k, v in counts.items() if v >= batches]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="training images")
    ap.add_argument("--classes", type=int, default=100)
    ap.add_argument("--epochs", type=int, default=4, help="epochs per mode (the first is a warm-up, not timed)")
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--modes", default="train,record,record+eval,train (host data)")
    ap.add_argument("--rounds", type=int, default=1, help="run the modes this many times, alternating")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()

    import torch

    from pipeline.engine.setup import train_config

    device = torch.device(a.device)
    if a.epochs < 2:
        ap.error("--epochs must be at least 2 (one warm-up epoch, then timed ones)")
    torch.backends.cudnn.benchmark = True
    bundle = synthetic_bundle(a.n, a.classes)
    cfg = train_config("cifar100", a.model, epochs=a.epochs, batch_size=a.batch_size)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device {name}, torch {torch.__version__}; N={a.n} C={a.classes} {a.model} batch {a.batch_size}, "
          f"{a.epochs} epochs per mode (first untimed)")
    results = []
    modes = a.modes.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[str, list[dict]] = {m: [] for m in modes}
        for k in range(a.rounds):  # rounds alternate the modes, so drift on the machine hits them alike
            for mode in modes:
                r = run_mode(mode, bundle, cfg, device, a.epochs, Path(tmp) / f"round{k}")
                runs[mode].append(r)
                print(f"  round {k} {mode:18s} {r['epoch_s']:7.2f} s/epoch  {r['images_per_s']:8.0f} img/s  "
                      f"GPU busy {r['gpu_busy_pct']:5.1f}%  epochs {r['epochs_s']}", flush=True)
        for mode in modes:  # median over every timed epoch of every round
            timed = [s for r in runs[mode] for s in r["epochs_s"][1:]]
            sec = statistics.median(timed)
            busy = statistics.fmean(r["gpu_busy_pct"] for r in runs[mode])
            results.append({"mode": mode, "epoch_s": sec, "images_per_s": a.n / sec, "gpu_busy_pct": busy,
                            "timed_epochs": len(timed), "rounds": runs[mode]})
        base = next((r for r in results if r["mode"] == "train"), None)
        if base is not None:
            for r in results:
                r["overhead_pct"] = 100.0 * (r["epoch_s"] / base["epoch_s"] - 1.0)
        syncs = {}
        if device.type == "cuda":
            syncs["data on the GPU"] = sync_check(bundle, cfg, device, Path(tmp))
            if "train (host data)" in a.modes.split(","):
                syncs["host data"] = sync_check(bundle, cfg, device, Path(tmp), host_data=True)
    print(f"{'mode':18s} {'s/epoch':>8s} {'img/s':>8s} {'vs train':>9s} {'GPU busy':>9s}")
    for r in results:
        print(f"{r['mode']:18s} {r['epoch_s']:8.2f} {r['images_per_s']:8.0f} {r.get('overhead_pct', float('nan')):+8.1f}% "
              f"{r['gpu_busy_pct']:8.1f}%")
    for what, sync in syncs.items():
        print(f"{what}: host syncs in one recorded epoch of {sync['batches']} batches, by source line: {sync['syncs_by_line']}")
        print(f"{what}: lines syncing once per batch or more: " + (", ".join(sync["per_batch_lines"]) or "none"))
    if a.json:
        a.json.write_text(json.dumps({"device": name, "args": {k: str(v) for k, v in vars(a).items()},
                                      "results": results, "syncs": syncs}, indent=2))


if __name__ == "__main__":
    main()
