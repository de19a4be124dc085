"""Batch augmentation: random crop with zero padding plus random horizontal flip."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """Crop each image of `x` (B, C, H, W) at a random offset of its zero-padded copy, flip half.

    Equivalent per image to torchvision's `RandomCrop(size, padding)` followed by
    `RandomHorizontalFlip()`, but done as one gather over the whole batch on
    `x.device`. The padding is applied to the already normalised batch, so it
    fills with the data set mean rather than black. Random numbers come from
    `generator` (drawn on its own device, then moved), so a seed fixes the result.
    """
    import torch
    import torch.nn.functional as F

    b, _, h, w = x.shape
    gdev = generator.device
    dy = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=gdev)
    dx = torch.randint(0, 2 * padding + 1, (b,), generator=generator, device=gdev)
    flip = torch.randint(0, 2, (b,), generator=generator, device=gdev)
    # one asynchronous copy to x's device: a blocking copy per draw would stall the host every batch
    dy, dx, flip = torch.stack([dy, dx, flip]).to(x.device, non_blocking=True)
    flip = flip.bool()

    padded = F.pad(x, (padding, padding, padding, padding))
    rows = dy[:, None] + torch.arange(h, device=x.device)
    cols = dx[:, None] + torch.arange(w, device=x.device)
    # A flipped crop reads the same columns right to left, so the flip costs nothing extra.
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(b, device=x.device)[:, None, None]
    # Advanced indices around the channel slice put the channel axis last: (B, H, W, C).
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()
