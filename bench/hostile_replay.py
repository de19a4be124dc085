"""Replay hostile inputs against the installed `prune`: each must end in one line and exit 2, and change nothing.

    python bench/hostile_replay.py            # every case; exit 1 if any case fails
    python bench/hostile_replay.py -k export  # the cases whose name holds "export"

Each case builds its hostile input for real (a read-only or full tmpfs where mounting is allowed, a SIGKILL in
the checksum step, an npz with a label of 10^9, a PNG decompression bomb, ...), runs the command in a fresh
process (API cases: a fresh `python -c`), and checks:

- the exit code (2 for a refusal; what the case says otherwise);
- stderr: one line, no traceback, holding the case's words;
- nothing changed: the files the case protects have the same bytes afterwards, and no `.tmp`/`.partial` is left.

It prints one row per case and the count of failures. It needs about a minute on two cores (a 2-epoch digits
run is recorded once and shared).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

PY = sys.executable
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PRUNE_THREADS": "1", "PYTHONWARNINGS": "ignore"}
CASES: list[tuple[str, Callable]] = []


def case(name: str):
    def add(fn):
        CASES.append((name, fn))
        return fn
    return add


class Failed(Exception):
    pass


def prune(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "pipeline.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env or ENV, timeout=600)


def api(code: str, cwd=None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that prints ``refused: LINE`` for a PruneError (and lets others out)."""
    wrapped = ("from pipeline.io import PruneError\ntry:\n" + "".join(f"    {ln}\n" for ln in code.splitlines())
               + "except PruneError as err:\n    print('refused:', err)\n    raise SystemExit(2)\n"
               + "print('accepted')\n")
    return subprocess.run([PY, "-c", wrapped], capture_output=True, text=True, cwd=cwd, env=ENV, timeout=600)


def ok(res, *words, code: int = 2) -> str:
    """The one line of a refusal, checked: exit ``code``, no traceback, one line on stderr (stdout for the API)."""
    out = (res.stderr if res.stderr.strip() else res.stdout).strip()
    if "Traceback" in res.stderr or "Traceback" in res.stdout:
        raise Failed("traceback: " + res.stderr.strip().splitlines()[-1])
    if res.returncode != code:
        raise Failed(f"exit {res.returncode} (expected {code}): {out[-200:]}")
    lines = [ln for ln in (res.stderr.strip() or res.stdout.strip()).splitlines() if ln.strip()]
    line = lines[-1] if lines else ""
    if code == 2 and len([ln for ln in res.stderr.splitlines() if ln.strip()]) > 1:
        raise Failed(f"{len(res.stderr.splitlines())} lines on stderr")
    missing = [w for w in words if w.lower() not in line.lower()]
    if missing:
        raise Failed(f"the line lacks {missing}: {line}")
    return line


def snapshot(*paths: Path) -> dict[str, str]:
    """sha256 of every file under ``paths``, by path: what "nothing changed" compares."""
    out = {}
    for p in paths:
        files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file()) if p.exists() else []
        for f in files:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def unchanged(before: dict[str, str], *paths: Path) -> None:
    after = snapshot(*paths)
    if after != before:
        changed = sorted(set(before) ^ set(after) | {k for k in before if after.get(k) != before[k]})
        raise Failed(f"changed: {changed[:3]}")
    for p in paths:
        left = [q for q in (p.rglob("*") if p.is_dir() else []) if q.name.endswith(".tmp") or ".partial-" in q.name]
        if left:
            raise Failed(f"left behind: {left[:2]}")


def mount(path: Path, options: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True)
    if res.returncode != 0:
        raise Skipped(f"cannot mount a tmpfs ({res.stderr.strip()})")
    MOUNTS.append(path)
    return path


class Skipped(Exception):
    pass


MOUNTS: list[Path] = []


# ---------------------------------------------------------------- 1. data loss and damage

@case("export --mode list onto an existing file")
def _(w):
    mine = w / "mine.txt"
    mine.write_text("the user's own file\n")
    before = snapshot(mine)
    line = ok(prune("export", "--manifest", w / "img-keep.parquet", "--mode", "list", "--to", mine), "--force")
    unchanged(before, mine)
    return line


