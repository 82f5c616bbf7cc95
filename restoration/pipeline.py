"""The restoration pipeline: denoise -> super-resolve -> colorize -> sharpen.

``restore_tensor`` is the whole data flow on tensors; ``restore_image`` adds decoding, metrics and the
record of what was done; ``restore_file`` also writes the result. Progress is reported through a
callback ``progress(fraction, message)``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import metrics, speed, stages, tiling
from ._version import __version__
from .color import to_array, to_tensor
from .errors import ChecksumMismatchError, WeightsUnavailableError
from .faces.runner import FaceRunner
from .faces.stage import FaceReport
from .faces.track import FaceTracker
from .media import ImageData, ImageInput, read_image, write_image
from .models import LoadedModel, load_model, locate, resolve_device
from .options import RestoreOptions, needed_models
from .tiling import gpu_budget, plan_tiles
from .weights import ResolvedWeights

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]

_TASKS = {"superres": "super-resolution", "colorize": "colorization", "face": "face-restoration",
          "denoise": "restoration"}
_ROLES = {"model": "superres", "denoise_model": "denoise", "face": "face", "color_model": "colorize"}
_COLOR_BATCH = 8  # frames per pass through the colorization network on a GPU


@dataclass
class StageReport:
    """What ``restore_tensor`` did: stages run, models used, seconds per stage, tile used, faces."""

    stages: list[str] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    colorized: bool = False
    tile: int = 0
    device: str = "cpu"
    faces: FaceReport | None = None


@dataclass
class RestoreResult:
    """``image``: the restored ``ImageData``; ``report``; ``metrics`` (see ``metrics.compute``), computed
    when first read: SSIM and the rest cost about as much as a compact network on a CPU, and a caller
    that only wants the picture does not pay for them."""

    image: ImageData
    report: StageReport
    options: RestoreOptions
    source: ImageData = field(repr=False)
    reference: np.ndarray | None = field(default=None, repr=False)
    _metrics: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def metrics(self) -> dict[str, Any]:
        if self._metrics is None:
            self._metrics = _metrics_of(self)
        return self._metrics

    def record(self) -> dict[str, Any]:
        """The small record written into the output file's metadata (an added model is named by its
        stored name and, under ``model_files``, by the file name it was added as)."""
        from .uploads import original_name

        files = {role: name for role, model in self.report.models.items() if (name := original_name(model))}
        return {
            "software": f"restoration {__version__}",
            "options": self.options.to_dict(),
            "stages": self.report.stages,
            "models": self.report.models,
            **({"model_files": files} if files else {}),
        }


def _plan(options: RestoreOptions, monochrome: bool) -> list[str]:
    plan = []
    if options.denoise > 0:
        plan.append("denoise")
    if options.does_superres:
        plan.append("superres")
    if options.face != "off":
        plan.append("faces")
    if options.colorize == "on" or (options.colorize == "auto" and monochrome):
        plan.append("colorize")
    if options.sharpen > 0:
        plan.append("sharpen")
    return plan


@dataclass
class _Frame:
    """What flows through the stages of one ``Restorer.run`` call."""

    x: torch.Tensor
    alpha: torch.Tensor | None
    report: StageReport
    source: torch.Tensor | None = None  # the denoised input, that faces are cut from
    monochrome: bool = False
    track: FaceTracker | None = None


class Restorer:
    """``options`` made ready for a job: device chosen, models resolved and loaded once, and tiles
    planned once per input size, so a video's or a batch's pieces keep one shape from the first batch
    to the last (what cuDNN autotuning and compiled graphs need) and weights are not looked up again.
    Holds no pixels: ``run`` is safe to call from several threads. Build it with ``prepare``.
    """

    def __init__(self, options: RestoreOptions):
        self.options = options
        self.device = resolve_device(options.device)
        self._models: dict[str, LoadedModel] = {}
        self._tiles: dict[tuple[tuple[int, int], str], tuple[int, int]] = {}
        self._budget: int | None = None
        self._located: dict[str, ResolvedWeights] = {}
        self._lock = threading.Lock()
        self.faces = FaceRunner(options, self.device, self.model, lambda model_id: self.located(model_id).path)

    def check_models(self, monochrome: bool | None = None) -> None:
        """Find (or download) the weights of every model the job needs (``needed_models``) before any
        work, so a missing one fails at once rather than after minutes of super-resolution. Nothing
        is loaded. Raises ``WeightsUnavailableError`` or ``ChecksumMismatchError`` with ``option``
        set to the option whose model it is, and what ``models.locate`` raises."""
        for option, model_id in needed_models(self.options, monochrome):
            try:
                self.located(model_id)
            except (WeightsUnavailableError, ChecksumMismatchError) as e:
                e.option, e.model = option, model_id
                raise

    def preload(self, monochrome: bool | None = None) -> None:
        """Find and load every network the job needs now (not at first use): what a ZeroGPU Space
        does before its GPU calls, so they spend no time on it."""
        self.check_models(monochrome)
        for role in dict.fromkeys(_ROLES[option] for option, _ in needed_models(self.options, monochrome)
                                  if option in _ROLES):
            self.model(role)

    def located(self, model_id: str) -> ResolvedWeights:
        """Where the weights of ``model_id`` are (``models.locate``), found once per job."""
        with self._lock:
            found = self._located.get(model_id)
        if found is None:
            found = locate(model_id)
            with self._lock:
                self._located[model_id] = found
        return found

    def model(self, role: str) -> LoadedModel:
        """The ``superres``, ``colorize`` or ``face`` model, loaded on first use."""
        mid = {"superres": self.options.model, "colorize": self.options.color_model,
               "face": self.options.face, "denoise": self.options.denoise_model}[role]
        weights = self.located(mid)
        with self._lock:
            if role not in self._models:
                self._models[role] = load_model(mid, self.options.device, self.options.precision, task=_TASKS[role],
                                                weights=weights)
            return self._models[role]

    def tiles(self, size: tuple[int, int], role: str = "superres") -> tuple[int, int]:
        """(tile, pieces per call) for an input of ``size`` (H, W) to the ``role`` model, planned once."""
        with self._lock:
            if (size, role) not in self._tiles:
                if self._budget is None and self.device.type == "cuda":
                    self._budget = gpu_budget(self.device)
                model = self._models[role]
                width = torch.finfo(model.dtype).bits // 8
                if self.device.type == "cuda" and not tiling.known(model.spec.architecture, model.scale, width):
                    tiling.measure(model, model.spec.architecture, model.scale, width, self.device)
                self._tiles[size, role] = plan_tiles(
                    model.spec.architecture, model.scale, self.device, size, default=model.spec.tile,
                    dtype_bytes=width, tile=self.options.tile,
                    pad=self.options.tile_pad, budget=self._budget)
            return self._tiles[size, role]

    def superres_tiles(self, height: int, width: int) -> tuple[int, int]:
        """(tile, pieces per call) of the upscaler for a picture of ``height`` x ``width``: one plan for
        every pass, made for the last pass's input (the largest)."""
        model = self.model("superres")
        grow = model.scale ** (stages.plan_passes(model.scale, self.options.upscale) - 1)
        return self.tiles((height * grow, width * grow))

    def run(self, x: torch.Tensor, *, alpha: torch.Tensor | None = None, progress: ProgressFn | None = None,
            monochrome: bool | None = None, track: FaceTracker | None = None
            ) -> tuple[torch.Tensor, torch.Tensor | None, StageReport]:
        """The stages on ``x`` (N, 3, H, W) float in [0, 1]; see ``restore_tensor``. ``track`` smooths
        each frame's faces over time (a video's ``FaceTracker``)."""
        f = _Frame(x.to(device=self.device, dtype=torch.float32), None, StageReport(device=str(self.device)))
        f.track = track
        if alpha is not None:
            f.alpha = alpha.to(device=self.device, dtype=torch.float32)
        if monochrome is None and (self.options.colorize == "auto" or self.options.face != "off"):
            monochrome = stages.is_monochrome(f.x[:1])
        f.monochrome = bool(monochrome)
        self.check_models(f.monochrome)
        f.report.stages = _plan(self.options, f.monochrome)
        known = speed.stage_seconds(self, f.report.stages, *f.x.shape[-2:], f.x.shape[0]) if progress else {}
        bar = speed.StageProgress(progress, f.report.stages, known)  # from this machine's measured speed
        bar.note = speed.advice(self, bar.expected or 0.0)  # on a CPU, for a long job: what is faster
        for name in f.report.stages:
            step, size = bar.stage(name), (*f.x.shape[-2:], f.x.shape[0])  # what the stage is given
            t0 = self._clock()
            getattr(self, f"_{name}")(f, step)
            f.report.seconds[name] = self._clock() - t0
            speed.observe(name, self, *size, f.report.seconds[name])
            step(1, 1)
        if progress:
            progress(1.0, "done")
        return f.x, f.alpha, f.report

    def expected_seconds(self, height: int, width: int, frames: int = 1, monochrome: bool = False) -> float | None:
        """The seconds ``frames`` pictures of ``height`` x ``width`` should take through this job's
        stages, from this machine's measured speed (``speed``); None when none was ever measured."""
        plan = _plan(self.options, monochrome)
        return speed.StageProgress(None, plan, speed.stage_seconds(self, plan, height, width, frames)).expected

    def _clock(self) -> float:
        if self.device.type == "cuda":  # stage times include the GPU's queued work
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _denoise(self, f: _Frame, step: Callable[[float, int], None]) -> None:
        if self.options.denoise_model == "nlm":
            f.x = stages.denoise(f.x, self.options.denoise)
            return
        model = self.model("denoise")
        tile, pieces = self.tiles(tuple(f.x.shape[-2:]), "denoise")
        f.report.models["denoise"] = model.spec.id
        f.x = stages.denoise_with(model, f.x, self.options.denoise, tile=tile, pad=self.options.tile_pad,
                                  batch=pieces, progress=step)

    def _superres(self, f: _Frame, step: Callable[[float, int], None]) -> None:
        f.source = f.x
        model = self.model("superres")
        tile, pieces = self.superres_tiles(*f.x.shape[-2:])
        f.report.tile = tile
        f.report.models["superres"] = model.spec.id
        src = f.x * f.alpha if f.alpha is not None else f.x  # premultiplied: no dark fringe at edges
        out = stages.superres(src, model, model.scale, self.options.upscale, tile=tile,
                              pad=self.options.tile_pad, batch=pieces, progress=step)
        if f.alpha is not None:
            f.alpha = stages.resize(f.alpha, tuple(out.shape[-2:])).clamp_(0, 1)
            out = torch.where(f.alpha > 1 / 255, out / f.alpha.clamp(min=1 / 255), out).clamp_(0, 1)
        f.x = out

    def _faces(self, f: _Frame, step: Callable[[float, int], None]) -> None:
        source = f.source if f.source is not None else f.x
        f.x, f.report.faces = self.faces(source, f.x, keep_chroma=f.monochrome, track=f.track)
        if f.report.faces.restored:
            f.report.models["faces"] = self.options.face

    def _colorize(self, f: _Frame, step: Callable[[float, int], None]) -> None:
        model = self.model("colorize")
        f.report.models["colorize"] = model.spec.id
        per_call = _COLOR_BATCH if self.device.type == "cuda" else 1  # a CPU gains nothing from batches
        f.x = torch.cat([stages.colorize(f.x[i : i + per_call], model, model.spec.input_size or 512)
                         for i in range(0, f.x.shape[0], per_call)])
        f.report.colorized = True

    def _sharpen(self, f: _Frame, step: Callable[[float, int], None]) -> None:
        f.x = stages.sharpen(f.x, self.options.sharpen)


