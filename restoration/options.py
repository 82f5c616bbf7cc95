"""Options: the one validated description of a job, and the one rule that builds it.

Everything a surface needs to know about an option lives here once: its default, its range or
choices, its label and its help. The CLI's flags, the app's widgets and the client derive from
``FIELDS``; every surface builds options through ``build_options`` (a preset first, then only the
values the caller gave, ``None`` meaning "not given"). Pure Python: importing this module (and
``restoration`` itself) loads no torch, so the client can share it.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from .catalog import get_spec, wrong_kind
from .errors import OptionError, UnknownModelError
from .refs import check_ref, looks_like_file

Colorize = Literal["auto", "on", "off"]
Precision = Literal["auto", "fp32", "fp16", "bf16"]

OUTPUT_FORMATS = ("png", "jpeg", "webp", "tiff", "bmp")
MIN_TILE = 32
# codec id -> (encoder, pixel format, containers it may go in; the first is the default)
CODECS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "h264": ("libx264", "yuv420p", (".mp4", ".mkv", ".mov")),
    "h265": ("libx265", "yuv420p", (".mp4", ".mkv", ".mov")),
    "vp9": ("libvpx-vp9", "yuv420p", (".webm", ".mkv", ".mp4")),
    "ffv1": ("ffv1", "yuv444p", (".mkv",)),
    "png": ("png", "rgb24", (".mov",)),
    "av1": ("libsvtav1", "yuv420p", (".mp4", ".mkv", ".webm")),
    "prores": ("prores_ks", "yuv422p10le", (".mov", ".mkv")),
}
ENCODERS = ("auto", "software", "nvenc", "qsv", "amf")
SPEEDS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")
_DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class Field:
    """What one option is: ``kind`` (float, int, str or bool), its default, its range (``lo``..``hi``,
    ``step`` for a slider) or its ``choices``, a short ``label`` for widgets and ``help`` for flags;
    ``hint``: a line under a widget where the label needs one."""

    name: str
    kind: type
    default: Any
    label: str
    help: str
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    choices: tuple[str, ...] | None = None
    hint: str | None = None

    def range_text(self) -> str:
        return f"{self.lo:g} to {self.hi:g}"


def _f(name: str, kind: type, default: Any, label: str, help: str, **kw: Any) -> Field:
    return Field(name, kind, default, label, help, **kw)


IMAGE_FIELDS: tuple[Field, ...] = (
    _f("upscale", float, 4.0, "Upscale (0 = off)", "output scale 1-8 (any value, e.g. 1.5 or 6.5), "
       "or 0 for no super-resolution", lo=0, hi=8, step=0.5),
    _f("model", str, "realesrgan-x4plus", "Upscaler", "super-resolution model: a catalogue id (see `models "
       "list`), a weight file (.safetensors, .pth) or hf:owner/repo/file",
       hint="an id, a file name in the models folder, or hf:owner/repo/file"),
    _f("denoise", float, 0.0, "Denoise", "denoise strength 0-30 (0 = off), or auto (measured from the picture's "
       "noise: none on a clean one): non-local means' h, DRUNet's noise "
       "level (8-bit units); for a blind network, its share of the result (full from 15)", lo=0, hi=30, step=1),
    _f("denoise_model", str, "nlm", "Denoiser", "nlm (classical non-local means), drunet-color, scunet-real, "
       "a 1x restoration model file or hf:owner/repo/file",
       hint="nlm: strength = filter h; drunet: = noise level; others: share of the network's output (all from 15)"),
    _f("colorize", str, "auto", "Colorize", "colorize: auto (grayscale inputs only), on or off",
       choices=("auto", "on", "off")),
    _f("color_model", str, "ddcolor", "Colorizer", "colorization model id"),
    _f("sharpen", float, 0.0, "Sharpen", "detail enhancement 0-3 (0 = off)", lo=0, hi=3, step=0.1),
    _f("face", str, "off", "Faces", "face restoration model (gfpgan-v1.4, restoreformer, codeformer, a weight "
       "file or hf:owner/repo/file) or off",
       hint="restore faces from the input and paste them into the result"),
    _f("face_fidelity", float, None, "Face fidelity", "0 = the network's restored face, 1 = the original face "
       "(CodeFormer's weight; a blend for the others); default 0.5 for CodeFormer, 0 for the others",
       lo=0, hi=1, step=0.05,
       hint="0: the network's face, 1: the original (default: 0.5 for CodeFormer, 0 for the others)"),
    _f("face_mask", str, "box", "Face mask", "what of a restored face is pasted: box (a feathered square) "
       "or parse (skin, eyes, nose, mouth only: needs the face-parsing model)", choices=("box", "parse")),
    _f("face_min_size", int, 16, "Smallest face (px)", "faces smaller than this (input pixels) are left "
       "as they are and counted as skipped", lo=0, hi=4096, step=1),
    _f("device", str, "auto", "Device", "auto (CUDA when present), cpu, cuda or cuda:N"),
    _f("precision", str, "auto", "Precision", "auto (fp16 on CUDA where the model allows it; bf16 "
       "on a CPU with AVX-512 BF16 or AMX for upscalers and face models, checked against fp32), fp32, "
       "fp16 or bf16", choices=("auto", "fp32", "fp16", "bf16")),
    _f("tile", int, 0, "Tile", f"tile edge in input pixels (the part of each tile that is kept), "
       f"0 = automatic, else at least {MIN_TILE}", lo=0, hi=16384, step=8),
    _f("tile_pad", int, 32, "Tile context", "pixels of context computed around each tile and cut "
       "away, so no kept pixel comes from near a tile border", lo=0, hi=256, step=8),
    _f("output_format", str, None, "Format", "output format (default: from the output file's "
       "extension)", choices=OUTPUT_FORMATS),
    _f("quality", int, 95, "Quality", "JPEG/WebP quality 1-100", lo=1, hi=100, step=1),
)
VIDEO_FIELDS: tuple[Field, ...] = (
    _f("codec", str, "h264", "Codec", "h264/h265 (.mp4 .mkv .mov), vp9 (.webm), av1 (.mp4 .mkv .webm), "
       "prores (.mov, 422 HQ 10-bit, for editors), ffv1 (.mkv, lossless), png (.mov, lossless)",
       choices=tuple(CODECS),
       hint="h264/h265/av1 → MP4, vp9 → WebM, prores → MOV (editors), ffv1 → MKV and png → MOV (lossless)"),
    _f("deinterlace", str, "auto", "Deinterlace", "auto (interlaced or telecined video found on its first "
       "frames and made progressive; progressive video left alone), on, off, fields (one frame per field: "
       "25i becomes 50p) or film (telecined 29.97i matched back to 23.976p)",
       choices=("auto", "on", "off", "fields", "film"),
       hint="auto finds interlaced (VHS, DV, broadcast) and telecined video by itself"),
    _f("encoder", str, "auto", "Encoder", "auto (NVENC where an NVIDIA GPU has it, else software), software, "
       "nvenc, qsv or amf (hardware encoders: h264, h265 and av1 only)", choices=ENCODERS),
    _f("crf", int, 18, "Quality (CRF, lower is better)", "quality of h264/h265/vp9, 0-51, lower is "
       "better", lo=0, hi=51, step=1),
    _f("speed", str, "medium", "Encoder speed", "x264/x265 preset: ultrafast ... veryslow", choices=SPEEDS),
    _f("batch", int, 4, "Frames per pass", "frames per pass through the stages", lo=1, hi=64, step=1),
    _f("segment_seconds", float, 10.0, "Segment seconds", "resume granularity: work is saved every this "
       "many seconds of video", lo=0.5, hi=3600, step=0.5),
    _f("stabilize", bool, True, "Stabilize", "temporal smoothing of colour (colorize) and static areas "
       "(denoise)"),
    _f("interpolate", int, 1, "Frame-rate multiplier", "frame interpolation: N times the frames (2, 3, 4...; "
       "1 = off), each in-between frame drawn at its exact moment", lo=1, hi=8, step=1,
       hint="2: twice the frames (12 → 24 fps); 1: off"),
    _f("fps", float, None, "Target frame rate", "frame interpolation to this frame rate (16 → 24 for 8 mm "
       "film, 25 → 50, 24 → 60); instead of interpolate", lo=1, hi=240, step=1,
       hint="empty: keep the frame rate (or use the multiplier)"),
    _f("interpolation_model", str, "rife-4.26", "Interpolation model", "frame interpolation network: "
       "rife-4.26, a RIFE 4.25/4.26 flownet.pkl file or hf:owner/repo/file"),
)
FIELDS: dict[str, Field] = {f.name: f for f in (*IMAGE_FIELDS, *VIDEO_FIELDS)}
_D = {name: f.default for name, f in FIELDS.items()}  # the dataclasses' defaults come from FIELDS


@dataclass(frozen=True)
class RestoreOptions:
    """What to do with an image or a video frame; each stage is optional.

    Stages run in this order: denoise -> super-resolution (faces restored from the denoised input and
    pasted into its result) -> colorize -> sharpen. ``FIELDS`` holds each
    option's range and meaning. ``upscale`` is 0 (stage off) or 1 to 8: the model runs at its native
    scale as many times as fits and a bicubic (antialiased) resize does the rest. ``colorize`` changes
    chroma only. ``tile`` is the kept core of a tile (0: chosen from free memory); ``tile_pad`` pixels of
    context around it are computed and thrown away. ``output_format`` None follows the output file's
    extension. Raises ``OptionError`` naming the option, the value and what is allowed.
    """

    denoise: float | str = _D["denoise"]
    denoise_model: str = _D["denoise_model"]
    upscale: float = _D["upscale"]
    model: str = _D["model"]
    colorize: Colorize = _D["colorize"]
    color_model: str = _D["color_model"]
    sharpen: float = _D["sharpen"]
    face: str = _D["face"]
    face_fidelity: float | None = _D["face_fidelity"]
    face_mask: str = _D["face_mask"]
    face_min_size: int = _D["face_min_size"]
    device: str = _D["device"]
    precision: Precision = _D["precision"]
    tile: int = _D["tile"]
    tile_pad: int = _D["tile_pad"]
    output_format: str | None = _D["output_format"]
    quality: int = _D["quality"]

    def __post_init__(self) -> None:
        if isinstance(self.denoise, str):  # "auto", "off", or a number typed into a menu
            word = self.denoise.strip().lower()
            value = {"auto": AUTO, "off": 0.0}.get(word, word)
            with contextlib.suppress(ValueError):
                value = float(value) if value != AUTO else AUTO
            object.__setattr__(self, "denoise", value)
        for name in ("denoise", "upscale", "sharpen", "tile", "tile_pad", "quality", "colorize", "precision",
                     "face_fidelity", "face_mask", "face_min_size"):
            if not (name == "denoise" and self.denoise == AUTO):
                _check(self, FIELDS[name])
        if 0.0 < self.upscale < 1.0:
            raise OptionError(f"upscale={self.upscale!r} is not allowed: use 0 (no super-resolution) or 1 to 8")
        if not isinstance(self.device, str) or not _DEVICE_RE.match(self.device):
            raise OptionError(f"device={self.device!r} is not valid: use 'auto', 'cpu', 'cuda' or 'cuda:N'")
        if 0 < self.tile < MIN_TILE:
            raise OptionError(f"tile={self.tile} is too small: use 0 (automatic) or {MIN_TILE} to 16384")
        if self.output_format is not None:
            object.__setattr__(self, "output_format", normalize_format(self.output_format))
        _model(self, "model", "super-resolution")
        _model(self, "color_model", "colorization")
        if self.face != "off":
            _model(self, "face", "face-restoration")
        if self.denoise_model != "nlm":
            _model(self, "denoise_model", "restoration")

    @property
    def does_superres(self) -> bool:
        return self.upscale > 0

    @property
    def denoises(self) -> bool:
        """Whether the denoise stage may run (a strength above 0, or ``"auto"``, which measures first)."""
        return self.denoise == AUTO or self.denoise > 0

    def colorizes(self, monochrome: bool | None) -> bool:
        """Whether colorization runs on a picture: always with "on", on a ``monochrome`` one with "auto"
        (None: not known yet, so not counted)."""
        return self.colorize == "on" or (self.colorize == "auto" and bool(monochrome))

    def with_(self, **changes: Any) -> RestoreOptions:
        """A copy with ``changes`` applied (and validated). Raises ``OptionError``."""
        _check_names(changes, RestoreOptions)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VideoOptions:
    """How a video is encoded and how the work is cut (see ``VIDEO_FIELDS``): ``codec``, ``crf`` for
    the lossy codecs, ``speed`` (the x264/x265 preset), ``batch`` frames per pass, ``segment_seconds``
    (resume granularity), ``stabilize`` (temporal smoothing of chroma and static luma), and frame
    interpolation: ``interpolate`` (a multiplier) or ``fps`` (a target rate), with ``interpolation_model``."""

    codec: str = _D["codec"]
    deinterlace: str = _D["deinterlace"]
    encoder: str = _D["encoder"]
    crf: int = _D["crf"]
    speed: str = _D["speed"]
    batch: int = _D["batch"]
    segment_seconds: float = _D["segment_seconds"]
    stabilize: bool = _D["stabilize"]
    interpolate: int = _D["interpolate"]
    fps: float | None = _D["fps"]
    interpolation_model: str = _D["interpolation_model"]

    def __post_init__(self) -> None:
        for f in VIDEO_FIELDS:
            if f.name != "interpolation_model":
                _check(self, f)
        if self.fps is not None and self.interpolate != 1:
            raise OptionError(f"interpolate={self.interpolate} and fps={self.fps:g} both set the frame rate: give "
                              "one of them")
        m = self.interpolation_model
        if not isinstance(m, str) or not m.strip():
            raise OptionError(f"interpolation_model={m!r} must be a model id, a file or hf:owner/repo/file")
        if m.startswith("hf:") or looks_like_file(m):
            check_ref(m, "interpolation_model")
        else:
            try:
                spec = get_spec(m, "interpolation")
            except UnknownModelError as e:
                raise OptionError(f"interpolation_model: {e}; or give a RIFE flownet.pkl file or "
                                  "hf:owner/repo/file") from None
            if spec.task != "interpolation":
                raise wrong_kind(f"interpolation_model={m!r}", spec.task, "interpolation")

    @property
    def interpolates(self) -> bool:
        """Whether frames are made between the video's own (``interpolate`` above 1, or ``fps``)."""
        return self.interpolate > 1 or self.fps is not None

    @property
    def suffix(self) -> str:
        """The extension an output gets when the user names no file (the codec's first container)."""
        return CODECS[self.codec][2][0]




