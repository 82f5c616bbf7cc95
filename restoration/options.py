"""``RestoreOptions``: the one validated description of a restoration job.

The same frozen dataclass is built by the Python API, the CLI, the app and the client. Every field is
checked when the object is made; errors name the field, the value given and what is allowed.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from .catalog import get_spec
from .errors import OptionError, UnknownModelError

Colorize = Literal["auto", "on", "off"]
Precision = Literal["auto", "fp32", "fp16", "bf16"]

OUTPUT_FORMATS = ("png", "jpeg", "webp", "tiff", "bmp")
MAX_UPSCALE = 8.0
MAX_DENOISE = 30.0
MAX_SHARPEN = 3.0
MIN_TILE = 32
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class RestoreOptions:
    """What to do with an image or a video frame; each stage is optional.

    Stages run in this order: denoise -> super-resolution -> colorize -> sharpen.

    - ``denoise``: non-local-means strength, 0 (off) to 30.
    - ``upscale``: output scale, 0 (stage off) or 1 to 8. The model runs at its native scale as many
      times as fits and a bicubic (antialiased) resize does the rest; 1 restores at the input's size.
    - ``model``: super-resolution model id from the catalogue.
    - ``colorize``: ``auto`` colours only grayscale (or toned monochrome) inputs, ``on`` always,
      ``off`` never. Colorization changes chroma only; the luminance stays the input's.
    - ``color_model``: colorization model id.
    - ``sharpen``: unsharp-mask amount on the luminance, 0 (off) to 3.
    - ``device``: ``auto`` (CUDA when present), ``cpu``, ``cuda`` or ``cuda:N``.
    - ``precision``: ``auto`` (fp16 on CUDA where the model allows it, fp32 on CPU), or forced.
    - ``tile``: tile edge in input pixels; 0 picks one from free memory. Otherwise at least 32.
    - ``tile_overlap``: pixels shared by neighbouring tiles, blended to hide seams (0 to 256).
    - ``output_format``: ``png|jpeg|webp|tiff|bmp``, or None to follow the output file's extension.
    - ``quality``: JPEG/WebP quality, 1 to 100.
    """

    denoise: float = 0.0
    upscale: float = 4.0
    model: str = "realesrgan-x4plus"
    colorize: Colorize = "auto"
    color_model: str = "ddcolor"
    sharpen: float = 0.0
    device: str = "auto"
    precision: Precision = "auto"
    tile: int = 0
    tile_overlap: int = 64
    output_format: str | None = None
    quality: int = 95

    def __post_init__(self) -> None:
        _number(self, "denoise", 0.0, MAX_DENOISE)
        up = _number(self, "upscale", 0.0, MAX_UPSCALE)
        if 0.0 < up < 1.0:
            raise OptionError(f"upscale={up!r} is not allowed: use 0 (no super-resolution) or 1 to 8")
        _number(self, "sharpen", 0.0, MAX_SHARPEN)
        _choice(self, "colorize", ("auto", "on", "off"))
        _choice(self, "precision", ("auto", "fp32", "fp16", "bf16"))
        dev = self.device
        if not isinstance(dev, str) or not _DEVICE_RE.match(dev):
            raise OptionError(f"device={dev!r} is not valid: use 'auto', 'cpu', 'cuda' or 'cuda:N'")
        tile = _integer(self, "tile", 0, 16384)
        if 0 < tile < MIN_TILE:
            raise OptionError(f"tile={tile} is too small: use 0 (automatic) or {MIN_TILE} to 16384")
        _integer(self, "tile_overlap", 0, 256)
        _integer(self, "quality", 1, 100)
        fmt = self.output_format
        if fmt is not None:
            norm = normalize_format(fmt)
            object.__setattr__(self, "output_format", norm)
        _model(self, "model", "super-resolution")
        _model(self, "color_model", "colorization")

    # -- convenience -------------------------------------------------------------------------
    @property
    def does_superres(self) -> bool:
        return self.upscale > 0

    def with_(self, **changes: Any) -> RestoreOptions:
        """A copy with ``changes`` applied (and validated)."""
        _check_names(changes)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RestoreOptions:
        """Build from a mapping; a ``preset`` key starts from that preset. Unknown keys are errors."""
        data = dict(data)
        preset = data.pop("preset", None)
        if preset:
            return cls.from_preset(str(preset), **data)
        _check_names(data)
        return cls(**data)

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> RestoreOptions:
        """The preset ``name`` (see ``PRESETS``) with ``overrides`` on top."""
        try:
            base = PRESETS[name]
        except KeyError:
            raise OptionError(
                f"unknown preset {name!r}; presets: {', '.join(PRESETS)}"
            ) from None
        _check_names(overrides)
        return replace(base, **overrides)


def normalize_format(fmt: str) -> str:
    """'JPG' -> 'jpeg', 'tif' -> 'tiff'...; ``OptionError`` for anything unsupported."""
    if not isinstance(fmt, str):
        raise OptionError(f"output_format={fmt!r} must be a string such as 'png'")
    f = fmt.strip().lower().lstrip(".")
    f = {"jpg": "jpeg", "tif": "tiff"}.get(f, f)
    if f not in OUTPUT_FORMATS:
        raise OptionError(
            f"output_format={fmt!r} is not supported; use one of {', '.join(OUTPUT_FORMATS)}"
        )
    return f


def _check_names(data: dict[str, Any]) -> None:
    known = {f.name for f in fields(RestoreOptions)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise OptionError(
            f"unknown option(s) {', '.join(unknown)}; known options: {', '.join(sorted(known))}"
        )


def _number(opts: RestoreOptions, name: str, lo: float, hi: float) -> float:
    v = getattr(opts, name)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise OptionError(f"{name}={v!r} must be a number from {lo:g} to {hi:g}")
    if not math.isfinite(v) or not lo <= v <= hi:
        raise OptionError(f"{name}={v!r} is out of range: allowed {lo:g} to {hi:g}")
    v = float(v)
    object.__setattr__(opts, name, v)
    return v


def _integer(opts: RestoreOptions, name: str, lo: int, hi: int) -> int:
    v = getattr(opts, name)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise OptionError(f"{name}={v!r} must be a whole number from {lo} to {hi}")
    if not lo <= v <= hi:
        raise OptionError(f"{name}={v!r} is out of range: allowed {lo} to {hi}")
    object.__setattr__(opts, name, v)
    return v


def _choice(opts: RestoreOptions, name: str, allowed: tuple[str, ...]) -> None:
    v = getattr(opts, name)
    if v not in allowed:
        raise OptionError(f"{name}={v!r} is not valid: use one of {', '.join(allowed)}")


def _model(opts: RestoreOptions, name: str, task: str) -> None:
    v = getattr(opts, name)
    if not isinstance(v, str):
        raise OptionError(f"{name}={v!r} must be a model id string")
    try:
        spec = get_spec(v)
    except UnknownModelError as e:
        raise OptionError(f"{name}: {e}") from None
    if spec.task != task:
        raise OptionError(f"{name}={v!r} is a {spec.task} model; a {task} model is needed here")


PRESETS: dict[str, RestoreOptions] = {
    # Scanned prints: grain, small size, often black and white.
    "old-photo": RestoreOptions(
        denoise=15, upscale=4, model="realesrgan-x4plus", colorize="auto", sharpen=1.0
    ),
    # Modern low-resolution pictures: light clean-up, x2.
    "digital": RestoreOptions(
        denoise=10, upscale=2, model="realesrgan-x2plus", colorize="off", sharpen=0.8
    ),
    # Video frames: the small fast network, x2, gentle settings.
    "video": RestoreOptions(
        denoise=10, upscale=2, model="realesr-general-x4v3", colorize="off", sharpen=0.5
    ),
    # Drawings and anime: the anime network, no denoise (it already cleans flat areas).
    "anime": RestoreOptions(
        denoise=0, upscale=4, model="realesrgan-x4plus-anime", colorize="off", sharpen=0.0
    ),
}
