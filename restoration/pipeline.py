"""The restoration pipeline: denoise -> super-resolve -> colorize -> sharpen.

``restore_tensor`` is the whole data flow on tensors; ``restore_image`` adds decoding, metrics and the
record of what was done; ``restore_file`` also writes the result. Progress is reported through a
callback ``progress(fraction, message)``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__, metrics, stages
from .media import ImageData, ImageInput, read_image, write_image
from .models import load_model, resolve_device
from .options import RestoreOptions
from .tiling import plan_tiles

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]

_COLOR_BATCH = 8  # frames per pass through the colorization network on a GPU

# Share of the progress bar each stage gets when it runs.
_WEIGHTS = {"denoise": 1.0, "superres": 6.0, "colorize": 2.0, "sharpen": 0.3}


@dataclass
class StageReport:
    """What ``restore_tensor`` did: stages run, models used, seconds per stage, tile used."""

    stages: list[str] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    colorized: bool = False
    tile: int = 0
    device: str = "cpu"


@dataclass
class RestoreResult:
    """``image``: the restored ``ImageData``; ``metrics``: see ``metrics.compute``; ``report``."""

    image: ImageData
    metrics: dict[str, Any]
    report: StageReport
    options: RestoreOptions

    def record(self) -> dict[str, Any]:
        """The small record written into the output file's metadata."""
        return {
            "software": f"restoration {__version__}",
            "options": self.options.to_dict(),
            "stages": self.report.stages,
            "models": self.report.models,
        }


class _Progress:
    def __init__(self, fn: ProgressFn | None, plan: list[str]):
        self.fn = fn
        self.total = sum(_WEIGHTS[s] for s in plan) or 1.0
        self.base = 0.0

    def stage(self, name: str) -> Callable[[int, int], None]:
        start, weight = self.base, _WEIGHTS[name]
        self.base += weight

        def report(done: int, total: int) -> None:
            if self.fn:
                frac = (start + weight * done / max(1, total)) / self.total
                self.fn(min(1.0, frac), f"{name} {done}/{total}")

        report(0, 1)
        return report


def _plan(options: RestoreOptions, monochrome: bool) -> list[str]:
    plan = []
    if options.denoise > 0:
        plan.append("denoise")
    if options.does_superres:
        plan.append("superres")
    if options.colorize == "on" or (options.colorize == "auto" and monochrome):
        plan.append("colorize")
    if options.sharpen > 0:
        plan.append("sharpen")
    return plan


def restore_tensor(
    x: torch.Tensor,
    options: RestoreOptions,
    *,
    alpha: torch.Tensor | None = None,
    progress: ProgressFn | None = None,
    monochrome: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, StageReport]:
    """Run the stages ``options`` asks for on ``x`` (N, 3, H, W) float in [0, 1].

    ``alpha`` (N, 1, H, W) is carried along: the super-resolution stage runs on premultiplied colour
    and the alpha plane is resized with it, so edges get no dark fringe. ``monochrome`` overrides the
    grayscale detection of ``colorize='auto'``. Returns (rgb, alpha, report), float32 on the device.
    """
    device = resolve_device(options.device)
    report = StageReport(device=str(device))
    x = x.to(device=device, dtype=torch.float32)
    if alpha is not None:
        alpha = alpha.to(device=device, dtype=torch.float32)
    if monochrome is None:
        monochrome = options.colorize == "auto" and stages.is_monochrome(x[:1])
    plan = _plan(options, monochrome)
    bar = _Progress(progress, plan)
    report.stages = plan

    def timed(name: str) -> Callable[[], None]:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()

        def stop() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            report.seconds[name] = time.perf_counter() - t0

        return stop

    if "denoise" in plan:
        step = bar.stage("denoise")
        stop = timed("denoise")
        x = stages.denoise(x, options.denoise)
        stop()
        step(1, 1)

    if "superres" in plan:
        step = bar.stage("superres")
        stop = timed("superres")
        model = load_model(options.model, options.device, options.precision)
        grow = model.scale ** (stages.plan_passes(model.scale, options.upscale) - 1)  # last pass's input
        tile, pieces = plan_tiles(
            model.spec.architecture, model.scale, device, (x.shape[-2] * grow, x.shape[-1] * grow),
            default=model.spec.tile, dtype_bytes=torch.finfo(model.dtype).bits // 8, tile=options.tile,
        )
        report.tile = tile
        report.models["superres"] = model.spec.id
        src = x * alpha if alpha is not None else x
        out = stages.superres(
            src, model, model.scale, options.upscale,
            tile=tile, overlap=options.tile_overlap, batch=pieces, progress=step,
        )
        if alpha is not None:
            alpha = stages.resize(alpha, tuple(out.shape[-2:])).clamp_(0, 1)
            out = torch.where(alpha > 1 / 255, out / alpha.clamp(min=1 / 255), out).clamp_(0, 1)
        x = out
        stop()

    if "colorize" in plan:
        step = bar.stage("colorize")
        stop = timed("colorize")
        cmodel = load_model(options.color_model, options.device, options.precision)
        report.models["colorize"] = cmodel.spec.id
        per_call = _COLOR_BATCH if device.type == "cuda" else 1  # a CPU gains nothing from batches
        x = torch.cat([stages.colorize(x[i : i + per_call], cmodel, cmodel.spec.input_size or 512)
                       for i in range(0, x.shape[0], per_call)])
        report.colorized = True
        stop()
        step(1, 1)

    if "sharpen" in plan:
        step = bar.stage("sharpen")
        stop = timed("sharpen")
        x = stages.sharpen(x, options.sharpen)
        stop()
        step(1, 1)

    if progress:
        progress(1.0, "done")
    return x, alpha, report


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.permute(2, 0, 1)[None] if t.ndim == 3 else t[None, None]