def build_options(preset: str | None = None, /, **given: Any) -> RestoreOptions:
    """The one rule every surface uses: start from ``preset`` (or the library's defaults), then apply
    only the values given; ``None`` means "not given" and leaves the preset's value.

    ``preset`` None, "" or "none" means no preset. Raises ``OptionError`` for an unknown preset, an
    unknown option name or a value out of range.
    """
    given = {k: v for k, v in given.items() if v is not None}
    _check_names(given, RestoreOptions)
    if preset in (None, "", NO_PRESET):
        return RestoreOptions(**given)
    if preset not in PRESETS:
        raise OptionError(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)} (or none)")
    return replace(PRESETS[preset], **given)


def build_video_options(**given: Any) -> VideoOptions:
    """``VideoOptions`` from the values given (``None`` = not given: the default). Raises
    ``OptionError`` for an unknown name or a value out of range."""
    given = {k: v for k, v in given.items() if v is not None}
    _check_names(given, VideoOptions)
    return VideoOptions(**given)


def normalize_format(fmt: str) -> str:
    """'JPG' -> 'jpeg', 'tif' -> 'tiff'... Raises ``OptionError`` for anything unsupported."""
    if not isinstance(fmt, str):
        raise OptionError(f"output_format={fmt!r} must be a string such as 'png'")
    f = fmt.strip().lower().lstrip(".")
    f = {"jpg": "jpeg", "tif": "tiff"}.get(f, f)
    if f not in OUTPUT_FORMATS:
        raise OptionError(f"output_format={fmt!r} is not supported; use one of {', '.join(OUTPUT_FORMATS)}")
    return f


