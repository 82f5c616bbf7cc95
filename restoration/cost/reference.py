"""GPU seconds a piece of work needs on a reference GPU: what sizes ZeroGPU calls and cuts long jobs.

An estimate is each stage's work (``recipe.Stage.work``: megapixels or frames), times that stage's cost
per unit on a reference GPU, plus loading the models and starting the call, times a safety margin,
never below a floor:

    seconds = max(FLOOR_S, MARGIN * (CALL_S + load + RESTORATION_GPU_TIME_SCALE * work))

The per-pixel costs (``REFERENCE_MS_PER_MP``) are measured on an NVIDIA H100 (fp16, channels-last,
eager; ``../shared/data`` in the project's workspace, 2026-11-24): x4plus 512² 78.9 ms and 1024²
308 ms, x2plus 720p 70.4 ms, general-x4v3 720p 16.9 ms, animevideov3 4×720p 33.5 ms, DDColor
ConvNeXt-L 36 ms a frame. A network without a measured figure is costed from its own arithmetic,
counted once on the CPU with ``torch.utils.flop_counter`` at the throughput the measured networks
reached there (``REFERENCE_TFLOPS``: 119-132 TFLOPS). The remaining figures (the PyTorch
non-local means, face detection and networks, encoding) are not measured: they are stated guesses,
which is what ``MARGIN`` is for. ``RESTORATION_GPU_TIME_SCALE`` multiplies the per-pixel part, for
a GPU slower than the reference (or a test that wants long estimates).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .. import config
from ..options import RestoreOptions
from ..recipe import sizes

MARGIN = 1.5  # the estimate's safety factor
FLOOR_S = 5.0  # no call is declared shorter
CALL_S = 3.0  # starting a call: CUDA context, cuDNN's algorithm search for the first shapes
LOAD_S_PER_GB = 1.0  # weights from disk to the GPU
# Measured on the reference GPU (see the module): ms per megapixel of a pass's input.
REFERENCE_MS_PER_MP = {"realesrgan-x4plus": 300.0, "realesrgan-x2plus": 76.0, "realesr-general-x4v3": 18.3,
                       "realesr-animevideov3": 9.1}
REFERENCE_TFLOPS = 100.0  # what a network reaches on the reference GPU in fp16 (119-132 measured); fp32: half
DDCOLOR_MS = 40.0  # one frame through DDColor (ConvNeXt-L fp32 batch 1: 36 ms measured)
# Stated guesses, not measured:
NLM_MS_PER_MP = 60.0  # the PyTorch non-local means (441 offsets, memory-bound)
FACE_FRAME_MS = 30.0  # detection of one frame (YuNet on the CPU, a few scales)
FACE_MS = 60.0  # one face through its network and the paste
FACES_PER_FRAME = 2  # faces assumed per picture
SHARPEN_MS_PER_MP = 5.0
# RIFE 4.26, one in-between frame: not measured on the reference GPU (no GPU was lent when it was added), a
# stated guess: 27 GFLOP a megapixel (0.3 ms at the reference rate), its full-size warps and resizes
# memory-bound (about 2 ms a megapixel), and some 200 small kernels a frame (2 ms).
INTERPOLATION_FRAME_MS, INTERPOLATION_MS_PER_MP = 2.0, 2.0
ENCODE_MS_PER_MP = 15.0  # decoding and encoding a video frame, per output megapixel (CPU)
METRICS_MS_PER_MP = 150.0  # an image's metrics (SSIM, PSNR, sharpness), per output megapixel (CPU)

_flops: dict[tuple[str, int], float] = {}
_lock = threading.Lock()


@dataclass
class Estimate:
    """``seconds`` to declare; ``work`` and ``load`` (before the margin) and the parts of ``work``."""

    seconds: float
    work: float
    load: float
    parts: dict[str, float] = field(default_factory=dict)


ZEROGPU_SCALE = 3.0  # ZeroGPU's default GPU (half an RTX PRO 6000 Blackwell) against the H100: a stated guess


def time_scale() -> float:
    """``RESTORATION_GPU_TIME_SCALE``; unset: 1 (the reference GPU), or ``ZEROGPU_SCALE`` on ZeroGPU. Half an
    RTX PRO 6000 has about a quarter of an H100's memory bandwidth (0.9 against 3.35 TB/s) and less than
    half its tensor throughput; these networks sit between the two limits. Not measured: a call that
    runs past its declared time is stopped, so the guess errs long."""
    value = config.get("RESTORATION_GPU_TIME_SCALE")
    if value is None:
        return ZEROGPU_SCALE if config.on_zerogpu() else 1.0
    return float(value)


def max_call_s() -> float:
    return float(config.get("RESTORATION_GPU_MAX_S"))


def flops_per_pixel(net: Any, scale: int, channels: int = 3) -> float:
    """Multiply-adds x 2 per input pixel of ``net`` (a module taking (1, C, H, W)), counted once on the
    CPU on a 32x32 and a 64x64 input (the difference is the per-pixel part) and kept."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    key = (f"{type(net).__name__}:{id(net)}", scale)
    with _lock:
        if key in _flops:
            return _flops[key]
    counts = []
    for side in (32, 64):
        mode = FlopCounterMode(display=False)
        with mode, torch.inference_mode():
            p = next(net.parameters(), None)
            net(torch.rand(1, channels, side, side, device=p.device if p is not None else "cpu",
                           dtype=p.dtype if p is not None else torch.float32))
        counts.append(mode.get_total_flops())
    per_px = max(0.0, (counts[1] - counts[0]) / (64 * 64 - 32 * 32))
    with _lock:
        _flops[key] = per_px
    return per_px


