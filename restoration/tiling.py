"""Tiled inference for any model stage: a kept core per tile, context cut away, out-of-memory back-off.

``run_tiled(model, x, scale, tile, pad)`` cuts ``x`` (N, C, H, W) into the fewest cores of at most
``tile`` pixels. Each core goes to ``model`` inside a window with ``pad`` pixels of context on every
side that has a neighbour (the window slides inward at the image's edges, so all windows have one
shape and can share a call); the output keeps only the core. No kept pixel comes from near a window
border, where the network sees zero padding, so no seam shows and nothing needs blending. On a CUDA
out-of-memory error it goes one piece at a time, then halves the tile and does the image again;
below ``MIN_TILE`` an ``OutOfMemoryError`` says what to try. ``plan_tiles`` picks the tile and the
pieces per call on a GPU from a memory budget.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterator

import torch

from . import config
from .arches import traits
from .errors import OutOfMemoryError
from .options import MIN_TILE

log = logging.getLogger(__name__)

# Activation memory per input pixel: each architecture's fp32 figure (``arches.Traits``), half of it
# at fp16 or bf16, and 30 % more for the CUDA allocator's rounding and cuDNN's workspaces.
_ALLOCATOR_MARGIN = 1.3
_MEASURED: dict[tuple[str, int, int], float] = {}  # (architecture, scale, bytes per value) -> bytes per pixel
_MAX_AUTO_TILE = 2048
_MAX_BATCH = 16
_CPU_ACC_LIMIT = 2 << 30  # accumulate outputs larger than 2 GiB in host memory

Progress = Callable[[float, int], None]  # (pieces done, a float inside a piece; pieces in all)
_inside = threading.local()


@contextlib.contextmanager
def reporting(fn: Callable[[float], None] | None) -> Iterator[None]:
    """While the block runs, ``tick(f)`` from this thread (a network's own blocks, see
    ``models.LoadedModel``) reports ``fn(f)``: how far, 0 to 1, the current call has come."""
    before = getattr(_inside, "fn", None)
    _inside.fn = fn
    try:
        yield
    finally:
        _inside.fn = before


def tick(fraction: float) -> None:
    """Report how far the running network call has come (see ``reporting``); nothing when no one asks."""
    fn = getattr(_inside, "fn", None)
    if fn is not None:
        fn(fraction)


def _call(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, progress: Progress | None,
          done: int, count: int, total: int) -> torch.Tensor:
    """``model(x)`` for pieces ``done`` .. ``done + count`` of ``total``, reporting inside the call."""
    if progress is None:
        return model(x)
    with reporting(lambda f: progress(done + f * count, total)):
        return model(x)


def _layout(length: int, tile: int, pad: int) -> tuple[int, list[int], list[int]]:
    """Windows along one axis: (edge, window starts, core cuts).

    Window ``i`` covers ``[starts[i], starts[i] + edge)`` and keeps ``[cuts[i], cuts[i + 1])``. There
    are as few windows as cores of at most ``tile`` allow; each is only as large as needed (a multiple
    of 8 where the image allows, never over ``tile + 2 * pad``), and every cut lies in the middle of two
    windows' overlap, so each kept pixel has at least ``pad`` pixels of context (the image's own edge
    aside). A side of at most ``tile + 2 * pad`` is one window.
    """
    if length <= tile + 2 * pad:
        return length, [0], [0, length]
    count = max(2, math.ceil((length - 2 * pad) / tile))
    edge = math.ceil((length + (count - 1) * 2 * pad) / count)
    edge = min(tile + 2 * pad, length, edge + (-edge) % 8)
    starts = [round(i * (length - edge) / (count - 1)) for i in range(count)]
    cuts = [0, *((a + edge + b) // 2 for a, b in zip(starts, starts[1:])), length]
    return edge, starts, cuts


def computed_pixels(size: tuple[int, int], tile: int, pad: int) -> int:
    """The pixels a network computes for a picture of ``size`` (H, W) cut into ``tile`` cores with
    ``pad`` of context (the context is computed and thrown away); ``tile`` 0: the picture whole."""
    if tile <= 0:
        return size[0] * size[1]
    (eh, ys, _), (ew, xs, _) = _layout(size[0], tile, pad), _layout(size[1], tile, pad)
    return eh * len(ys) * ew * len(xs)


def gpu_budget(device: torch.device) -> int:
    """Bytes of activations one stage may plan for on ``device``.

    The smaller of half the memory free now and ``RESTORATION_GPU_MEMORY_GB`` (default 6), so that a
    4000x3000 photo at x4 stays within about 8 GB whatever the card, and other programs keep theirs.
    Raises ``ConfigError`` for an unusable ``RESTORATION_GPU_MEMORY_GB``.
    """
    free, _ = torch.cuda.mem_get_info(device)
    cap = config.get("RESTORATION_GPU_MEMORY_GB")
    return int(min(free * 0.5, cap * 2**30))


def bytes_per_pixel(architecture: str, scale: int, dtype_bytes: int) -> float:
    """Peak activation bytes per input pixel of one network call: measured on this GPU (``measure``)
    where it was, else from the table of measured architectures, else a cautious 15 kB at fp32."""
    if (architecture, scale, dtype_bytes) in _MEASURED:
        return _MEASURED[architecture, scale, dtype_bytes]
    fp32 = traits(architecture).activation_bytes(scale)
    return (15000 if fp32 is None else fp32) * dtype_bytes / 4 * _ALLOCATOR_MARGIN


def known(architecture: str, scale: int, dtype_bytes: int) -> bool:
    """Whether the memory of this network is known (the table, or an earlier ``measure``)."""
    return traits(architecture).activation_bytes(scale) is not None or (architecture, scale, dtype_bytes) in _MEASURED


def measure(model: Callable[[torch.Tensor], torch.Tensor], architecture: str, scale: int, dtype_bytes: int,
            device: torch.device, side: int = 128) -> float:
    """Measure a network's peak activation bytes per input pixel once, with one small CUDA call, and
    keep it for ``bytes_per_pixel`` (an architecture the table has no figure for). Raises what the
    network raises."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    base = torch.cuda.memory_allocated(device)
    model(torch.rand(1, 3, side, side, device=device))
    torch.cuda.synchronize(device)
    per_px = max(1.0, (torch.cuda.max_memory_allocated(device) - base) / (side * side)) * _ALLOCATOR_MARGIN
    _MEASURED[architecture, scale, dtype_bytes] = per_px
    log.info("%s x%d: measured %.0f bytes of activations per input pixel", architecture, scale, per_px)
    return per_px


