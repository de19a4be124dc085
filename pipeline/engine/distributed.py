"""DDP through PyTorch's own launcher: ``torchrun --nproc-per-node K -m pipeline.cli record|train ...``.

torchrun starts K processes and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``
and the rendezvous address; :func:`setup` joins them into one process group
(``nccl`` on GPUs, ``gloo`` on CPUs). The loop (``pipeline.engine.loop.fit``)
then, at every step, takes the same global batch on every rank (every rank
draws the same shuffled order from the same seed), trains on its own shard
of it (positions ``rank::world``, as ``DistributedSampler`` shards an epoch)
through ``DistributedDataParallel``, and gathers every shard's sample ids,
logits and per-sample losses before the hooks see them. So the recording
hook sees each sample exactly once per epoch, as in one process, and a
dynamic plan sees every loss and picks the same subset on every rank. Only
rank 0 writes files; the others stay silent.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class World:
    """This process's place in the run: ``rank`` of ``size`` (1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """The process that writes and speaks (rank 0)."""
        return self.rank == 0


_WORLD = World()


def launched() -> bool:
    """Whether torchrun (or another launcher setting ``WORLD_SIZE`` > 1) started this process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def world() -> World:
    return _WORLD


def setup(device: str) -> tuple[World, str]:
    """Join the process group when launched by torchrun; returns the world and the device this rank trains on.

    ``--device auto`` or ``cuda`` under torchrun means ``cuda:LOCAL_RANK``
    (one GPU per process, as torchrun's convention). Idempotent.
    """
    global _WORLD
    if not launched():
        return _WORLD, device
    import torch.distributed as dist

    from pipeline.io import PruneError

    rank, size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and device in ("auto", "cuda") or device.startswith("cuda")
    if cuda:
        if not torch.cuda.is_available():
            raise PruneError(f"--device {device}: no CUDA device is available here; use --device cpu")
        if local >= torch.cuda.device_count():
            raise PruneError(f"torchrun started {size} processes on this node but it has "
                             f"{torch.cuda.device_count()} GPU(s): use --nproc-per-node {torch.cuda.device_count()}")
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    else:
        device = "cpu"
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    _WORLD = World(rank=rank, size=size, local_rank=local)
    return _WORLD, device


def teardown() -> None:
    """Leave the process group (after every rank has finished)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    import torch.distributed as dist

    if _WORLD.distributed and dist.is_initialized():
        dist.barrier()


def broadcast_object(obj):
    """Rank 0's ``obj`` on every rank (e.g. an error line, so every rank stops the same way)."""
    import torch.distributed as dist

    if not _WORLD.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shard(pos: np.ndarray) -> np.ndarray:
    """This rank's share of one global batch (positions ``rank::world``)."""
    return pos[_WORLD.rank::_WORLD.size] if _WORLD.distributed else pos


def gather(idx: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Every rank's ``(idx, logits, loss)`` of one step, concatenated in rank order (the same on every rank).

    Shards differ in size by at most one sample; they are padded to the
    largest for ``all_gather`` and the padding is cut off again.
    """
    import torch.distributed as dist

    if not _WORLD.distributed:
        return idx, logits, loss
    n = torch.tensor([len(idx)], device=logits.device)
    sizes = [torch.zeros_like(n) for _ in range(_WORLD.size)]
    dist.all_gather(sizes, n)
    sizes = [int(s) for s in sizes]
    m = max(sizes)

    def pad(t: torch.Tensor) -> torch.Tensor:
        if len(t) == m:
            return t.contiguous()
        return torch.cat([t, t.new_zeros((m - len(t), *t.shape[1:]))])

    out = []
    for t in (idx.to(logits.device), logits, loss):
        parts = [torch.empty((m, *t.shape[1:]), dtype=t.dtype, device=t.device) for _ in range(_WORLD.size)]
        dist.all_gather(parts, pad(t))
        out.append(torch.cat([p[:k] for p, k in zip(parts, sizes)]))
    return out[0], out[1], out[2]


def all_sum(value: torch.Tensor) -> torch.Tensor:
    """The sum of ``value`` over the ranks (a copy; the same on every rank)."""
    import torch.distributed as dist

    if not _WORLD.distributed:
        return value
    value = value.clone()
    dist.all_reduce(value)
    return value


def check_same(ids: np.ndarray, what: str) -> None:
    """Raise unless every rank holds the same ``ids`` (the epoch's plan): a rank drifting apart is a bug, said loudly."""
    import hashlib

    if not _WORLD.distributed:
        return
    digest = hashlib.sha256(np.ascontiguousarray(ids, dtype=np.int64).tobytes()).hexdigest()
    if broadcast_object(digest) != digest:
        raise RuntimeError(f"rank {_WORLD.rank} drew other {what} than rank 0")
