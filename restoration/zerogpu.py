"""GPU calls on a Hugging Face ZeroGPU Space: each sized to its work, long jobs in several calls.

On ZeroGPU (``SPACES_ZERO_GPU=true``) GPU work runs inside functions decorated with ``spaces.GPU``;
each call declares its duration, which the platform holds against the visitor's quota and its own
maximum, and aborts the call if it runs longer. Here every call declares what ``restoration.cost.reference``
says its work needs, never more than ``RESTORATION_GPU_MAX_S``:

- ``restore_image``: one picture in one call, refused before any work if it cannot fit one;
- ``Calls``: an executor (``restoration.jobs``) that cuts a batch into groups of files and a video
  into pieces of whole segments (with warm-up frames), each group or piece one call. Finished files
  and segments stay, so a job stopped by a refusal or a Stop resumes when it is asked for again.

Weights are found (downloaded) and models loaded in the main process before any call, as the
platform recommends (a call must not spend the visitor's time on the network). The three GPU
functions are decorated once, at import; a refusal of the platform becomes ``GpuCallError`` with
what the visitor can do. Off ZeroGPU (or without the ``spaces`` package) the decorator is a no-op.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import config
from .cost import reference
from .errors import RestorationError
from .options import RestoreOptions
from .progress import duration

log = logging.getLogger(__name__)
CALLS: list[float] = []  # the durations declared by this process's calls, newest last (for tests and logs)
_calls_lock = threading.Lock()


def active() -> bool:
    """Whether this process runs on a ZeroGPU Space (``config.on_zerogpu``)."""
    return config.on_zerogpu()


def gpu(duration: float | Callable[..., float]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``spaces.GPU(duration=duration)`` where the ``spaces`` package is, else the function itself."""
    try:
        import spaces  # type: ignore[import-not-found]
    except ImportError:
        return lambda fn: fn
    return spaces.GPU(duration=duration)


def _declared(*args: Any, **kwargs: Any) -> float:
    """The duration of a call: its own last argument, ``seconds``."""
    return float(kwargs["seconds"] if "seconds" in kwargs else args[-1])


class GpuCallError(RestorationError):
    """The platform refused a GPU call (quota, over its maximum) or stopped it (ran past its time)."""


def _refusal(e: BaseException, seconds: float) -> GpuCallError | None:
    """``e``, raised by a GPU call, as what the visitor can do, when it is the platform's refusal."""
    text = str(getattr(e, "message", None) or e).strip() or type(e).__name__
    low = text.lower()
    kept = "The work already done is kept: asking again resumes it."
    if "quota" in low:
        return GpuCallError(f"GPU quota: {text}. {kept} Wait for the quota to refill, sign in to Hugging Face for "
                            "a larger one, or ask for less (a shorter clip, fewer files, a smaller upscale).")
    if "maximum" in low or "larger than" in low:
        return GpuCallError(f"This Space does not allow a GPU call of {duration(seconds)}: {text}. {kept} "
                            "Signed-in visitors may get longer calls; a smaller upscale or a lighter model needs "
                            "less.")
    if "abort" in low or "timed out" in low or "timeout" in low:
        return GpuCallError(f"The GPU call took longer than the {duration(seconds)} it declared and was "
                            f"stopped ({text}). {kept}")
    return None


def _call(fn: Callable[..., Any], *args: Any, seconds: float) -> Any:
    """``fn(*args, seconds)`` as one GPU call declaring ``seconds``."""
    with _calls_lock:
        CALLS.append(seconds)
    log.info("GPU call %s declaring %.0f s", fn.__name__, seconds)
    try:
        return fn(*args, seconds)
    except RestorationError:
        raise
    except Exception as e:  # noqa: BLE001 - the platform's errors are of several kinds
        refused = _refusal(e, seconds)
        if refused is None:
            raise
        raise refused from e


# --- the GPU functions (run inside a call; their arguments travel to the GPU worker) ----------------
@gpu(_declared)
def _image_call(data: Any, options: RestoreOptions, seconds: float) -> Any:
    from .pipeline import restore_image

    return restore_image(data, options)