def prepare(options: RestoreOptions | Restorer | None = None) -> Restorer:
    """A ``Restorer`` for ``options`` (default options when None; a ``Restorer`` is returned as it is).

    Raises ``OptionError`` when the device asked for does not exist.
    """
    if isinstance(options, Restorer):
        return options
    return Restorer(options or RestoreOptions())


def restore_tensor(
    x: torch.Tensor,
    options: RestoreOptions | Restorer,
    *,
    alpha: torch.Tensor | None = None,
    progress: ProgressFn | None = None,
    monochrome: bool | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, StageReport]:
    """Run the stages ``options`` asks for on ``x`` (N, 3, H, W) float in [0, 1].

    ``alpha`` (N, 1, H, W) is carried along: the super-resolution stage runs on premultiplied colour
    and the alpha plane is resized with it, so edges get no dark fringe. ``monochrome`` overrides the
    grayscale detection of ``colorize='auto'``. Returns (rgb, alpha, report), float32 on the device.
    Raises ``OptionError``, the weight errors of ``load_model`` and ``OutOfMemoryError``.
    """
    return prepare(options).run(x, alpha=alpha, progress=progress, monochrome=monochrome)


def restore_image(
    image: ImageInput | ImageData,
    options: RestoreOptions | Restorer | None = None,
    *,
    reference: ImageInput | ImageData | None = None,
    progress: ProgressFn | None = None,
) -> RestoreResult:
    """Restore one image (path, bytes, PIL image, array or ``ImageData``).

    ``options`` may be a prepared ``Restorer`` (a batch passes one for all its images). Returns a
    ``RestoreResult`` with the restored ``ImageData`` (alpha, bit depth, ICC and EXIF kept; grayscale
    stays grayscale unless colorized) and its metrics. Raises ``ImageReadError``, ``OptionError``,
    ``UnknownModelError``, ``WeightsUnavailableError``, ``ChecksumMismatchError``, ``ModelLoadError``
    or ``OutOfMemoryError``, each with a message naming the problem.
    """
    restorer = prepare(options)
    options = restorer.options
    src = image if isinstance(image, ImageData) else read_image(image)
    _check_output_size(src, options)
    t0 = time.perf_counter()
    alpha = to_tensor(src.alpha) if src.alpha is not None else None
    out, out_alpha, report = restorer.run(to_tensor(src.pixels), alpha=alpha, progress=progress,
                                          monochrome=src.grayscale or None)
    pixels = np.clip(to_array(out), 0, 1)
    new_alpha = to_array(out_alpha)[..., 0] if out_alpha is not None else None
    report.seconds["total"] = time.perf_counter() - t0
    result_img = replace(src, pixels=pixels, alpha=new_alpha, grayscale=src.grayscale and not report.colorized)
    ref = None
    if reference is not None:
        ref = (reference if isinstance(reference, ImageData) else read_image(reference)).pixels
    return RestoreResult(result_img, report, options, src, ref)


