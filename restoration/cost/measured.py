"""This machine's speed, measured as it goes: the time a job will take ("about 40 s"), before it starts
and while it runs, from this machine's own throughput for each stage and network.

Every stage that runs records its seconds per unit of its work (``recipe.Stage.work``: megapixels of
its input, every pass of the upscaler with its tiles' context, or frames); later runs refine the
figure (a moving average). Before the first run of an upscaler, one small call (64x64) measures it
(``calibrate``). ``progress.StageProgress`` turns the stages' progress into the bar's fraction and
message with these figures.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from ..progress import StageProgress
from ..recipe import BY_NAME, STAGES, planned

_lock = threading.Lock()
_seen: dict[tuple[str, ...], float] = {}  # (stage, network, device, dtype) -> seconds per unit of work
_calibrated: set[tuple[str, ...]] = set()  # tentative figures (a small call, a first run): the next run replaces them
LONG_S = 60.0  # a job expected to take longer is said to be long, with the faster choice


def _key(stage: str, restorer: Any) -> tuple[str, ...]:
    opts, dev = restorer.options, str(restorer.device)
    if stage == "superres":
        m = restorer.model("superres")
        return (stage, m.spec.id, dev, str(m.dtype))
    if stage == "denoise":
        return (stage, opts.denoise_model, dev, "")
    return (stage, "", dev, "")


def _work(stage: str, restorer: Any, height: int, width: int, frames: int) -> float:
    """The work ``stage`` does on ``frames`` pictures of ``height`` x ``width`` (``recipe.Stage.work``),
    the upscaler's with this job's tile plan."""
    if stage != "superres":
        return BY_NAME[stage].work(restorer.options, height, width, frames)
    model = restorer.model("superres")
    tile = restorer.superres_tiles(height, width)[0]
    return BY_NAME[stage].work(restorer.options, height, width, frames, scale=model.scale, tile=tile)


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
    measured is left out. Each stage is given the picture as the stages before it (in the table's
    order) left it."""
    out = {}
    for stage in (s for s in STAGES if s.name in stages):
        if stage.name == "superres":
            rate: float | None = calibrate(restorer)
        else:
            with _lock:
                rate = _seen.get(_key(stage.name, restorer))
        if rate is not None:
            out[stage.name] = rate * _work(stage.name, restorer, height, width, frames)
        if stage.name == "superres":
            height, width = round(height * restorer.options.upscale), round(width * restorer.options.upscale)
    return out


def expected_seconds(restorer: Any, height: int, width: int, frames: int = 1, monochrome: bool = False
                     ) -> float | None:
    """The seconds ``frames`` pictures of ``height`` x ``width`` should take through ``restorer``'s
    stages, from this machine's measured speed; None when none was ever measured."""
    plan = [s.name for s in planned(restorer.options, monochrome)]
    return StageProgress(None, plan, stage_seconds(restorer, plan, height, width, frames)).expected


# A network's first load, its precision check included: 1.4 s for animevideov3 (1.2 MB of fp16 weights), 1.8 s
# for x4plus-anime (9 MB), 2.8 s for x4plus (33 MB), measured on this project's 2-core CPU machine.
LOAD_S = 1.3
LOAD_MB_PER_S = 22.0


def load_seconds(path: Any) -> float:
    """The seconds loading the weight file ``path`` should take (its size at ``LOAD_MB_PER_S``)."""
    return LOAD_S + path.stat().st_size / 2**20 / LOAD_MB_PER_S


def advice(restorer: Any, seconds: float) -> str:
    """For a long job on a CPU (over ``LONG_S``): the faster choice, to show beside the estimate."""
    if restorer.device.type != "cpu" or seconds <= LONG_S:
        return ""
    faster = "" if restorer.options.model == "realesr-animevideov3" else "the compact realesr-animevideov3 or "
    return f" on this CPU: {faster}a smaller upscale is faster"


def bar(restorer: Any, progress: Any, stages: list[str], height: int, width: int, frames: int) -> StageProgress:
    """The progress bar of one run: each stage's share and the time left from this machine's measured
    speed (nothing is measured when nobody watches), and on a CPU, for a long job, what is faster."""
    known = stage_seconds(restorer, stages, height, width, frames) if progress else {}
    shown = StageProgress(progress, stages, known)
    shown.note = advice(restorer, shown.expected or 0.0)
    return shown
