"""RIFE weights in, frames out: loading a ``flownet.pkl`` safely and running it on frames.

``load_interpolator(model, device, precision)`` resolves the weights like every model (a catalogue id,
a file, or ``hf:owner/repo/file``), reads them with PyTorch's restricted unpickler (tensors and plain
containers only: a pickle that would run code is refused), accepts the ``module.`` prefix that
training leaves, ignores the training-only ``teacher``/``caltime`` parts, refuses a file that is not
RIFE 4.25/4.26 with what it is, and keeps the network for later calls.

An ``Interpolator`` works on prepared frames: ``prepare`` puts a frame on the device, pads it and
computes its features once; ``between`` draws the frame at any moment between two prepared frames.
Above 1080p motion is estimated at half resolution (as RIFE's authors do for 4K). Precision: fp16 on
CUDA, bf16 on a CPU that computes it natively when its output stays within the CPU floor of fp32's
on a moving photo, else fp32; sampling positions are always fp32.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import precision as half_check
from ..accel import cpu_bf16
from ..errors import ModelLoadError, OptionError
from .ifnet import IFNet

log = logging.getLogger(__name__)

DEFAULT_MODEL = "rife-4.26"
TRAINING_ONLY = ("teacher.", "caltime.")  # parts of a training checkpoint that inference never uses
FULL_RESOLUTION_MOTION = 1920 * 1088  # above this many pixels, motion is estimated at half resolution
_lock = threading.Lock()
_cache: dict[tuple[str, str, str, str, int, int], Interpolator] = {}
_files: dict[tuple[str, int, int], IFNet] = {}  # each file's network as read (fp32, CPU)


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a RIFE weight file (``.pkl``/``.pth``/``.ckpt`` read with the restricted unpickler,
    or ``.safetensors``), without a ``module.`` prefix. Raises ``ModelLoadError``."""
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - UnpicklingError, RuntimeError, OSError, safetensors' own...
        raise ModelLoadError(f"{path.name} could not be read as model weights ({type(e).__name__}: "
                             f"{str(e).splitlines()[0][:200]}); a RIFE file holds only tensors") from e
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelLoadError(f"{path.name} holds a {type(state).__name__}, not a network's weights")
    return {k.removeprefix("module."): v for k, v in state.items() if isinstance(v, torch.Tensor)}


def is_rife(state: dict[str, torch.Tensor]) -> bool:
    """Whether ``state`` has RIFE's parts (``block0``..., ``encode``)."""
    return "block0.conv0.0.0.weight" in state and "encode.cnn0.weight" in state


def build(state: dict[str, torch.Tensor], name: str) -> IFNet:
    """An IFNet holding ``state``. Raises ``ModelLoadError`` for another network, or a RIFE of another
    version (other blocks or widths), naming what differs."""
    if not is_rife(state):
        raise ModelLoadError(f"{name} is not a RIFE frame-interpolation model (it has no block0 ... block4 and "
                             "encode weights); interpolation takes RIFE 4.25/4.26's flownet.pkl")
    net = IFNet()
    wanted = net.state_dict()
    used = {k: v for k, v in state.items() if not k.startswith(TRAINING_ONLY)}
    missing = sorted(set(wanted) - set(used))
    extra = sorted(set(used) - set(wanted))
    shapes = [k for k in set(wanted) & set(used) if wanted[k].shape != used[k].shape]
    if missing or extra or shapes:
        what = (f"missing {missing[:3]}" if missing else f"unknown {extra[:3]}" if extra
                else f"other shapes for {sorted(shapes)[:3]}")
        raise ModelLoadError(f"{name} is RIFE of another version than 4.25/4.26 ({what}); give a RIFE 4.25 or 4.26 "
                             "flownet.pkl")
    net.load_state_dict(used, strict=True)
    return net.eval()


@dataclass
class Prepared:
    """A frame on the device: padded pixels (1, 3, H', W') and their features; ``size`` = (h, w)."""

    pixels: torch.Tensor
    features: torch.Tensor
    size: tuple[int, int]