def _metrics_of(result: RestoreResult) -> dict[str, Any]:
    src, report = result.source, result.report
    m = metrics.compute(result.image.pixels, src.pixels, result.reference, report.seconds)
    m.update(stages=report.stages, models=report.models, device=report.device, warnings=[])
    if report.faces is not None:
        m["faces"] = report.faces.to_dict()
    if src.frames > 1:
        hint = ("; to restore every frame, restore it as a video (the Video tab, or `restoration video`)"
                if src.name.lower().endswith(".gif") else "")
        m["warnings"].append(f"{src.name}: only the first of {src.frames} frames was restored{hint}")
    return m


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
    options: RestoreOptions | Restorer | None = None,
    *,
    progress: ProgressFn | None = None,
) -> RestoreResult:
    """Restore the image file ``src`` and write it to ``dst`` (format from ``options`` or the name).

    Raises what ``restore_image`` raises, and ``ImageWriteError`` / ``OptionError`` for an output
    that cannot be written (checked before the work).
    """
    from .media import format_for

    restorer = prepare(options)
    options = restorer.options
    format_for(dst, options.output_format)  # fail on a bad output name before the work
    result = restore_image(Path(src), restorer, progress=progress)
    write_image(result.image, dst, output_format=options.output_format, quality=options.quality,
                record=result.record())
    return result