def model_ms_per_mp(model_id: str, loaded: Any = None) -> float:
    """ms per megapixel of input for one pass of ``model_id`` on the reference GPU: measured, else from
    its arithmetic (``loaded``: the ``models.LoadedModel``, needed then), else the cost of x4plus."""
    if model_id in REFERENCE_MS_PER_MP:
        return REFERENCE_MS_PER_MP[model_id]
    if loaded is None:
        return REFERENCE_MS_PER_MP["realesrgan-x4plus"]
    import torch

    extra = 1 if loaded.traits.noise_plane else 0
    flops = flops_per_pixel(loaded.descriptor.model, loaded.scale, 3 + extra)
    tflops = REFERENCE_TFLOPS / (2 if loaded.dtype == torch.float32 else 1)
    return flops * 1e6 / (tflops * 1e12) * 1e3


def frame_ms(options: RestoreOptions, width: int, height: int, *, monochrome: bool = False,
             models: dict[str, Any] | None = None, video: bool = False) -> dict[str, float]:
    """ms of GPU time (on the reference GPU) one ``width`` x ``height`` picture takes through each
    stage ``options`` runs (the stage table's work times each stage's reference cost); ``models``: the
    loaded models by option ("model", "denoise_model"...), for a network that is costed from its
    arithmetic; ``video``: a video frame (encoding counted, an image's metrics not)."""
    models = models or {}
    parts: dict[str, float] = {}
    out_mp = width * height / 1e6
    for stage, h, w in sizes(options, height, width, monochrome):
        scale = models["model"].scale if "model" in models else _catalog_scale(options.model)
        parts[stage.name] = stage.work(options, h, w, scale=scale) * _unit_ms(stage.name, options, models)
        out_mp = w * h / 1e6 * (options.upscale ** 2 if stage.name == "superres" else 1)
    parts["io"] = out_mp * (ENCODE_MS_PER_MP if video else METRICS_MS_PER_MP)
    return parts


def interpolation_ms(width: int, height: int, made_per_frame: float) -> float:
    """Reference-GPU ms frame interpolation adds to each of the video's frames of ``width`` x ``height``
    (after the stages), ``made_per_frame`` frames drawn for each, its features computed once."""
    one = INTERPOLATION_FRAME_MS + INTERPOLATION_MS_PER_MP * width * height / 1e6
    return one * (made_per_frame + 0.25)


def _unit_ms(stage: str, options: RestoreOptions, models: dict[str, Any]) -> float:
    """ms per unit of ``stage``'s work (a megapixel, or a frame) on the reference GPU."""
    if stage == "denoise":
        return NLM_MS_PER_MP if options.denoise_model == "nlm" else \
            model_ms_per_mp(options.denoise_model, models.get("denoise_model"))
    if stage == "superres":
        return model_ms_per_mp(options.model, models.get("model"))
    return {"faces": FACE_FRAME_MS + FACES_PER_FRAME * FACE_MS, "colorize": DDCOLOR_MS,
            "sharpen": SHARPEN_MS_PER_MP}[stage]


def _catalog_scale(model_id: str) -> int:
    from ..catalog import get_spec
    from ..errors import UnknownModelError

    try:
        return get_spec(model_id).scale
    except UnknownModelError:
        return 4


def load_s(weight_bytes: int) -> float:
    """Seconds to bring ``weight_bytes`` of weights onto the GPU."""
    return weight_bytes / 2**30 * LOAD_S_PER_GB


def estimate(ms: float, frames: int = 1, weight_bytes: int = 0) -> Estimate:
    """The seconds to declare for ``frames`` pictures of ``ms`` each (reference-GPU ms, see
    ``frame_ms``) and ``weight_bytes`` of models to load."""
    work = ms * frames / 1000 * time_scale()
    load = load_s(weight_bytes)
    return Estimate(max(FLOOR_S, MARGIN * (CALL_S + load + work)), work, load)


def frames_per_call(ms: float, weight_bytes: int, limit_s: float | None = None) -> int:
    """How many pictures of ``ms`` each fit in one call of at most ``limit_s`` seconds
    (``RESTORATION_GPU_MAX_S``) with its loading; 0 when not even one does."""
    limit_s = max_call_s() if limit_s is None else limit_s
    per = ms / 1000 * time_scale()
    room = limit_s / MARGIN - CALL_S - load_s(weight_bytes)
    if room <= 0:
        return 0
    return int(room // per) if per > 0 else 1 << 30