@case("SIGKILL inside record's checksum step, then --resume")
def _(w):
    run = w / "killed"
    code = ("import os, signal\nimport pipeline.io.checksums as C\n"
            "C.write_checksums = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
            "import pipeline.record.run as R\nR.write_checksums = C.write_checksums\n"
            "from pipeline.cli import main\nimport sys\n"
            f"sys.argv = ['prune', 'record', '--data', 'digits', '--model', 'mlp', '--epochs', '2', '--run', '{run}']\n"
            "main()\n")
    res = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=ENV)
    if res.returncode != -9:
        raise Failed(f"the kill did not land in the checksum step (exit {res.returncode})")
    return ok(prune("record", "--resume", "--run", run, "--epochs", "2"), "recorded run", code=0)


@case("sweep --name reused with another grid")
def _(w):
    base = ["sweep", "--run", w / "run", "--name", "s1", "--scores", "el2n", "--methods", "topk", "--seeds", "0",
            "--epochs", "1", "--no-full", "--quiet"]
    folder = w / "run" / "sweeps" / "s1"
    if not folder.exists():
        ok(prune(*base, "--rates", "0.5"), code=0)
    before = snapshot(folder)
    line = ok(prune(*base, "--rates", "0.3"), "another grid", "rate")
    unchanged(before, folder)
    return line


# ---------------------------------------------------------------- 2. one absurd label

@case("npz with one label of 10^9")
def _(w):
    import numpy as np

    y = np.arange(40) % 2
    y[3] = 10**9
    np.savez(w / "absurd.npz", x=np.random.default_rng(0).normal(size=(40, 4)).astype("float32"), y=y)
    return ok(prune("record", "--data", f"npz:{w / 'absurd.npz'}", "--model", "mlp", "--epochs", "1",
                    "--run", w / "absurd"), "label")


# ---------------------------------------------------------------- 3. bad data flowing silently

