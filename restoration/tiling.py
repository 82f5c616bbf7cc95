"""Tiled inference for any model stage: overlap, blended seams, out-of-memory back-off.

``run_tiled(model, x, scale, tile, overlap)`` cuts ``x`` (N, C, H, W) into tiles of ``tile`` pixels
that overlap by at least ``overlap`` pixels, runs ``model`` on each (several at once when
``batch`` > 1), and blends the outputs: inside every overlap the outer quarter of each tile is ignored
and the middle half cross-fades linearly, so the zero-padding artefacts at tile borders never reach the
result and no seam shows. On a CUDA out-of-memory error the tile size is halved and the image is
done again; below ``MIN_TILE`` an ``OutOfMemoryError`` says what to try.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch

from .errors import OutOfMemoryError

log = logging.getLogger(__name__)

MIN_TILE = 32
# Rough peak activation bytes per input pixel at fp16, used to pick a tile from free GPU memory.
_BYTES_PER_PIXEL = {"ESRGAN": 6000, "Compact": 2500}
_MAX_AUTO_TILE = 2048
_CPU_ACC_LIMIT = 2 << 30  # accumulate outputs larger than 2 GiB in host memory

Progress = Callable[[int, int], None]


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins spread evenly so that neighbours overlap by at least ``overlap`` pixels."""
    if length <= tile:
        return [0]
    count = math.ceil((length - overlap) / max(1, tile - overlap))
    count = max(2, count)
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


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


def auto_tile(architecture: str, device: torch.device, default: int, dtype_bytes: int = 2) -> int:
    """A tile edge for ``device``: from free memory on CUDA, the spec's default elsewhere."""
    if device.type != "cuda":
        return default
    free, _ = torch.cuda.mem_get_info(device)
    per_px = _BYTES_PER_PIXEL.get(architecture, 6000) * dtype_bytes / 2
    edge = int(math.sqrt(free * 0.5 / per_px))
    edge = max(MIN_TILE, min(_MAX_AUTO_TILE, edge // 8 * 8))
    return edge


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
    """
    _, _, h, w = x.shape
    while True:
        try:
            if tile <= 0 or (h <= tile and w <= tile):
                out = model(x)
                if progress:
                    progress(1, 1)
                return out
            return _tiled_pass(model, x, scale, tile, overlap, batch, progress)
        except torch.OutOfMemoryError:
            if x.is_cuda:
                torch.cuda.empty_cache()
            current = max(h, w) if tile <= 0 else tile
            new = max(current // 2, MIN_TILE)
            if current <= MIN_TILE:
                raise OutOfMemoryError(
                    f"out of GPU memory on a {w}x{h} image even with {MIN_TILE}px tiles: close other "
                    "GPU programs, use a smaller image or upscale, or run with device='cpu'"
                ) from None
            log.warning("out of memory with tile=%s; retrying with tile=%s", tile or "whole", new)
            tile = new
            batch = 1


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
    ys, xs = _starts(h, tile, overlap), _starts(w, tile, overlap)
    th, tw = min(tile, h), min(tile, w)
    boxes = [(iy, ix) for iy in range(len(ys)) for ix in range(len(xs))]
    out: torch.Tensor | None = None
    wsum: torch.Tensor | None = None
    done = 0
    for b0 in range(0, len(boxes), max(1, batch)):
        group = boxes[b0 : b0 + max(1, batch)]
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