class Interpolator:
    """A loaded RIFE on a device in a precision (see the module)."""

    def __init__(self, net: IFNet, device: torch.device, dtype: torch.dtype, name: str) -> None:
        self.net, self.device, self.dtype, self.name = net, device, dtype, name
        self._fallback = False

    def coarse(self, h: int, w: int) -> int:
        """1: motion at full resolution; 2: at half (frames above 1080p)."""
        return 2 if h * w > FULL_RESOLUTION_MOTION else 1

    @torch.inference_mode()
    def prepare(self, frame: np.ndarray | torch.Tensor) -> Prepared:
        """``frame``: RGB uint8 (H, W, 3), or a float tensor (3, H, W) in [0, 1] on any device; kept in
        fp32 (only the network's convolutions run in its precision)."""
        if isinstance(frame, np.ndarray):
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise OptionError(f"a frame must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
            x = torch.from_numpy(np.ascontiguousarray(frame)).to(self.device).permute(2, 0, 1).float().div_(255)
        else:
            x = frame.to(self.device).float()
        h, w = x.shape[-2:]
        m = self.net.multiple(self.coarse(h, w))
        # Zeros, as RIFE's authors pad: measured on moving photos, repeating the edge instead lost up to
        # 5 dB where new content comes in at the padded side.
        x = F.pad(x[None], (0, -w % m, 0, -h % m))
        return Prepared(x, self.net.features(x), (h, w))

    @torch.inference_mode()
    def between_tensor(self, a: Prepared, b: Prepared, t: float) -> torch.Tensor:
        """The frame at moment ``t`` (0 < t < 1) as a float tensor (3, H, W) in [0, 1] on the device."""
        if a.size != b.size:
            raise OptionError(f"frames of different sizes ({a.size[1]}x{a.size[0]}, {b.size[1]}x{b.size[0]}) "
                              "cannot be interpolated")
        h, w = a.size
        out = self.net(a.pixels, b.pixels, a.features, b.features, t, self.coarse(h, w))
        return out[0, :, :h, :w].float().clamp_(0, 1)

    @torch.inference_mode()
    def between(self, a: Prepared, b: Prepared, t: float) -> np.ndarray:
        """The frame at moment ``t`` as RGB uint8 (H, W, 3)."""
        out = self.between_tensor(a, b, t)
        return out.mul_(255).round_().to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def _cpu_precision(net: IFNet, device: torch.device, name: str) -> IFNet:
    """A bf16 copy of ``net`` when this CPU computes bf16 natively and RIFE's output in it stays within
    the CPU floor of fp32's on a photo moved by a few pixels; ``net`` (fp32) otherwise."""
    if not cpu_bf16():
        return net
    low = copy.deepcopy(net).to(torch.bfloat16).to(memory_format=torch.channels_last)
    photo = half_check.check_picture(128).to(device)
    moved = torch.roll(photo, shifts=(3, -5), dims=(2, 3))

    def run(n: IFNet, dtype: torch.dtype):
        def go(x: torch.Tensor) -> torch.Tensor:
            i = Interpolator(n, device, dtype, name)
            return i.between_tensor(i.prepare(x[0]), i.prepare(moved[0]), 0.5)[None]
        return go

    keep = half_check.keep_half(name, torch.bfloat16, run(low, torch.bfloat16), run(net, torch.float32), photo,
                                half_check.CPU_PRECISION_FLOOR_DB)
    return low if keep else net


def _reference(model: str | None) -> tuple[Any, Any]:
    """(the parsed reference, where its weights are) of ``model``, a catalogue id checked to be RIFE's kind."""
    from ..catalog import get_spec
    from ..models import check_task, locate
    from ..refs import parse_ref

    ref = parse_ref(model or DEFAULT_MODEL)
    if ref.kind == "catalog":
        check_task(get_spec(ref.text), "interpolation", ref.name)
    return ref, locate(ref.text)


def _built(name: str, path: Path) -> IFNet:
    """The network of the file ``path`` in fp32 on the CPU, read once per file (kept; copied for use)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    with _lock:
        if key not in _files:
            _files[key] = build(read_state(path), name)
        return _files[key]


def check_model(model: str | None = None) -> None:
    """Find and read ``model``'s file (``load_interpolator`` then uses what was read), so that one that
    is missing or not RIFE is refused before any work. Raises what ``load_interpolator`` raises."""
    ref, weights = _reference(model)
    _built(ref.name, weights.path)


def load_interpolator(model: str | None = None, device: str = "auto", precision: str = "auto") -> Interpolator:
    """The RIFE of ``model`` (a catalogue id, a weight file or ``hf:owner/repo/file``; default
    ``rife-4.26``) on ``device`` (auto, cpu, cuda[:N]) in ``precision`` (auto, fp32, fp16, bf16);
    cached. Raises what ``models.locate`` raises, ``ModelLoadError`` and ``OptionError``."""
    from ..models import resolve_device

    ref, weights = _reference(model)
    if precision not in ("auto", "fp32", "fp16", "bf16"):
        raise OptionError(f"precision must be auto, fp32, fp16 or bf16, got {precision!r}")
    dev = resolve_device(device)
    st = weights.path.stat()
    key = (ref.text, str(dev), precision, str(weights.path), st.st_size, st.st_mtime_ns)
    built = _built(ref.name, weights.path)
    with _lock:
        hit = _cache.get(key)
        if hit is None:
            net = copy.deepcopy(built).to(dev)  # its own copy: moving or casting a module changes it in place
            if dev.type == "cuda":
                net = net.to({"fp32": torch.float32, "bf16": torch.bfloat16}.get(precision, torch.float16))
            elif precision == "bf16":
                net = net.to(torch.bfloat16).to(memory_format=torch.channels_last)
            elif precision == "auto":
                net = _cpu_precision(net, dev, ref.name)
            dtype = next(net.parameters()).dtype
            hit = _cache[key] = Interpolator(net, dev, dtype, ref.name)
            log.info("loaded %s from %s on %s as %s", ref.name, weights.path, dev, str(dtype).replace("torch.", ""))
    return hit


def interpolate(before: np.ndarray, after: np.ndarray, t: float | Sequence[float] = 0.5, *, model: str | None = None,
                device: str | None = None, precision: str | None = None) -> np.ndarray | list[np.ndarray]:
    """The frame at moment ``t`` between ``before`` (t=0) and ``after`` (t=1), RGB uint8 (H, W, 3) in
    and out; a list of frames for a sequence of moments. ``model``: ``rife-4.26`` (default), a file or
    ``hf:``. Raises ``OptionError`` (a moment outside (0, 1), frames of other sizes or kinds) and what
    ``load_interpolator`` raises."""
    moments = [float(x) for x in t] if isinstance(t, Sequence) else [float(t)]
    bad = [x for x in moments if not 0 < x < 1]
    if bad:
        raise OptionError(f"t must be between 0 and 1 (exclusive), got {bad[0]:g}")
    net = load_interpolator(model, device or "auto", precision or "auto")
    a, b = net.prepare(before), net.prepare(after)
    frames = [net.between(a, b, x) for x in moments]
    return frames if isinstance(t, Sequence) else frames[0]
