"""Whether a network may run in half precision: its output compared with its fp32 twin's on a photo.

A model file's first fp16/bf16 load on a GPU, and every network's first bf16 load on a CPU (where
bf16 is the default, not the user's choice), go through ``keep_half``: below the floor, or when the
half-precision network fails, the fp32 twin runs instead and the log says why.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch

log = logging.getLogger(__name__)

PRECISION_FLOOR_DB = 40.0  # a model file's fp16/bf16 on a GPU
CPU_PRECISION_FLOOR_DB = 45.0  # bf16 on a CPU is the default, not a choice: it must stay closer to fp32

Net = Callable[[torch.Tensor], torch.Tensor]


def precision_psnr(low: Net, reference: Net, x: torch.Tensor) -> float:
    """PSNR (dB) of a half-precision network's output against its fp32 twin's on ``x``; -inf when the
    half-precision output is not finite."""
    a, b = low(x).float(), reference(x).float()
    if not bool(torch.isfinite(a).all()):
        return float("-inf")
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(1 / mse)


def check_picture(size: int = 64) -> torch.Tensor:
    """A small real photo (scikit-image's astronaut at 64x64, resized to ``size``), float (1, 3, size,
    size): what half precision is checked on. A synthetic smooth picture or noise misjudges it (40 and
    48 dB for a network that gives photos 55 dB in bf16)."""
    from skimage import data

    rgb = data.astronaut()[4::8, 4::8][:64, :64]
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float().div_(255)
    return x if size == 64 else torch.nn.functional.interpolate(x, size=(size, size), mode="bicubic").clamp_(0, 1)


def keep_half(name: str, dtype: torch.dtype, low: Net, reference: Net, x: torch.Tensor, floor: float) -> bool:
    """True when ``low`` (``name`` in ``dtype``) is within ``floor`` dB of its fp32 twin ``reference``
    on ``x``; otherwise warns, saying why, and returns False (the caller runs fp32)."""
    half = str(dtype).replace("torch.", "")
    try:
        quality = precision_psnr(low, reference, x)
    except RuntimeError as e:  # an operation the half-precision kernels lack
        log.warning("%s in %s failed (%s): running it in fp32", name, half, str(e).splitlines()[0])
        return False
    if quality >= floor:
        return True
    log.warning("%s in %s differs from fp32 (%.1f dB, below %g): running it in fp32", name, half, quality, floor)
    return False
