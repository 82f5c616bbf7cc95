"""The restoration pipeline: denoise -> super-resolve -> colorize -> sharpen.

``restore_tensor`` is the whole data flow on tensors; ``restore_image`` adds decoding, metrics and the
record of what was done; ``restore_file`` also writes the result. Progress is reported through a
callback ``progress(fraction, message)``.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import metrics, stages
from ._version import __version__
from .color import to_array, to_tensor
from .cost import measured
from .faces.runner import FaceRunner
from .faces.stage import FaceReport
from .faces.track import FaceTracker
from .job_models import JobModels
from .media import ImageData, ImageInput, read_image, write_image
from .models import LoadedModel, resolve_device
from .options import RestoreOptions
from .progress import ProgressFn, about
from .recipe import planned
from .stages import noise
from .tiling import TilePlans
from .weights import ResolvedWeights

log = logging.getLogger(__name__)


@dataclass
class StageReport:
    """What ``restore_tensor`` did: stages run, models used, seconds per stage, tile used, faces, and the
    denoising strength used (measured for ``denoise="auto"``)."""

    stages: list[str] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    colorized: bool = False
    tile: int = 0
    device: str = "cpu"
    faces: FaceReport | None = None
    denoise: float = 0.0


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


@dataclass
class Flow:
    """What flows through the stages of one ``Restorer.run`` call (the ``recipe`` table's runs read and
    write it): the pictures, their alpha, the record of what was done, the denoised input that faces
    are cut from, whether the pictures are black and white, and a video's face tracks and scene cuts."""

    x: torch.Tensor
    alpha: torch.Tensor | None
    report: StageReport
    source: torch.Tensor | None = None
    monochrome: bool = False
    track: FaceTracker | None = None
    cuts: list[bool] | None = None  # per picture: a new scene starts here (a video's)


class Restorer:
    """A job's recipe: ``options`` made ready, its device, its networks (``JobModels``: found once,
    loaded on first use) and tile plans (``tiling.TilePlans``: planned once per input size), and
    ``run``, which takes pictures through the planned stages of the ``recipe`` table. Holds no pixels:
    ``run`` is safe to call from several threads. Build it with ``prepare``."""

    def __init__(self, options: RestoreOptions):
        self.options = options
        self.device = resolve_device(options.device)
        self.models = JobModels(options)
        self.tiles = TilePlans(options, self.device)
        self.faces = FaceRunner(options, self.device, self.model, lambda model_id: self.located(model_id).path)

    def model(self, role: str) -> LoadedModel:
        """The job's network of ``role`` (``JobModels.model``)."""
        return self.models.model(role)

    def located(self, model_id: str) -> ResolvedWeights:
        return self.models.located(model_id)

    def check_models(self, monochrome: bool | None = None, more: list[tuple[str, str]] | tuple = ()) -> None:
        """Every model the job needs (and those of ``more``), found before any work (``JobModels.check``)."""
        self.models.check(monochrome, more)

    def preload(self, monochrome: bool | None = None) -> None:
        self.models.preload(monochrome)

    def superres_tiles(self, height: int, width: int) -> tuple[int, int]:
        """(tile, pieces per call) of the upscaler for a picture of ``height`` x ``width``: one plan for
        every pass, made for the last pass's input (the largest)."""
        model = self.model("superres")
        grow = model.scale ** (stages.plan_passes(model.scale, self.options.upscale) - 1)
        return self.tiles.plan(model, (height * grow, width * grow))

    def run(self, x: torch.Tensor, *, alpha: torch.Tensor | None = None, progress: ProgressFn | None = None,
            monochrome: bool | None = None, track: FaceTracker | None = None, cuts: list[bool] | None = None
            ) -> tuple[torch.Tensor, torch.Tensor | None, StageReport]:
        """The stages on ``x`` (N, 3, H, W) float in [0, 1]; see ``restore_tensor``. ``track`` smooths
        each picture's faces over time and ``cuts`` says where a scene starts (a video's)."""
        f = Flow(x.to(device=self.device, dtype=torch.float32), None, StageReport(device=str(self.device)),
                 track=track, cuts=cuts)
        if alpha is not None:
            f.alpha = alpha.to(device=self.device, dtype=torch.float32)
        if monochrome is None and (self.options.colorize == "auto" or self.options.face != "off"):
            monochrome = stages.is_monochrome(f.x[:1])
        f.monochrome = bool(monochrome)
        self.check_models(f.monochrome)
        f.report.denoise = self.denoise_strength(f.x)
        plan = planned(self.options.with_(denoise=f.report.denoise), f.monochrome)
        f.report.stages = [s.name for s in plan]
        self._load(plan, progress)
        bar = measured.bar(self, progress, f.report.stages, *f.x.shape[-2:], f.x.shape[0])
        for stage in plan:
            step, size = bar.stage(stage.name), (*f.x.shape[-2:], f.x.shape[0])  # what the stage is given
            t0 = self._clock()
            stage.run(self, f, step)
            f.report.seconds[stage.name] = self._clock() - t0
            measured.observe(stage.name, self, *size, f.report.seconds[stage.name])
            step(1, 1)
        if progress:
            progress(1.0, "done")
        return f.x, f.alpha, f.report

    def _load(self, plan: list[Any], progress: ProgressFn | None) -> None:
        """Load the planned stages' networks now, saying so ("loading realesrgan-x4plus, first use") with
        how long it should take, so a first job's wait is not silence (the face network loads when
        faces are found)."""
        for stage in plan:
            if stage.role in (None, "face") or not stage.needs(self.options) or self.models.loaded(stage.role):
                continue
            if progress:
                model_id = self.models.model_id(stage.role)
                seconds = measured.load_seconds(self.located(model_id).path)
                progress(0.0, f"loading {self.models.shown(model_id)}, first use · {about(seconds)}")
            self.model(stage.role)

    def denoise_strength(self, x: torch.Tensor) -> float:
        """The denoising strength for the pictures ``x``: the option's, or with ``denoise="auto"`` the one
        their noise asks for (measured on the first, ``stages.noise``; 0 for a clean picture)."""
        if self.options.denoise != "auto":
            return float(self.options.denoise)
        plane = self.options.denoise_model != "nlm" and self.model("denoise").traits.noise_plane
        return noise.strength(noise.estimate_noise(x), self.options.denoise_model, plane)

    def _clock(self) -> float:
        if self.device.type == "cuda":  # stage times include the GPU's queued work
            torch.cuda.synchronize(self.device)
        return time.perf_counter()


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
    if result.options.denoise == "auto":
        m["denoise_strength"] = report.denoise  # what the picture's noise asked for (0: a clean picture)
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