def _check_names(data: Mapping[str, Any], cls: type) -> None:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise OptionError(f"unknown option(s) {', '.join(unknown)}; known options: {', '.join(sorted(known))}")


def _check(opts: Any, spec: Field) -> None:
    """Validate (and normalise: 2.0 -> 2 for whole numbers) the attribute ``spec.name`` of ``opts``."""
    name, v = spec.name, getattr(opts, spec.name)
    if v is None and spec.default is None:  # "the default": decided where it is used
        return
    if spec.choices is not None:
        if v not in spec.choices:
            raise OptionError(f"{name}={v!r} is not valid: use one of {', '.join(spec.choices)}")
        return
    if spec.kind is bool:
        if not isinstance(v, bool):
            raise OptionError(f"{name}={v!r} must be true or false")
        return
    if spec.kind is int and isinstance(v, float) and math.isfinite(v) and v.is_integer():
        v = int(v)
    whole = spec.kind is int
    if isinstance(v, bool) or not isinstance(v, int if whole else (int, float)):
        what = "a whole number" if whole else "a number"
        raise OptionError(f"{name}={v!r} must be {what} from {spec.range_text()}")
    if not math.isfinite(v) or not spec.lo <= v <= spec.hi:
        raise OptionError(f"{name}={v!r} is out of range: allowed {spec.range_text()}")
    object.__setattr__(opts, name, v if whole else float(v))


