"""How fast this process restores, measured as it goes: the time a job will take ("about 40 s"),
before it starts and while it runs, from this machine's own throughput for each stage and network.

Every stage that runs records its seconds per megapixel of work (``observe``: the input's, or for the
upscaler every pass's with its tiles' context); later runs refine the figure (a moving average).
Before the first run of a network, one small call (64x64) measures it (``calibrate``).
``StageProgress`` turns the stages' progress into the bar's fraction and message, with the time left:
from the measured figures at first, then from each stage's own pace.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[float, str], None]
_lock = threading.Lock()
_seen: dict[tuple[str, ...], float] = {}  # (stage, network, device, dtype) -> seconds per megapixel (``_work``)
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


def _work(stage: str, restorer: Any, height: int, width: int, frames: int) -> float:
    """The megapixels ``stage`` computes for ``frames`` pictures of ``height`` x ``width``: the input's,
    and for the upscaler every pass's, with the context its tiles compute and throw away."""
    if stage != "superres":
        return height * width * frames / 1e6
    from .stages import plan_passes
    from .tiling import computed_pixels

    model = restorer.model("superres")
    tile = restorer.superres_tiles(height, width)[0]
    total = sum(computed_pixels((height * model.scale ** p, width * model.scale ** p), tile, restorer.options.tile_pad)
                for p in range(plan_passes(model.scale, restorer.options.upscale)))
    return frames * total / 1e6


def observe(stage: str, restorer: Any, height: int, width: int, frames: int, seconds: float) -> None:
    """A run of ``stage`` on ``frames`` pictures of ``height`` x ``width`` took ``seconds``."""
    megapixels = _work(stage, restorer, height, width, frames)
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
    """Seconds per computed megapixel of the job's upscaler, measured now with one 64x64 call
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


def stage_seconds(restorer: Any, stages: list[str], height: int, width: int, frames: int = 1) -> dict[str, float]:
    """The seconds each of ``stages`` should take on ``frames`` pictures of ``height`` x ``width``,
    from what this process measured (the upscaler is calibrated if it never ran); a stage never
    measured is left out."""
    out = {}
    for stage in stages:  # each stage is given the picture as the stages before it left it
        if stage == "superres":
            rate: float | None = calibrate(restorer)
        else:
            with _lock:
                rate = _seen.get(_key(stage, restorer))
        if rate is not None:
            out[stage] = rate * _work(stage, restorer, height, width, frames)
        if stage == "superres":
            height, width = round(height * restorer.options.upscale), round(width * restorer.options.upscale)
    return out


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
    """The progress of one ``Restorer.run``: each stage's share of the bar and of the time left, and
    the message "superres 40% · about 12 s left".

    ``known``: the seconds each stage should take, where measured (``stage_seconds``); a stage never
    measured counts its usual share of the work (``WEIGHTS``) beside the measured ones. Inside a
    stage, once a tenth of it is done, its own pace says how long the rest of it takes (a first
    estimate from a small call, or a busy machine, is corrected as the stage goes)."""

    def __init__(self, fn: ProgressFn | None, plan: list[str], known: dict[str, float] | None = None,
                 note: str = ""):
        self.fn, self.plan, self.note = fn, list(plan), note
        known = {s: v for s, v in (known or {}).items() if s in self.plan}
        unit = sum(known.values()) / sum(WEIGHTS[s] for s in known) if known else None
        self.timed = unit is not None  # seconds are seconds (else only shares of the work)
        self.seconds = {s: known.get(s, WEIGHTS[s] * (unit or 1.0)) for s in self.plan}
        self.total = sum(self.seconds.values()) or 1.0
        self.base, self.index, self.started = 0.0, -1, time.perf_counter()

    @property
    def expected(self) -> float | None:
        """The seconds the whole job should take, or None when nothing was measured."""
        return self.total if self.timed else None

    def _left(self, name: str, share: float) -> float | None:
        spent = time.perf_counter() - self.started
        later = sum(self.seconds[s] for s in self.plan[self.index + 1:])
        if share >= 0.1 and spent > 0:  # this stage's own pace
            pace = spent / share
            return pace * (1 - share) + later * (1.0 if self.timed else pace / self.seconds[name])
        if self.timed:
            return max(0.0, self.seconds[name] - spent) + later
        return None

    def stage(self, name: str) -> Callable[[float, int], None]:
        start, weight = self.base, self.seconds[name]
        self.base += weight
        self.index, self.started = self.plan.index(name), time.perf_counter()

        def report(done: float, total: int) -> None:
            """``done`` of ``total`` pieces (tiles or frames; a fraction inside a piece moves the bar)."""
            if self.fn:
                share = min(1.0, done / max(1, total))
                detail = f"{int(done)}/{total}" if total > 1 else f"{round(100 * share)}%"
                fraction = min(1.0, (start + weight * share) / self.total)
                left = self._left(name, share) if fraction < 1 else None
                text = "" if left is None else f" · {about(left)} left"
                note = self.note if self.index == 0 and share == 0 else ""
                self.fn(fraction, f"{name} {detail}{text}{note}")

        report(0, 1)
        return report