@gpu(_declared)
def _files_call(pairs: list[tuple[Path, Path]], options: RestoreOptions, seconds: float) -> list[Any]:
    from .batch import restore_one
    from .pipeline import prepare

    restorer = prepare(options)
    return [restore_one(src, dst, restorer) for src, dst in pairs]


@gpu(_declared)
def _piece_call(task: Any, piece: Any, seconds: float) -> Any:
    from .pipeline import prepare
    from .video.piece import run_piece

    return run_piece(task, piece, prepare(task.options))


# --- sizing ----------------------------------------------------------------------------------------
def _ready(restorer: Any, monochrome: bool | None) -> tuple[int, dict[str, Any]]:
    """Load the job's models in this (the main) process, before any call; returns the bytes of
    weights a call brings onto the GPU and the loaded networks that are costed by their arithmetic.
    A colorizer that only a gray picture of a batch would need (``colorize="auto"``) is loaded when
    it is there, and otherwise left for that picture to ask for."""
    from .errors import ChecksumMismatchError, WeightsUnavailableError
    from .recipe import needed_models

    try:
        restorer.preload(monochrome)
    except (WeightsUnavailableError, ChecksumMismatchError) as e:
        if e.option != "color_model" or restorer.options.colorize != "auto":
            raise
        monochrome = False
        restorer.preload(monochrome)
    need = needed_models(restorer.options, monochrome)
    weights = sum(restorer.located(m).path.stat().st_size for _, m in need)
    costed = {o: restorer.model(r) for o, r in (("model", "superres"), ("denoise_model", "denoise"))
              if o in {n for n, _ in need}}
    return weights, costed


def _too_long(what: str, seconds: float) -> RestorationError:
    limit = duration(reference.max_call_s())
    return RestorationError(f"{what} needs about {duration(seconds)} of GPU time, more than one GPU call "
                            f"on this Space may last ({limit}); use a smaller upscale or a lighter model (such as "
                            "realesr-general-x4v3), or a smaller picture")


def restore_image(data: Any, options: RestoreOptions, progress: Any = None) -> Any:
    """``pipeline.restore_image`` on ``data`` (an ``ImageData``) in one GPU call sized to it. Raises
    ``RestorationError`` before any work when one call cannot hold it, ``GpuCallError`` for a
    refusal, and what ``restore_image`` raises."""
    from .color import to_tensor
    from .pipeline import prepare
    from .stages import is_monochrome

    restorer = prepare(options)
    gray = bool(data.grayscale) or (options.colorize == "auto" and bool(is_monochrome(to_tensor(data.pixels))))
    weights, costed = _ready(restorer, gray)
    w, h = data.size
    ms = sum(reference.frame_ms(options, w, h, monochrome=gray, models=costed).values())
    need = reference.estimate(ms, 1, weights)
    if need.seconds > reference.max_call_s():
        raise _too_long(f"{data.name} ({w}x{h} at x{options.upscale:g})", need.seconds)
    if progress:
        progress(0.05, f"on the GPU (declared {duration(need.seconds)})")
    return _call(_image_call, data, options, seconds=need.seconds)


