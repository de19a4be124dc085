"""``prune export``: materialise a manifest's kept samples of a file-backed data set.

``--mode symlink`` (default) or ``copy`` builds a folder with the data set's
own layout for the kept training files (``train/<class>/<file>``), plus the
data set's ``val/`` (linked, or copied with ``--mode copy``), so that the
folder is itself an image folder: ``prune record --data imagefolder
--data-dir DIR`` trains on the subset. ``--mode list`` writes one absolute
path per line instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

from pipeline.io import PruneError, read_json, read_manifest, write_json
from pipeline.io.folders import staged

MODES = ("symlink", "copy", "list")
MARKER = "export.json"


def is_export(path: Path) -> bool:
    return (path / MARKER).is_file()


def _data_root(manifest, data_dir: str | None, where: str) -> Path:
    if data_dir is not None:
        root = Path(data_dir)
    else:
        run = manifest.meta.get("source_run")
        info = read_json(Path(run) / "run.json") if run and (Path(run) / "run.json").exists() else {}
        if not info.get("data_dir"):
            raise PruneError(f"{where} does not say where its data set's files are; pass --data-dir")
        root = Path(info["data_dir"])
    if not root.is_dir():
        raise PruneError(f"--data-dir {root} is not a folder")
    return root.resolve()


def export(*, manifest: Path, to: Path, mode: str = "symlink", data_dir: str | None = None, force: bool = False,
           log: Callable[[str], None] = print) -> dict:
    if mode not in MODES:
        raise PruneError(f"unknown --mode {mode!r}; choose one of: {', '.join(MODES)}")
    m = read_manifest(manifest)
    if m.files is None:
        raise PruneError(f"{manifest} lists no files: export needs a manifest of a file-backed data set "
                         "(e.g. --data imagefolder), selected from a run recorded by this version of prune")
    root = _data_root(m, data_dir, str(manifest))
    sources = [root / p for p in m.files]
    missing = [s for s in sources if not s.is_file()]
    if missing:
        raise PruneError(f"{len(missing)} of the manifest's {len(sources)} files are not under {root} "
                         f"(e.g. {missing[0]}); pass the data set's folder with --data-dir")
    summary = {"manifest": str(manifest), "mode": mode, "data_dir": str(root), "n_kept": int(len(m.sample)),
               "method": m.meta.get("method"), "rate": m.meta.get("rate"), "fingerprint": m.fingerprint}
    to = Path(to)
    if mode == "list":
        if to.is_dir():
            raise PruneError(f"--to {to} is a folder; with --mode list it names the file to write")
        if (to.exists() or to.is_symlink()) and not force:
            raise PruneError(f"--to {to} exists; pass --force to replace it, or name another file")
        from pipeline.io.atomic import atomic_path

        with atomic_path(to) as tmp:
            tmp.write_text("".join(f"{s}\n" for s in sources))
        log(f"wrote {to}: {len(sources)} files")
        return summary
    with staged(to, what="prune export", recognise=is_export, force=force, flag="--to") as partial:
        put = os.symlink if mode == "symlink" else shutil.copy2
        for src, rel in zip(sources, m.files):
            dst = partial / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            put(src, dst)
        if (root / "val").is_dir():  # the held-out split goes along, whole: the folder is an image folder itself
            if mode == "symlink":
                os.symlink(root / "val", partial / "val", target_is_directory=True)
            else:
                shutil.copytree(root / "val", partial / "val")
        write_json(partial / MARKER, summary)
    log(f"wrote {to}: {len(sources)} training files ({mode}){', with val/' if (root / 'val').is_dir() else ''}")
    return summary
