"""Which encoder writes a video: software (libx264, libx265, libvpx-vp9, libsvtav1, ffv1, prores_ks, png) or
a hardware one (NVENC; QSV and AMF where present), chosen once per job so every segment is alike.

``choose(video, colour)`` turns the ``encoder`` option into an ``Encoding``: ``auto`` takes NVENC where a
CUDA GPU is here and the encoder opens, else the software one (saying why it fell back); ``nvenc``,
``qsv`` or ``amf`` must open, or the job is refused before any work with what to do; ``software``
never tries hardware. Each encoder gets options meaning the same quality (``crf``) and no B-frames, so
segments join with increasing timestamps.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction

from ..errors import OptionError
from ..options import CODECS, VideoOptions
from .colour import Colour, keeps_depth, pixel_format

log = logging.getLogger(__name__)

HARDWARE = {  # kind -> codec -> encoder
    "nvenc": {"h264": "h264_nvenc", "h265": "hevc_nvenc", "av1": "av1_nvenc"},
    "qsv": {"h264": "h264_qsv", "h265": "hevc_qsv", "av1": "av1_qsv"},
    "amf": {"h264": "h264_amf", "h265": "hevc_amf", "av1": "av1_amf"},
}
NAMES = {"nvenc": "NVENC (NVIDIA)", "qsv": "Quick Sync (Intel)", "amf": "AMF (AMD)"}


@dataclass(frozen=True)
class Encoding:
    """How segments are encoded: the encoder, its pixel format and options, the colour to tag, and why a
    hardware encoder was not used (``note``)."""

    name: str
    pix_fmt: str
    options: dict[str, str]
    colour: Colour
    note: str = ""
    hardware: bool = field(default=False)
    deep: bool = False  # frames travel as 16-bit RGB (a deep source, an output that keeps it)


def _software_options(video: VideoOptions) -> dict[str, str]:
    crf = str(video.crf)
    if video.codec in ("h264", "h265"):
        # no B-frames: decode order = display order, so segments join with monotonic timestamps
        params = "bframes=0" if video.codec == "h264" else "bframes=0:log-level=error"
        return {"crf": crf, "preset": video.speed, f"x26{video.codec[-1]}-params": params}
    if video.codec == "vp9":
        return {"crf": crf, "b": "0", "row-mt": "1", "lag-in-frames": "0"}
    if video.codec == "av1":
        os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 says only its errors
        speed = {"ultrafast": 12, "superfast": 11, "veryfast": 10, "faster": 9, "fast": 8, "medium": 7,
                 "slow": 5, "slower": 4, "veryslow": 2}[video.speed]
        return {"crf": str(min(63, video.crf)), "preset": str(speed), "svtav1-params": "pred-struct=1"}
    if video.codec == "ffv1":
        return {"level": "3", "slicecrc": "1"}
    if video.codec == "prores":
        return {"profile": "3", "vendor": "apl0"}  # ProRes 422 HQ
    return {}


def _hardware_options(video: VideoOptions) -> dict[str, str]:
    return {"rc": "vbr", "cq": str(max(1, video.crf)), "bf": "0", "preset": "p5"}


def opens(name: str, pix_fmt: str) -> str | None:
    """None when the encoder ``name`` opens here (a 64x64 test), else why not."""
    import av

    try:
        ctx = av.codec.CodecContext.create(name, "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 64, 64, pix_fmt, Fraction(1, 25)
        ctx.open()
        ctx.close()
    except Exception as e:  # noqa: BLE001 - missing driver, no device, unsupported format...
        return str(e).split(": '")[0] or type(e).__name__
    return None


def _cuda_here() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


def choose(video: VideoOptions, colour: Colour) -> Encoding:
    """The job's ``Encoding`` (see the module). Raises ``OptionError`` for a hardware encoder that this
    codec has not or that does not open here."""
    deep = colour.deep and keeps_depth(video.codec)
    software = Encoding(CODECS[video.codec][0], pixel_format(video.codec, deep), _software_options(video), colour,
                        deep=deep)
    kind = video.encoder
    if kind == "software":
        return software
    if kind == "auto":
        if video.codec not in HARDWARE["nvenc"] or not _cuda_here():
            return software
        kind, fallback = "nvenc", True
    else:
        fallback = False
    name = HARDWARE[kind].get(video.codec)
    if name is None:
        raise OptionError(f"encoder={kind}: {video.codec} has no {NAMES[kind]} encoder; use h264, h265 or av1 with "
                          "it, or encoder=software")
    deep = deep and video.codec != "h264"
    pix_fmt = "p010le" if deep else "yuv420p"
    why = opens(name, pix_fmt)
    if why is None:
        return Encoding(name, pix_fmt, _hardware_options(video), colour, hardware=True, deep=deep)
    if not fallback:
        raise OptionError(f"encoder={kind}: the {NAMES[kind]} encoder {name} cannot be used here ({why}); use "
                          "encoder=software or auto")
    log.warning("%s could not open (%s): encoding with %s", name, why, software.name)
    return Encoding(software.name, software.pix_fmt, software.options, colour, deep=software.deep,
                    note=f"{name} could not open ({why}): encoded with {software.name}")