class Calls:
    """An executor (``restoration.jobs``) for ZeroGPU: a batch's files in groups and a video's
    segments in pieces, each group or piece one GPU call of at most ``max_s`` seconds
    (``RESTORATION_GPU_MAX_S``), sized by ``restoration.cost.reference``."""

    def __init__(self, max_s: float | None = None) -> None:
        self.max_s = reference.max_call_s() if max_s is None else max_s
        self._sizes: dict[Any, tuple[float, int, int]] = {}  # a video's sizing, from ``fit`` to ``run_video``

    def run_files(self, job: Any) -> None:
        """Groups of files in calls; every file is sized first, and one that cannot fit a call stops the
        job before any work."""
        auto = job.options.colorize == "auto"  # a gray picture may need the colorizer: sized as if so
        weights, models = _ready(job.restorer, True if auto else None)
        costs = []
        for index, src, dst in job.pending:
            w, h = _size_of(src)
            ms = sum(reference.frame_ms(job.options, w, h, monochrome=auto, models=models).values())
            if reference.estimate(ms, 1, weights).seconds > self.max_s:
                raise _too_long(f"{src.name} ({w}x{h} at x{job.options.upscale:g})",
                                reference.estimate(ms, 1, weights).seconds)
            costs.append((index, src, dst, ms))
        for group in _groups(costs, lambda ms: reference.estimate(ms, 1, weights).seconds <= self.max_s):
            job.check_cancel()
            seconds = reference.estimate(sum(c[3] for c in group), 1, weights).seconds
            items = _call(_files_call, [(src, dst) for _, src, dst, _ in group], job.options, seconds=seconds)
            for (index, *_), item in zip(group, items):
                job.report(index, item)

    def fit(self, task: Any, restorer: Any) -> Any:
        """``task`` with segments no longer than one call holds (warm-up included), sized once (the job's
        ``restorer`` loads its models here, before any call). Raises ``RestorationError`` when not even
        one frame fits."""
        from .video.plan import extra_frames, out_size

        ms, weights, fit = self._sized(task, restorer)
        warm = extra_frames(task)
        if fit - warm < 1:
            w, h = out_size(task.info, task.options)
            raise _too_long(f"one frame of {task.src.name} (to {w}x{h})", reference.estimate(ms, 1 + warm).seconds)
        self._sizes[task.dst] = (ms, weights, fit)
        return replace(task, per_segment=min(task.segment_frames, fit - warm))

    def _sized(self, task: Any, restorer: Any) -> tuple[float, int, int]:
        """(reference ms a frame, bytes of weights, frames one call holds) of ``task``."""
        weights, costed = _ready(restorer, task.monochrome)
        parts = reference.frame_ms(task.options, task.info.width, task.info.height,
                                   monochrome=bool(task.monochrome), models=costed, video=True)
        if task.video.interpolates:
            from .video.plan import out_size

            timing = task.retiming
            parts["interpolate"] = reference.interpolation_ms(*out_size(task.info, task.options),
                                                              max(0.0, float(timing.out_rate / timing.rate) - 1))
        ms = sum(parts.values()) * float(task.fields.per_frame)  # one frame per field: twice the frames
        return ms, weights, reference.frames_per_call(ms, weights, self.max_s)

    def run_video(self, job: Any) -> Any:
        """The plan's missing segments in pieces of as many whole segments as one call holds."""
        from .video.piece import PieceStats
        from .video.plan import VideoPlan

        task, plan = job.task, VideoPlan(job.task)
        ms, weights, fit = self._sizes.pop(task.dst, None) or self._sized(task, job.restorer)
        if not plan.splittable and plan.restored(plan.pieces()[0]) > fit:
            if task.fields.film:
                raise RestorationError(f"{task.src.name}: telecined film is matched back to 24 frames a second in "
                                       "one piece, longer than one GPU call; use deinterlace=on, or a shorter clip")
            raise RestorationError(f"{task.src.name}: the frames' timestamps (missing or repeated) do not allow "
                                   "cutting it into GPU calls; remux it (ffmpeg -i in -c copy out.mkv) and try again")
        line = plan.line(job.progress, " · ZeroGPU calls")
        stats, calls = PieceStats(), 0
        for piece in plan.pieces(max(1, (fit - plan.warmup) // plan.per)):
            job.check_cancel(plan.resumed + stats.frames)
            seconds = reference.estimate(ms, plan.restored(piece), weights).seconds
            stats = stats + _call(_piece_call, task, piece, seconds=seconds)
            calls += 1
            line.update(plan.resumed + stats.frames)
        return plan.result(stats, metrics={"gpu_calls": calls, "segment_frames": plan.per})


def _size_of(path: Path) -> tuple[int, int]:
    from .errors import ImageReadError
    from .media import image_size

    size = image_size(path)
    if size is None:  # the call itself will say what is wrong with it; size it as a large photo
        log.info("%s: no size in its header (%s)", path, ImageReadError.__name__)
        return 4000, 3000
    return size


def _groups(costs: list[tuple[Any, ...]], fits: Callable[[float], bool]) -> list[list[tuple[Any, ...]]]:
    """``costs`` (each ending in its ms) in order, cut into groups whose summed ms ``fits``."""
    groups: list[list[tuple[Any, ...]]] = []
    for c in costs:
        if groups and fits(sum(x[-1] for x in groups[-1]) + c[-1]):
            groups[-1].append(c)
        else:
            groups.append([c])
    return groups