def _to_array(t: torch.Tensor) -> np.ndarray:
    return t[0].permute(1, 2, 0).float().cpu().numpy()


def restore_image(
    image: ImageInput | ImageData,
    options: RestoreOptions | None = None,
    *,
    reference: ImageInput | ImageData | None = None,
    progress: ProgressFn | None = None,
) -> RestoreResult:
    """Restore one image (path, bytes, PIL image, array or ``ImageData``).

    Returns a ``RestoreResult`` with the restored ``ImageData`` (alpha, bit depth, ICC and EXIF kept;
    grayscale stays grayscale unless colorized) and its metrics. Raises ``ImageReadError``,
    ``OptionError``, ``UnknownModelError``, ``WeightsUnavailableError``, ``ChecksumMismatchError``,
    ``ModelLoadError`` or ``OutOfMemoryError``, each with a message naming the problem.
    """
    options = options or RestoreOptions()
    src = image if isinstance(image, ImageData) else read_image(image)
    _check_output_size(src, options)
    t0 = time.perf_counter()
    alpha = _to_tensor(src.alpha) if src.alpha is not None else None
    mono = src.grayscale or None
    out, out_alpha, report = restore_tensor(
        _to_tensor(src.pixels), options, alpha=alpha, progress=progress, monochrome=mono
    )
    pixels = np.clip(_to_array(out), 0, 1)
    new_alpha = _to_array(out_alpha)[..., 0] if out_alpha is not None else None
    report.seconds["total"] = time.perf_counter() - t0
    result_img = replace(
        src,
        pixels=pixels,
        alpha=new_alpha,
        grayscale=src.grayscale and not report.colorized,
    )
    ref = None
    if reference is not None:
        ref = (reference if isinstance(reference, ImageData) else read_image(reference)).pixels
    m = metrics.compute(pixels, src.pixels, ref, report.seconds)
    m["stages"] = report.stages
    m["models"] = report.models
    m["device"] = report.device
    m["warnings"] = []
    if src.frames > 1:
        hint = ("; to restore every frame, restore it as a video (the Video tab, or `restoration video`)"
                if src.name.lower().endswith(".gif") else "")
        m["warnings"].append(f"{src.name}: only the first of {src.frames} frames was restored{hint}")
    return RestoreResult(result_img, m, report, options)


def _check_output_size(src: ImageData, options: RestoreOptions) -> None:
    """Refuse, before any work, a result larger than the pixel limit."""
    from .errors import ImageReadError
    from .media import max_pixels

    if not options.upscale:
        return
    w, h = src.size
    ow, oh = max(1, round(w * options.upscale)), max(1, round(h * options.upscale))
    if ow * oh > max_pixels():
        raise ImageReadError(
            f"{src.name}: {w}x{h} at x{options.upscale:g} would be {ow}x{oh} = {ow * oh:,} pixels, over the limit "
            f"of {max_pixels():,}; use a smaller upscale or raise RESTORATION_MAX_PIXELS"
        )


def restore_file(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    options: RestoreOptions | None = None,
    *,
    progress: ProgressFn | None = None,
) -> RestoreResult:
    """Restore the image file ``src`` and write it to ``dst`` (format from ``options`` or the name)."""
    options = options or RestoreOptions()
    from .media import format_for

    format_for(dst, options.output_format)  # fail on a bad output name before the work
    result = restore_image(Path(src), options, progress=progress)
    write_image(
        result.image, dst, output_format=options.output_format, quality=options.quality,
        record=result.record(),
    )
    return result