def _model(opts: RestoreOptions, name: str, task: str) -> None:
    v = getattr(opts, name)
    if not isinstance(v, str):
        raise OptionError(f"{name}={v!r} must be a model id string")
    if name == "face":
        v = v.replace(" (non-commercial)", "")  # the label menus show
        object.__setattr__(opts, name, v)
    if name != "color_model" and (v.startswith("hf:") or looks_like_file(v)):
        check_ref(v, name)  # what the file holds is checked when it is loaded
        return
    try:
        spec = get_spec(v, task)
    except UnknownModelError as e:
        files = "" if name == "color_model" else "; or give a weight file (.safetensors, .pth) or hf:owner/repo/file"
        raise OptionError(f"{name}: {e}{files}") from None
    if spec.task != task:
        raise wrong_kind(f"{name}={v!r}", spec.task, task)


AUTO = "auto"  # denoise="auto": the strength measured from the picture's noise

PRESETS: dict[str, RestoreOptions] = {
    # Scanned prints: grain, small size, often black and white.
    "old-photo": RestoreOptions(denoise=AUTO, upscale=4, model="realesrgan-x4plus", colorize="auto", sharpen=1.0,
                                face="gfpgan-v1.4"),
    # Modern low-resolution pictures: light clean-up, x2.
    "digital": RestoreOptions(denoise=AUTO, upscale=2, model="realesrgan-x2plus", colorize="off", sharpen=0.8),
    # Video frames: the small fast network, x2, gentle settings.
    "video": RestoreOptions(denoise=AUTO, upscale=2, model="realesr-general-x4v3", colorize="off", sharpen=0.5),
    # Drawings and anime: the anime network, no denoise (it already cleans flat areas).
    "anime": RestoreOptions(denoise=0, upscale=4, model="realesrgan-x4plus-anime", colorize="off", sharpen=0.0),
}
NO_PRESET = "none"
