"""How fast this process restores, measured as it goes: the time a job will take ("about 40 s"),
before it starts and while it runs, from this machine's own throughput for each stage and network.

Every stage that runs records its seconds per input megapixel (``observe``; later runs refine the
figure, a moving average). Before the first run of a network, one small call (64x64) measures it
(``calibrate``). ``StageProgress`` turns the stages' progress into the bar's fraction and message,
with the time left: from the measured figures at first, then from the time the job has taken so far.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[float, str], None]
_lock = threading.Lock()
_seen: dict[tuple[str, ...], float] = {}  # (stage, network, device, dtype) -> seconds per input megapixel
_calibrated: set[tuple[str, ...]] = set()  # tentative figures (a small call, a first run): the next run replaces them
LONG_S = 60.0  # a job expected to take longer is said to be long, with the faster choice
# Share of the progress bar each stage gets when it runs (when nothing was measured yet).
WEIGHTS = {"denoise": 1.0, "superres": 6.0, "faces": 2.0, "colorize": 2.0, "sharpen": 0.3}


def _key(stage: str, restorer: Any) -> tuple[str, ...]:
    opts, dev = restorer.options, str(restorer.device)
    if stage == "superres":
        m = restorer.model("superres")
        return (stage, m.spec.id, dev, str(m.dtype))
    if stage == "denoise":
        return (stage, opts.denoise_model, dev, "")
    return (stage, "", dev, "")


def observe(stage: str, restorer: Any, megapixels: float, seconds: float) -> None:
    """A run of ``stage`` took ``seconds`` for ``megapixels`` of input (all frames)."""
    if megapixels <= 0 or seconds <= 0:
        return
    key, rate = _key(stage, restorer), seconds / megapixels
    with _lock:
        if key not in _seen:  # a first run also loads the networks and warms them up: tentative
            _seen[key] = rate
            _calibrated.add(key)
        elif key in _calibrated:
            _seen[key] = rate
            _calibrated.discard(key)
        else:
            _seen[key] = 0.7 * _seen[key] + 0.3 * rate


def calibrate(restorer: Any) -> float:
    """Seconds per input megapixel of one pass of the job's upscaler, measured now with one 64x64 call
    when it was never measured in this process (the model is loaded, which the job needs anyway)."""
    import torch

    key = _key("superres", restorer)
    with _lock:
        if key in _seen:
            return _seen[key]
    model = restorer.model("superres")
    x = torch.rand(1, 3, 64, 64, device=model.device)
    model(x)  # the first call pays for algorithm search and allocation: not what a job's calls cost
    t0 = time.perf_counter()
    model(x)
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
    rate = (time.perf_counter() - t0) / (64 * 64 / 1e6)
    with _lock:
        if key not in _seen:
            _seen[key] = rate
            _calibrated.add(key)
    return _seen[key]


def expected_seconds(restorer: Any, stages: list[str], height: int, width: int, frames: int = 1) -> float | None:
    """The seconds ``stages`` should take on ``frames`` pictures of ``height`` x ``width``, from what
    this process measured (the upscaler is calibrated if it never ran); None when a heavy stage
    (a denoiser, faces, the colorizer) was never measured."""
    from .stages import plan_passes

    total, mp = 0.0, height * width * frames / 1e6
    for stage in stages:
        if stage == "superres":
            model, rate = restorer.model("superres"), calibrate(restorer)
            for p in range(plan_passes(model.scale, restorer.options.upscale)):
                size = (height * model.scale ** p, width * model.scale ** p)
                computed = _computed_pixels(size, restorer.tiles(size)[0], restorer.options.tile_pad)
                total += frames * computed / 1e6 * rate
            continue
        with _lock:
            rate = _seen.get(_key(stage, restorer))
        if rate is None and stage != "sharpen":
            return None
        total += mp * (rate or 0.0)
    return total


def _computed_pixels(size: tuple[int, int], tile: int, pad: int) -> int:
    """The pixels a network computes for a picture of ``size`` cut into ``tile`` cores with ``pad`` of
    context (the context is computed and thrown away)."""
    from .tiling import _layout

    if tile <= 0:
        return size[0] * size[1]
    (eh, ys, _), (ew, xs, _) = _layout(size[0], tile, pad), _layout(size[1], tile, pad)
    return eh * len(ys) * ew * len(xs)


def about(seconds: float) -> str:
    """"about 40 s", "about 3 min", "about 1.5 h"."""
    if seconds < 90:
        return f"about {max(1, math.ceil(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def advice(restorer: Any, seconds: float) -> str:
    """For a long job on a CPU (over ``LONG_S``): the faster choice, to show beside the estimate."""
    if restorer.device.type != "cpu" or seconds <= LONG_S:
        return ""
    faster = "" if restorer.options.model == "realesr-animevideov3" else "the compact realesr-animevideov3 or "
    return f" on this CPU: {faster}a smaller upscale is faster"


class StageProgress:
    """The progress of one ``Restorer.run``: each stage's share of the bar (by its expected time when
    known, else by ``WEIGHTS``), and the message "superres 40% · about 12 s left"."""

    def __init__(self, fn: ProgressFn | None, plan: list[str], expected: float | None = None, note: str = ""):
        self.fn, self.expected, self.note = fn, expected, note
        self.total = sum(WEIGHTS[s] for s in plan) or 1.0
        self.base = 0.0
        self.t0 = time.perf_counter()

    def left(self, fraction: float) -> str:
        elapsed = time.perf_counter() - self.t0
        if fraction >= 1:
            return ""
        if fraction >= 0.1:  # measured on this job from here on
            return f" · {about(elapsed / fraction * (1 - fraction))} left"
        if self.expected is not None:
            return f" · {about(max(0.0, self.expected - elapsed))} left{self.note}"
        return ""

    def stage(self, name: str) -> Callable[[float, int], None]:
        start, weight = self.base, WEIGHTS[name]
        self.base += weight

        def report(done: float, total: int) -> None:
            """``done`` of ``total`` pieces (tiles or frames; a fraction inside a piece moves the bar)."""
            if self.fn:
                share = min(1.0, done / max(1, total))
                detail = f"{int(done)}/{total}" if total > 1 else f"{round(100 * share)}%"
                fraction = min(1.0, (start + weight * share) / self.total)
                self.fn(fraction, f"{name} {detail}{self.left(fraction)}")

        report(0, 1)
        return report