@case("score from a logits chunk with a flipped bit")
def _(w):
    run = w / "flipped"
    if not run.exists():
        shutil.copytree(w / "run", run, ignore=shutil.ignore_patterns("scores", "sweeps", "train", "report"))
        for chunk in (p for p in sorted((run / "trajectories.zarr").rglob("*")) if p.is_file() and
                      p.stat().st_size > 100 and "zarr.json" not in p.name):  # every chunk, whichever a score reads
            b = bytearray(chunk.read_bytes())
            b[len(b) // 2] ^= 0x01
            chunk.write_bytes(bytes(b))
    return ok(prune("score", "--method", "el2n", "--run", run), "checksum")


@case("a score table as train's manifest")
def _(w):
    return ok(prune("train", "--run", w / "run", "--manifest", w / "run" / "scores" / "el2n.parquet", "--epochs",
                    "1", "--name", "t"), "manifest")


@case("a score table as select --like")
def _(w):
    return ok(prune("select", "--run", w / "run", "--scores", "el2n", "--method", "random", "--rate", "0.5", "--quota",
                    "strategyq", "--like", w / "run" / "scores" / "el2n.parquet", "--out", w / "like.parquet"),
              "manifest")


@case("a score table as read_manifest()")
def _(w):
    return ok(api(f"from pipeline.io import read_manifest\nread_manifest('{w / 'run' / 'scores' / 'el2n.parquet'}')"),
              "manifest")


@case("select(higher_is_harder='false') in the API")
def _(w):
    return ok(api("import numpy as np\nfrom pipeline import select\n"
                  "select(np.arange(10.0), 0.5, higher_is_harder='false')"), "higher_is_harder")


@case("score(window=2.5) in the API")
def _(w):
    return ok(api(f"from pipeline import score\nscore('{w / 'run'}', 'tdds', window=2.5)"), "window")


@case("Recorder.log with all-NaN logits")
def _(w):
    return ok(api("import torch\nfrom pipeline import Recorder\n"
                  f"rec = Recorder('{w / 'nanrec'}', targets=torch.zeros(4, dtype=torch.long), epochs=1, num_classes=2)\n"
                  "rec.log(0, torch.arange(4), torch.full((4, 2), float('nan')))"), "nan")


@case("report --score nope")
def _(w):
    return ok(prune("report", "--run", w / "run", "--score", "nope", "--out", w / "rep-nope"), "nope")


@case("report with a manifest of other data")
def _(w):
    other = w / "other"
    if not other.exists():
        ok(prune("record", "--data", "digits", "--model", "mlp", "--epochs", "1", "--imbalance", "2",
                 "--run", other), code=0)
        ok(prune("score", "--method", "el2n", "--run", other), code=0)
        ok(prune("select", "--run", other, "--scores", "el2n", "--method", "topk", "--rate", "0.5", "--out",
                 w / "other-keep.parquet"), code=0)
    return ok(prune("report", "--run", w / "run", "--manifest", w / "other-keep.parquet", "--out", w / "rep-other"),
              "other")


@case("report on a sweep whose results hold NaN accuracy")
def _(w):
    import polars as pl

    src = w / "run" / "sweeps" / "s1"
    if not src.exists():
        raise Skipped("needs the sweep of 'sweep --name reused'")
    nan = w / "run" / "sweeps" / "nan"
    shutil.rmtree(nan, ignore_errors=True)
    shutil.copytree(src, nan)
    df = pl.read_parquet(nan / "results.parquet")
    df.with_columns(pl.lit(float("nan")).alias("accuracy")).write_parquet(nan / "results.parquet")
    return ok(prune("report", "--run", w / "run", "--sweep", "nan", "--out", w / "rep-nan"), "nan")


@case("record --data-dir naming a file")
def _(w):
    f = w / "a-file"
    f.write_text("x")
    return ok(prune("record", "--data", "imagefolder", "--data-dir", f, "--epochs", "1", "--run", w / "r-file"),
              "is a file")


@case("TinyImageNet annotation pointing outside --data-dir")
def _(w):
    from PIL import Image

    root = w / "tiny"
    for c in ("n01", "n02"):
        (root / "train" / c / "images").mkdir(parents=True, exist_ok=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(root / "train" / c / "images" / f"{c}_{i}.JPEG")
    (root / "val" / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8)).save(root / "val" / "images" / "val_0.JPEG")
    (root / "val" / "val_annotations.txt").write_text("../../../etc/passwd\tn01\t0\t0\t8\t8\n")
    return ok(prune("record", "--data", "imagefolder", "--data-dir", root, "--model", "mlp", "--epochs", "1",
                    "--run", w / "r-tiny"), "outside")


# ---------------------------------------------------------------- 4. outputs that cannot be written

def _ro(w) -> Path:
    """A read-only tmpfs holding a file of the user's and a copy of the run (for the stages that write inside it)."""
    ro = w / "ro"
    if ro not in MOUNTS:
        mount(ro, "size=20m")
        (ro / "mine.txt").write_text("kept\n")
        shutil.copytree(w / "run", ro / "run", ignore=shutil.ignore_patterns("sweeps", "train", "report"))
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
    return ro


def _mounted_case(title: str, where: Callable[[Path], Path], word: str):
    """A case factory: the command ``args(w, mount)`` writes into the mount ``where(w)``, which must refuse it in
    one line holding ``word`` and keep its bytes."""
    def make(name: str, args: Callable[[Path, Path], list]):
        @case(f"{title}: {name}")
        def _(w):
            m = where(w)
            before = snapshot(m)
            line = ok(prune(*args(w, m)), word)
            unchanged(before, m)
            return line
    return make


_ro_case = _mounted_case("read-only file system", lambda w: _ro(w), "read-only")
_ro_case("score", lambda w, ro: ["score", "--method", "aum", "--run", w / "run", "--out", ro / "aum.parquet"])
_ro_case("select", lambda w, ro: ["select", "--run", w / "run", "--scores", "el2n", "--method", "topk", "--rate",
                                  "0.5", "--out", ro / "keep.parquet"])
_ro_case("record", lambda w, ro: ["record", "--data", "digits", "--model", "mlp", "--epochs", "1", "--run", ro / "r"])
_ro_case("sweep", lambda w, ro: ["sweep", "--run", ro / "run", "--name", "s", "--scores", "el2n", "--methods",
                                 "topk", "--rates", "0.5", "--seeds", "0", "--epochs", "1"])
_ro_case("report", lambda w, ro: ["report", "--run", ro / "run"])
_ro_case("export", lambda w, ro: ["export", "--manifest", w / "img-keep.parquet", "--mode", "list", "--to",
                                  ro / "list.txt"])
_ro_case("train --out", lambda w, ro: ["train", "--run", w / "run", "--manifest", w / "keep.parquet", "--epochs", "1",
                                       "--out", ro / "t"])


@case("read-only file system: clean --yes")
def _(w):
    ro = w / "ro-clean"
    if ro not in MOUNTS:
        mount(ro, "size=1m")
        (ro / ".r.partial-deadbeef").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(ro)], check=True)
    line = ok(prune("clean", "--run-parent", ro, "--yes"), "read-only")
    if not (ro / ".r.partial-deadbeef").is_dir():
        raise Failed("the partial is gone")
    return line


