"""Opening a video and reading what its container says (size, rate, frames, rotation, other streams)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import VideoReadError
from .colour import Colour

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts", ".wmv",
                    ".flv", ".gif")


@dataclass
class VideoInfo:
    path: str
    width: int
    height: int
    frames: int  # from the container; 0 when it does not say
    fps: float  # average
    duration: float  # seconds
    codec: str
    rotation: int  # degrees, counter-clockwise, from the display matrix
    variable_rate: bool
    audio: list[str] = field(default_factory=list)
    subtitles: list[str] = field(default_factory=list)
    time_base: Fraction = Fraction(1, 25)  # of the video stream's timestamps
    rate: Fraction = Fraction(25)  # average frame rate, exact
    colour: Colour = field(default_factory=Colour)  # the first frame's matrix, range, primaries, transfer, bits
    field_order: str = "progressive"  # the stream's: progressive, tt, bb, tb, bt, or unknown
    interlaced_flag: bool = False  # the first frame says it is interlaced

    @property
    def expected_frames(self) -> int:
        """Frames the file announces (from its frame count, else its duration); 0 if it says nothing."""
        return self.frames or round(self.duration * (self.fps or 25.0))


def open_video(path: Path):
    """``av.open`` with errors that name the file and say what to do (``VideoReadError``)."""
    import av

    if not path.is_file():
        raise VideoReadError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoReadError(f"{path.name}: the file is empty (0 bytes)")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except Exception as e:  # noqa: BLE001 - PyAV raises several kinds for unreadable input
        raise VideoReadError(f"{path.name}: not a readable video ({why(e)}); check the file or re-export it") \
            from e


def decoded(container, stream, rejected: Callable[[BaseException], None] | None = None):
    """The stream's decoded frames; a packet the decoder rejects (a damaged stretch) is skipped, as players
    do, and ``rejected(error)`` told of it (it may raise, to stop there)."""
    import av

    for packet in container.demux(stream):
        try:
            frames = stream.decode(packet)
        except av.InvalidDataError as e:
            if rejected is not None:
                rejected(e)
            continue
        yield from frames


def why(e: BaseException) -> str:
    """FFmpeg's reason without the file's path (which would show server folders to app users)."""
    return getattr(e, "strerror", None) or str(e).split(": '/")[0]


def probe(path: str | os.PathLike) -> VideoInfo:
    """What the container says about ``path`` (and its first frame's rotation).

    Raises ``VideoReadError`` for a missing, empty or unreadable file, one without a video stream, a
    stream without a picture size, or one whose first frame cannot be decoded.
    """
    p = Path(path)
    with open_video(p) as c:
        if not c.streams.video:
            raise VideoReadError(f"{p.name}: has no video stream (audio only?); give a video file")
        v = c.streams.video[0]
        ctx = v.codec_context
        if not ctx.width or not ctx.height:
            raise VideoReadError(
                f"{p.name}: the video stream ({ctx.name}) has no picture size: the file is damaged, or "
                "FFmpeg cannot decode this kind (animated WebP is one); convert it to MP4 first"
            )
        rate = v.average_rate or v.guessed_rate or v.base_rate
        fps = float(rate) if rate else 0.0
        duration = 0.0
        if v.duration is not None and v.time_base:
            duration = float(v.duration * v.time_base)
        elif c.duration:
            duration = c.duration / 1_000_000
        base = float(v.base_rate) if v.base_rate else fps
        first = _first_frame(c, v, p)
        return VideoInfo(
            path=str(p), width=ctx.width, height=ctx.height, frames=int(v.frames or 0), fps=fps,
            duration=duration, codec=ctx.name, rotation=first.rotation,
            variable_rate=bool(fps and base and abs(base - fps) > 0.01 * fps),
            audio=[s.codec_context.name for s in c.streams.audio],
            subtitles=[s.codec_context.name for s in c.streams.subtitles],
            time_base=v.time_base or Fraction(1, 25), rate=rate or Fraction(25), colour=first.colour,
            field_order=_FIELD_ORDERS.get(int(getattr(ctx, "field_order", 0) or 0), "unknown"),
            interlaced_flag=first.interlaced,
        )


_FIELD_ORDERS = {0: "unknown", 1: "progressive", 2: "tt", 3: "bb", 4: "tb", 5: "bt"}  # AVFieldOrder


@dataclass(frozen=True)
class _First:
    rotation: int
    colour: Colour
    interlaced: bool


def _first_frame(container, stream, p: Path) -> _First:
    """What the first frame says; ``VideoReadError`` when there is no decodable frame."""
    try:
        for first in container.decode(stream):
            return _First(int(round(getattr(first, "rotation", 0) or 0)), Colour.of(first),
                          bool(first.interlaced_frame))
    except Exception as e:  # noqa: BLE001
        raise VideoReadError(f"{p.name}: the first frame cannot be decoded ({why(e)})") from e
    raise VideoReadError(f"{p.name}: the video stream has no frames; give a video with pictures")
