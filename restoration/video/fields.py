"""Interlaced and telecined video made progressive, before every stage, with FFmpeg's own filters (through PyAV).

``decide(src, info, asked)`` turns the ``deinterlace`` option into ``Fields``, once per job: ``auto``
runs FFmpeg's ``idet`` on the first frames and deinterlaces when most are combed (whatever the stream's
flags say: a mis-flagged file is caught, a progressive one left alone), or matches telecined film
(3:2 pulldown: two of every five frames repeat a field) back to its 24 frames a second; ``on`` always
deinterlaces, ``fields`` makes one frame per field (25i becomes 50p), ``film`` always matches film,
``off`` never touches the fields. Field order comes from what ``idet`` sees, else the stream.

``FieldFilter`` is the filter graph a decoder pushes frames through: ``bwdif`` (one frame per frame or
per field; it reads the frames before and after, so a piece decodes one frame either side of its own)
or ``fieldmatch`` + ``bwdif`` (what fieldmatch cannot match) + ``decimate`` for film. Every frame it
gives out carries the index of the source frame it comes from.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

SAMPLE = 120  # frames ``idet`` looks at
MODES = ("auto", "on", "off", "fields", "film")


@dataclass(frozen=True)
class Fields:
    """What is done with a video's fields: ``mode`` off, frames (deinterlaced, the same rate), fields (one
    frame per field: twice the rate) or film (telecine undone: four frames of five); ``top_first``:
    the field order; ``why``: what decided it, in words."""

    mode: str = "off"
    top_first: bool = True
    why: str = ""

    @property
    def active(self) -> bool:
        return self.mode != "off"

    @property
    def film(self) -> bool:
        return self.mode == "film"

    @property
    def per_frame(self) -> Fraction:
        """Frames out for each frame in."""
        return {"fields": Fraction(2), "film": Fraction(4, 5)}.get(self.mode, Fraction(1))

    def rate(self, rate: Fraction) -> Fraction:
        return rate * self.per_frame if self.active else rate

    def time_base(self, time_base: Fraction, rate: Fraction) -> Fraction:
        """The time base of the frames that come out (bwdif halves the input's; decimate counts frames)."""
        if not self.active:
            return time_base
        return 1 / self.rate(rate) if self.film else time_base / 2

    def filters(self) -> list[tuple[str, str]]:
        parity = "tff" if self.top_first else "bff"
        if self.mode == "film":
            return [("fieldmatch", f"order={parity}"),
                    ("bwdif", f"mode=send_frame:parity={parity}:deint=interlaced"), ("decimate", "")]
        send = "send_field" if self.mode == "fields" else "send_frame"
        return [("bwdif", f"mode={send}:parity={parity}:deint=all")]


def _graph(stream, filters: list[tuple[str, str]], rate: Fraction):
    import av

    ctx = stream.codec_context
    tb = stream.time_base
    graph = av.filter.Graph()
    src = graph.add("buffer", f"video_size={ctx.width}x{ctx.height}:pix_fmt={ctx.pix_fmt}:time_base="
                              f"{tb.numerator}/{tb.denominator}:frame_rate={rate.numerator}/{rate.denominator}"
                              ":pixel_aspect=1/1")
    last = src
    for name, args in filters:
        node = graph.add(name, args)
        last.link_to(node)
        last = node
    sink = graph.add("buffersink")
    last.link_to(sink)
    graph.configure()
    return graph


def _drain(graph) -> list:
    import av

    out = []
    while True:
        try:
            out.append(graph.pull())
        except (av.BlockingIOError, av.EOFError):
            return out


def detect(src: Path, sample: int = SAMPLE) -> dict[str, float]:
    """``idet``'s counts over the first ``sample`` frames: tff, bff, progressive, undetermined (several
    frames judged together) and repeated (frames with a repeated field, as telecine leaves)."""
    from .probe import decoded, open_video

    with open_video(src) as c:
        v = c.streams.video[0]
        graph = _graph(v, [("idet", "")], v.average_rate or v.guessed_rate or Fraction(25))
        last, n = None, 0
        for frame in decoded(c, v):  # a damaged packet skipped, as the job's decoder does
            graph.push(frame)
            for out in _drain(graph):
                last = out
            n += 1
            if n >= sample:
                break
    meta = dict(last.metadata) if last is not None else {}
    get = lambda k: float(meta.get(f"lavfi.idet.{k}", 0) or 0)  # noqa: E731
    return {"frames": n, "tff": get("multiple.tff"), "bff": get("multiple.bff"),
            "progressive": get("multiple.progressive"), "undetermined": get("multiple.undetermined"),
            "repeated": get("repeated.top") + get("repeated.bottom")}


def decide(src: Path, info, asked: str) -> Fields:
    """The job's ``Fields`` for the ``deinterlace`` option ``asked`` (see the module)."""
    if asked == "off":
        return Fields("off", why="deinterlace=off")
    counts = detect(src)
    tff = counts["tff"] >= counts["bff"] if counts["tff"] + counts["bff"] else info.field_order in ("tt", "tb",
                                                                                                   "unknown",
                                                                                                   "progressive")
    order = "top field first" if tff else "bottom field first"
    if asked in ("on", "fields", "film"):
        return Fields({"on": "frames"}.get(asked, asked), tff, f"deinterlace={asked} ({order})")
    combed, n = counts["tff"] + counts["bff"], max(1.0, counts["frames"])
    ntsc = abs(float(info.rate) - 30000 / 1001) < 0.05
    if ntsc and counts["repeated"] >= 0.25 * n:
        return Fields("film", tff, f"telecined film: {counts['repeated']:.0f} of {n:.0f} frames repeat a field "
                                   f"({order}); matched back to 23.976 frames a second")
    if combed > counts["progressive"] and combed >= 0.2 * n:
        said = f"; the stream says {info.field_order}" if info.field_order != "unknown" else ""
        return Fields("frames", tff, f"interlaced ({order}): {combed:.0f} of {n:.0f} frames combed{said}")
    flagged = " although the stream says interlaced" if info.field_order in ("tt", "bb", "tb", "bt") else ""
    return Fields("off", tff, f"progressive: {counts['progressive']:.0f} of {n:.0f} frames{flagged}")


class FieldFilter:
    """The ``Fields``' filter graph over a decoded stream (see the module); ``push`` a frame with its
    index, get (index, frame) pairs back; ``flush`` at the end."""

    def __init__(self, fields: Fields, stream, rate: Fraction) -> None:
        self.graph = _graph(stream, fields.filters(), rate)
        self.pushed: deque[tuple[Fraction, int]] = deque(maxlen=16)  # (time, index) of the frames pushed

    def _owned(self, frames: list) -> list[tuple[int, object]]:
        out = []
        for f in frames:
            t = f.pts * f.time_base
            index = next((i for when, i in reversed(self.pushed) if when <= t), self.pushed[0][1])
            out.append((index, f))
        return out

    def push(self, index: int, frame) -> list[tuple[int, object]]:
        self.pushed.append((frame.pts * frame.time_base, index))
        self.graph.push(frame)
        return self._owned(_drain(self.graph))

    def flush(self) -> list[tuple[int, object]]:
        self.graph.push(None)
        return self._owned(_drain(self.graph)) if self.pushed else []