def _full(w) -> Path:
    full = w / "full"
    if full not in MOUNTS:
        mount(full, "size=4k")
        (full / "filler").write_bytes(b"x" * 2048)
    return full


_full_case = _mounted_case("full disk", lambda w: _full(w), "space")
_full_case("record", lambda w, f: ["record", "--data", "digits", "--model", "mlp", "--epochs", "1", "--run", f / "r"])
_full_case("select", lambda w, f: ["select", "--run", w / "run", "--scores", "el2n", "--method", "topk", "--rate",
                                   "0.5", "--out", f / "keep.parquet"])
_full_case("score --out", lambda w, f: ["score", "--method", "aum", "--run", w / "run", "--out", f / "aum.parquet"])
_full_case("train --out", lambda w, f: ["train", "--run", w / "run", "--manifest", w / "keep.parquet", "--epochs",
                                        "1", "--out", f / "t"])


@case("full disk mid-recording, then --resume")
def _(w):
    mid = w / "mid"
    mount(mid, "size=1500k")  # the first checkpoint and epoch fit, the whole run does not
    code = ("import pipeline.record.run as R\nR.check_free_space = lambda run, r: None\n"  # as if filled meanwhile
            "from pipeline.cli import main\nimport sys\n"
            f"sys.argv = ['prune', 'record', '--data', 'digits', '--model', 'mlp', '--epochs', '6', '--run', '{mid / 'r'}']\n"
            "main()\n")
    line = ok(subprocess.run([PY, "-c", code], capture_output=True, text=True, env=ENV), "no space",
              "unfinished result is kept", "--resume")
    subprocess.run(["mount", "-o", "remount,size=20m", str(mid)], check=True)
    ok(prune("record", "--resume", "--run", mid / "r", "--epochs", "6"), "recorded run", code=0)
    return line


@case("score --out naming an existing folder")
def _(w):
    (w / "a-folder").mkdir(exist_ok=True)
    return ok(prune("score", "--method", "aum", "--run", w / "run", "--out", w / "a-folder"), "folder")


@case("select --out under a file")
def _(w):
    (w / "plain").write_text("x")
    return ok(prune("select", "--run", w / "run", "--scores", "el2n", "--method", "topk", "--rate", "0.5", "--out",
                    w / "plain" / "keep.parquet"), "file")


@case("rounds --run naming a file")
def _(w):
    (w / "plain").write_text("x")
    return ok(prune("rounds", "--run", w / "plain", "--strategy", "acquire", "--final-frac", "0.5", "--data", "digits", "--model", "mlp",
                    "--iterations", "1", "--epochs", "1"), "file")


# ---------------------------------------------------------------- other inputs

@case("sweep --config with non-UTF-8 bytes")
def _(w):
    cfg = w / "bad.toml"
    cfg.write_bytes(b"rates = [0.5]\n# \xff\xfe\n")
    return ok(prune("sweep", "--run", w / "run", "--config", cfg, "--name", "cfg"), "utf-8")


@case("a PNG decompression bomb in an image folder")
def _(w):
    from PIL import Image

    root = w / "bomb"
    for c in ("a", "b"):
        (root / "train" / c).mkdir(parents=True, exist_ok=True)
        (root / "val" / c).mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(root / "train" / c / "ok.png")
        Image.new("RGB", (8, 8)).save(root / "val" / c / "ok.png")
    Image.new("1", (20000, 20000)).save(root / "train" / "a" / "bomb.png")
    return ok(prune("record", "--data", "imagefolder", "--data-dir", root, "--model", "mlp", "--epochs", "1",
                    "--run", w / "r-bomb"), "bomb")


