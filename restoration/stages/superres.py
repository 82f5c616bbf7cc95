"""Super-resolution to any scale from 1 to 8 with a fixed-scale network, plus a high-quality resize."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..tiling import Progress, run_tiled


def plan_passes(native: int, target: float) -> int:
    """How many times to run a x``native`` network for a x``target`` result (at least once).

    As many passes as fit under the target (x4 for 6.5 is one pass, x2 for 4 is two); the remainder is
    a resize, upward by less than one native step, or downward when the target is under the native
    scale (x4 network at 1.5 or 3 runs once, then shrinks).
    """
    if native <= 1:
        return 1
    return max(1, math.floor(math.log(target) / math.log(native) + 1e-9))


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of (N, C, H, W) to ``size`` (H, W), antialiased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    down = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=down).clamp_(0, 1)


def superres(
    x: torch.Tensor,
    model: Callable[[torch.Tensor], torch.Tensor],
    native: int,
    target: float,
    *,
    tile: int,
    pad: int,
    batch: int = 1,
    progress: Progress | None = None,
) -> torch.Tensor:
    """``x`` (N, 3, H, W) upscaled to round(H*target) x round(W*target) with ``model``."""
    h, w = x.shape[-2:]
    size = (max(1, round(h * target)), max(1, round(w * target)))
    passes = plan_passes(native, target)
    out = x
    for p in range(passes):
        def step(done: int, total: int, p: int = p) -> None:
            if progress:
                progress(p * total + done, passes * total)

        out = run_tiled(model, out, native, tile, pad, batch=batch, progress=step)
    return resize(out, size)
