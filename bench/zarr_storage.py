"""Zarr storage of the logits: chunking, sharding and compression, timed for write and read.

Writes E epochs of (N, C) float16 logits the way `prune record` does (one epoch
slice at a time), then reads them back the two ways scores do: blocks of
samples across all epochs (streamed scores) and whole epochs. Synthetic logits
are smoother than real ones and compress better; check a real run's ratio with
`du -sb RUN/trajectories.zarr/logits` against E·N·C·2 bytes.

    python bench/zarr_storage.py
"""
import numpy as np, zarr, time, tempfile, shutil
from zarr.codecs import ZstdCodec, BloscCodec
N,C,E=50000,100,40
rng=np.random.default_rng(0)
base=rng.standard_normal((N,C),dtype=np.float32)
configs={
 "chunk 10485, zstd (current)": dict(chunks=(1,1,10485,C)),
 "chunk 10485, no compression": dict(chunks=(1,1,10485,C), compressors=None),
 "shard 10485 / inner 1024, zstd": dict(chunks=(1,1,1024,C), shards=(1,1,10240,C)),
 "chunk 2048, zstd": dict(chunks=(1,1,2048,C)),
 "chunk 2048, no compression": dict(chunks=(1,1,2048,C), compressors=None),
}
for name,kw in configs.items():
    d=tempfile.mkdtemp(dir="/tmp")
    g=zarr.open_group(d+"/t.zarr",mode="w",zarr_format=3)
    a=g.create_array("logits",shape=(1,E,N,C),dtype="float16",fill_value=np.nan,**kw)
    t0=time.perf_counter()
    for e in range(E):
        a[0,e]=(base+0.3*e).astype(np.float16)
    tw=time.perf_counter()-t0
    import subprocess
    size=int(subprocess.check_output(["du","-sb",d]).split()[0])
    t0=time.perf_counter()
    for s in range(0,N,1677):
        b=np.asarray(a[:,:,s:s+1677,:],dtype=np.float32)
    tr=time.perf_counter()-t0
    t0=time.perf_counter()
    for e in range(E):
        b=np.asarray(a[0,e],dtype=np.float32)
    te=time.perf_counter()-t0
    print(f"{name:34s} write {tw:5.2f}s  size {size/2**20:6.0f} MiB  read by 1677 samples {tr:5.2f}s  read by epoch {te:5.2f}s")
    shutil.rmtree(d)