@case("train --run on a run.json without config")
def _(w):
    run = w / "noconfig"
    if not run.exists():
        shutil.copytree(w / "run", run, ignore=shutil.ignore_patterns("scores", "sweeps", "train", "report"))
        import json

        doc = json.loads((run / "run.json").read_text())
        doc.pop("config", None)
        (run / "run.json").write_text(json.dumps(doc))
    # a Recorder's run keeps no recipe either: train says what it trains (the header line) with its defaults
    res = prune("train", "--run", run, "--epochs", "1", "--name", "t")
    ok(res, code=0)
    return "accepted, as a Recorder's run: " + res.stdout.strip().splitlines()[0]


@case("score(window='abc') in the API")
def _(w):
    return ok(api(f"from pipeline import score\nscore('{w / 'run'}', 'tdds', window='abc')"), "window")


@case("score(run, None) in the API")
def _(w):
    return ok(api(f"from pipeline import score\nscore('{w / 'run'}', None)"), "method")


@case("select(['a', 'b']) in the API")
def _(w):
    return ok(api("from pipeline import select\nselect(['a', 'b', 'c', 'd'], 0.5)"), "score")


@case("score(out=FOLDER) in the API")
def _(w):
    (w / "a-folder").mkdir(exist_ok=True)
    return ok(api(f"from pipeline import score\nscore('{w / 'run'}', 'el2n', out='{w / 'a-folder'}')"), "folder")


@case("select(out=FOLDER) in the API")
def _(w):
    (w / "a-folder").mkdir(exist_ok=True)
    return ok(api(f"from pipeline import score, select\ns = score('{w / 'run'}', 'el2n')\n"
                  f"select(s, 0.5, out='{w / 'a-folder'}')"), "folder")


# ---------------------------------------------------------------- 5. smaller

@case("clean finds an unfinished folder inside a sweep cell")
def _(w):
    cell = w / "run" / "sweeps" / "s1" / "cells" / "x" / "train" / ".t.partial-0badcafe"
    cell.mkdir(parents=True, exist_ok=True)
    res = prune("clean", "--run-parent", w / "run")
    if str(cell) not in res.stdout + res.stderr:
        raise Failed("the partial inside the sweep cell is not listed")
    shutil.rmtree(cell.parent.parent)
    return ok(res, code=0) or "listed"


@case("clean --run-parent MISSING")
def _(w):
    return ok(prune("clean", "--run-parent", w / "missing"), "missing")


@case("demo --rates with 25,000 entries")
def _(w):
    res = prune("demo", "--rates", ",".join(["0.5"] * 25000), "--run", w / "demo")
    line = ok(res)
    if len(line) > 300:
        raise Failed(f"a {len(line)}-character line")
    return line


def setup(w: Path) -> None:
    from PIL import Image

    img = w / "images"
    for split, n in (("train", 6), ("val", 2)):
        for c in ("a", "b"):
            (img / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.new("RGB", (8, 8), (40 * i, 100 if c == "a" else 0, 0)).save(img / split / c / f"{i}.png")
    ok(prune("record", "--data", "imagefolder", "--data-dir", img, "--model", "mlp", "--epochs", "1", "--run",
             w / "img"), code=0)
    ok(prune("score", "--method", "el2n", "--run", w / "img"), code=0)
    ok(prune("select", "--run", w / "img", "--scores", "el2n", "--method", "random", "--rate", "0.5", "--out",
             w / "img-keep.parquet"), code=0)
    run = w / "run"
    ok(prune("record", "--data", "digits", "--model", "mlp", "--epochs", "2", "--run", run), code=0)
    ok(prune("score", "--method", "el2n", "--run", run), code=0)
    ok(prune("select", "--run", run, "--scores", "el2n", "--method", "topk", "--rate", "0.5", "--out",
             w / "keep.parquet"), code=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", default="", help="only the cases whose name holds this text")
    args = ap.parse_args()
    w = Path(tempfile.mkdtemp(prefix="hostile-"))
    failed = 0
    try:
        setup(w)
        for name, fn in CASES:
            if args.k.lower() not in name.lower():
                continue
            try:
                status, text = "ok", fn(w)
            except Skipped as why:
                status, text = "skipped", str(why)
            except Failed as why:
                status, text = "FAILED", str(why)
                failed += 1
            print(f"{status:8} {name:55} {str(text)[:150]}", flush=True)
    finally:
        for m in reversed(MOUNTS):
            subprocess.run(["umount", str(m)], capture_output=True)
        shutil.rmtree(w, ignore_errors=True)
    print(f"\n{failed} of {len([c for c in CASES if args.k.lower() in c[0].lower()])} cases failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