def plan_tiles(
    architecture: str, scale: int, device: torch.device, size: tuple[int, int], *,
    default: int, dtype_bytes: int = 2, tile: int = 0, pad: int = 0, budget: int | None = None,
) -> tuple[int, int]:
    """(tile core edge, pieces per call) for an image of ``size`` (H, W) on ``device``.

    On CUDA the window (core plus ``pad`` on each side) is the largest square whose activations fit
    ``budget`` (default ``gpu_budget``; ``tile`` if given), and as many pieces (windows, or whole frames
    when they fit) go into one call as the budget holds. Elsewhere: ``tile`` or the model's
    ``default``, one piece at a time. Raises ``ConfigError`` as ``gpu_budget`` does.
    """
    if device.type != "cuda":
        return (tile or default), 1
    budget = gpu_budget(device) if budget is None else budget
    per_px = bytes_per_pixel(architecture, scale, dtype_bytes)
    if not tile:
        edge = int(math.sqrt(budget / per_px))
        tile = max(MIN_TILE, min(_MAX_AUTO_TILE, (edge - 2 * pad) // 8 * 8))
    window = tile + 2 * pad
    piece = min(window, size[0]) * min(window, size[1])
    return tile, max(1, min(_MAX_BATCH, int(budget // (piece * per_px))))


class TilePlans:
    """The tile plans of one job on ``device`` (``options.tile``, ``options.tile_pad``): planned once per
    network and input size, so a video's or a batch's pieces keep one shape from the first to the last
    (what cuDNN's algorithm search and compiled graphs need). The GPU's memory budget is read once; a
    network whose memory per pixel is not known is measured first. Thread-safe."""

    def __init__(self, options: object, device: torch.device) -> None:
        self.tile, self.pad, self.device = options.tile, options.tile_pad, device
        self._plans: dict[tuple[int, tuple[int, int]], tuple[int, int]] = {}
        self._budget: int | None = None
        self._lock = threading.Lock()

    def plan(self, model: object, size: tuple[int, int]) -> tuple[int, int]:
        """(tile, pieces per call) for an input of ``size`` (H, W) to ``model`` (a ``LoadedModel``)."""
        key = (id(model), tuple(size))
        with self._lock:
            if key not in self._plans:
                if self._budget is None and self.device.type == "cuda":
                    self._budget = gpu_budget(self.device)
                arch, width = model.spec.architecture, torch.finfo(model.dtype).bits // 8
                if self.device.type == "cuda" and not known(arch, model.scale, width):
                    measure(model, arch, model.scale, width, self.device)
                self._plans[key] = plan_tiles(arch, model.scale, self.device, tuple(size), default=model.spec.tile,
                                              dtype_bytes=width, tile=self.tile, pad=self.pad, budget=self._budget)
            return self._plans[key]


def run_tiled(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    pad: int = 32,
    *,
    batch: int = 1,
    progress: Progress | None = None,
) -> torch.Tensor:
    """``model`` applied to ``x`` (N, C, H, W) tile by tile; returns (N, C', H*scale, W*scale).

    ``tile`` is the edge of the kept core, ``pad`` the context around it (see the module's doc);
    ``tile`` 0 runs the whole image at once (and falls back to tiles if that runs out of memory).
    ``batch`` is how many pieces go into one call: whole images of ``x`` when they fit in one window,
    else windows (each carrying all N images). Out of memory, it first goes one piece at a time, then
    halves the tile, then the context. Raises ``OutOfMemoryError`` when even ``MIN_TILE`` with no
    context does not fit.
    """
    _, _, h, w = x.shape
    while True:
        try:
            if tile <= 0 or (h <= tile + 2 * pad and w <= tile + 2 * pad):
                return _whole_pass(model, x, batch, progress)
            return _tiled_pass(model, x, scale, tile, pad, batch, progress)
        except torch.OutOfMemoryError:
            if x.is_cuda:
                torch.cuda.empty_cache()
            if batch > 1:
                log.warning("out of memory with %d pieces per call; retrying one at a time", batch)
                batch = 1
                continue
            tile, pad = _smaller(tile, pad, h, w)


def _smaller(tile: int, pad: int, h: int, w: int) -> tuple[int, int]:
    """The next (tile, pad) to try after running out of memory: half the tile down to ``MIN_TILE``,
    then half the context (seams may start to show, so it says so), then ``OutOfMemoryError``."""
    current = max(h, w) if tile <= 0 else tile
    if current > MIN_TILE:
        new = max(current // 2, MIN_TILE)
        log.warning("out of memory with tile=%s; retrying with tile=%s", tile or "whole", new)
        return new, pad
    if pad > 0:
        log.warning("out of memory with %d px tiles and %d px of context; retrying with %d px of context "
                    "(tile seams may show)", MIN_TILE, pad, pad // 2)
        return MIN_TILE, pad // 2
    raise OutOfMemoryError(
        f"out of GPU memory on a {w}x{h} image even with {MIN_TILE}px tiles: close other "
        "GPU programs, use a smaller image or upscale, or run with device='cpu'"
    ) from None


def _whole_pass(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int, progress: Progress | None
) -> torch.Tensor:
    """``model`` on ``x`` in chunks of ``batch`` images."""
    n = x.shape[0]
    step = max(1, batch)
    parts = []
    for i in range(0, n, step):
        parts.append(_call(model, x[i : i + step], progress, i, min(step, n - i), n))
        if progress:
            progress(min(n, i + step), n)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _tiled_pass(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    pad: int,
    batch: int,
    progress: Progress | None,
) -> torch.Tensor:
    n, _, h, w = x.shape
    th, ys, cy = _layout(h, tile, pad)
    tw, xs, cx = _layout(w, tile, pad)
    boxes = [(iy, ix) for iy in range(len(ys)) for ix in range(len(xs))]
    per_call = max(1, batch // n)  # each window carries all n images
    out: torch.Tensor | None = None
    for b0 in range(0, len(boxes), per_call):
        group = boxes[b0 : b0 + per_call]
        windows = torch.cat([x[:, :, ys[iy] : ys[iy] + th, xs[ix] : xs[ix] + tw] for iy, ix in group])
        res = _call(model, windows, progress, b0, len(group), len(boxes))
        if out is None:  # outputs over 2 GiB are gathered in host memory
            big = n * res.shape[1] * h * w * scale * scale * 4 > _CPU_ACC_LIMIT
            out = torch.empty(n, res.shape[1], h * scale, w * scale, device="cpu" if big else x.device)
        for k, (iy, ix) in enumerate(group):
            y0, y1, x0, x1 = cy[iy] * scale, cy[iy + 1] * scale, cx[ix] * scale, cx[ix + 1] * scale
            oy, ox = ys[iy] * scale, xs[ix] * scale
            out[:, :, y0:y1, x0:x1] = res[k * n : (k + 1) * n, :, y0 - oy : y1 - oy, x0 - ox : x1 - ox]
            if progress:
                progress(b0 + k + 1, len(boxes))
    assert out is not None
    return out
