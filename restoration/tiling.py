"""Tiled inference for any model stage: overlap, blended seams, out-of-memory back-off.

``run_tiled(model, x, scale, tile, overlap)`` cuts ``x`` (N, C, H, W) into the fewest tiles of at most
``tile`` pixels that overlap by at least ``overlap`` pixels (each no larger than that needs), runs
``model`` on them (several at once when ``batch`` > 1), and blends the outputs: inside every overlap
the outer quarter of each tile is ignored and the middle half cross-fades linearly, so the
zero-padding artefacts at tile borders never reach the result and no seam shows. On a CUDA
out-of-memory error it goes one piece at a time, then halves the tile and does the image again;
below ``MIN_TILE`` an ``OutOfMemoryError`` says what to try. ``plan_tiles`` picks the tile and the
pieces per call on a GPU from a memory budget.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable

import torch

from .errors import OutOfMemoryError

log = logging.getLogger(__name__)

MIN_TILE = 32
# Peak activation bytes per input pixel at fp32, measured on the CPU with the full-size networks by
# `python benchmarks/activation_memory.py` (two runs: x4plus 14.9-16.5 kB, x4plus-anime 14.2 kB,
# x2plus 5.0-5.7 kB, general-x4v3 1.8-2.0 kB, animevideov3 1.5-1.8 kB); half of it at fp16 or bf16,
# and 30 % more for the CUDA allocator's rounding and cuDNN's workspaces.
_BYTES_PER_PIXEL = {("ESRGAN", 4): 16000, ("ESRGAN", 2): 6000, ("ESRGAN", 1): 3000, ("Compact", 0): 2000}
_ALLOCATOR_MARGIN = 1.3
_MAX_AUTO_TILE = 2048
_MAX_BATCH = 16
_DEFAULT_BUDGET_GB = 6.0
_CPU_ACC_LIMIT = 2 << 30  # accumulate outputs larger than 2 GiB in host memory

Progress = Callable[[int, int], None]


def _layout(length: int, tile: int, overlap: int) -> tuple[int, list[int]]:
    """Edge and origins of the tiles along one axis.

    The fewest tiles of at most ``tile`` pixels whose neighbours overlap by at least ``overlap``, each
    only as large as that needs (rounded up to a multiple of 8), spread evenly. A 600 px side with
    512 px tiles and a 64 px overlap gets two 336 px tiles, not two 512 px ones that redo 70 % of it.
    """
    if length <= tile:
        return length, [0]
    count = max(2, math.ceil((length - overlap) / max(1, tile - overlap)))
    edge = math.ceil((length + (count - 1) * overlap) / count)
    edge = min(tile, edge + (-edge) % 8)
    return edge, [round(i * (length - edge) / (count - 1)) for i in range(count)]


def _ramp(starts: list[int], size: int, index: int, scale: int, device: torch.device) -> torch.Tensor:
    """1-D blending weights (length size*scale) of tile ``index`` along one axis."""
    n = size * scale
    w = torch.ones(n, device=device)
    pos = torch.arange(n, device=device, dtype=torch.float32) + 0.5
    if index > 0:  # overlap with the previous tile: [starts[i], prev_end)
        ov = (starts[index - 1] + size - starts[index]) * scale
        if ov > 0:
            w = torch.minimum(w, ((pos - ov / 4) / (ov / 2)).clamp(0, 1))
    if index < len(starts) - 1:  # overlap with the next tile: [next_start, end)
        ov = (starts[index] + size - starts[index + 1]) * scale
        if ov > 0:
            w = torch.minimum(w, (((n - pos) - ov / 4) / (ov / 2)).clamp(0, 1))
    return w


def gpu_budget(device: torch.device) -> int:
    """Bytes of activations one stage may plan for on ``device``.

    The smaller of half the memory free now and ``RESTORATION_GPU_MEMORY_GB`` (default 6), so that a
    4000x3000 photo at x4 stays within about 8 GB whatever the card, and other programs keep theirs.
    """
    free, _ = torch.cuda.mem_get_info(device)
    try:
        cap = float(os.environ.get("RESTORATION_GPU_MEMORY_GB", _DEFAULT_BUDGET_GB))
    except ValueError:
        cap = _DEFAULT_BUDGET_GB
    if not cap > 0:
        cap = _DEFAULT_BUDGET_GB
    return int(min(free * 0.5, cap * 2**30))


def bytes_per_pixel(architecture: str, scale: int, dtype_bytes: int) -> float:
    """Estimated peak activation bytes per input pixel of one network call."""
    key = (architecture, 0 if architecture == "Compact" else scale)
    return _BYTES_PER_PIXEL.get(key, 15000) * dtype_bytes / 4 * _ALLOCATOR_MARGIN


def plan_tiles(
    architecture: str, scale: int, device: torch.device, size: tuple[int, int], *,
    default: int, dtype_bytes: int = 2, tile: int = 0,
) -> tuple[int, int]:
    """(tile edge, pieces per call) for an image of ``size`` (H, W) on ``device``.

    On CUDA the tile is the largest square whose activations fit ``gpu_budget`` (``tile`` if given),
    and as many pieces (tiles, or whole frames when they fit) go into one call as the budget holds.
    Elsewhere: ``tile`` or the model's ``default``, one piece at a time.
    """
    if device.type != "cuda":
        return (tile or default), 1
    budget = gpu_budget(device)
    per_px = bytes_per_pixel(architecture, scale, dtype_bytes)
    if not tile:
        edge = int(math.sqrt(budget / per_px))
        tile = max(MIN_TILE, min(_MAX_AUTO_TILE, edge // 8 * 8))
    piece = min(tile, size[0]) * min(tile, size[1])
    return tile, max(1, min(_MAX_BATCH, int(budget // (piece * per_px))))


def run_tiled(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int = 32,
    *,
    batch: int = 1,
    progress: Progress | None = None,
) -> torch.Tensor:
    """``model`` applied to ``x`` (N, C, H, W) tile by tile; returns (N, C', H*scale, W*scale).

    ``tile`` 0 runs the whole image at once (and falls back to tiles if that runs out of memory).
    ``batch`` is how many pieces go into one call: whole images of ``x`` when they fit in a tile,
    else tiles (each carrying all N images). Out of memory, it first goes one piece at a time, then
    halves the tile.
    """
    _, _, h, w = x.shape
    while True:
        try:
            if tile <= 0 or (h <= tile and w <= tile):
                return _whole_pass(model, x, batch, progress)
            return _tiled_pass(model, x, scale, tile, overlap, batch, progress)
        except torch.OutOfMemoryError:
            if x.is_cuda:
                torch.cuda.empty_cache()
            if batch > 1:
                log.warning("out of memory with %d pieces per call; retrying one at a time", batch)
                batch = 1
                continue
            current = max(h, w) if tile <= 0 else tile
            new = max(current // 2, MIN_TILE)
            if current <= MIN_TILE:
                raise OutOfMemoryError(
                    f"out of GPU memory on a {w}x{h} image even with {MIN_TILE}px tiles: close other "
                    "GPU programs, use a smaller image or upscale, or run with device='cpu'"
                ) from None
            log.warning("out of memory with tile=%s; retrying with tile=%s", tile or "whole", new)
            tile = new


def _whole_pass(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int, progress: Progress | None
) -> torch.Tensor:
    """``model`` on ``x`` in chunks of ``batch`` images."""
    n = x.shape[0]
    step = max(1, batch)
    parts = []
    for i in range(0, n, step):
        parts.append(model(x[i : i + step]))
        if progress:
            progress(min(n, i + step), n)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _tiled_pass(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    batch: int,
    progress: Progress | None,
) -> torch.Tensor:
    n, _, h, w = x.shape
    overlap = min(overlap, tile // 2)
    th, ys = _layout(h, tile, overlap)
    tw, xs = _layout(w, tile, overlap)
    boxes = [(iy, ix) for iy in range(len(ys)) for ix in range(len(xs))]
    per_call = max(1, batch // n)  # each tile carries all n images
    out: torch.Tensor | None = None
    wsum: torch.Tensor | None = None
    done = 0
    for b0 in range(0, len(boxes), per_call):
        group = boxes[b0 : b0 + per_call]
        tiles = torch.cat(
            [x[:, :, ys[iy] : ys[iy] + th, xs[ix] : xs[ix] + tw] for iy, ix in group], dim=0
        )
        res = model(tiles)
        if out is None:
            c = res.shape[1]
            acc_dev = x.device
            if n * c * h * w * scale * scale * 4 > _CPU_ACC_LIMIT:
                acc_dev = torch.device("cpu")
            out = torch.zeros(n, c, h * scale, w * scale, device=acc_dev)
            wsum = torch.zeros(1, 1, h * scale, w * scale, device=acc_dev)
        assert wsum is not None
        res = res.to(out.device)
        for k, (iy, ix) in enumerate(group):
            wy = _ramp(ys, th, iy, scale, out.device)
            wx = _ramp(xs, tw, ix, scale, out.device)
            wt = (wy[:, None] * wx[None, :])[None, None]
            y0, x0 = ys[iy] * scale, xs[ix] * scale
            sl = (slice(None), slice(None), slice(y0, y0 + th * scale), slice(x0, x0 + tw * scale))
            out[sl] += res[k * n : (k + 1) * n] * wt
            wsum[sl] += wt
            done += 1
            if progress:
                progress(done, len(boxes))
    assert out is not None and wsum is not None
    return out / wsum.clamp(min=1e-8)
