"""A video job, checked once and planned: what every executor runs, and how it is cut into pieces.

``check_video`` refuses what can be refused before any work. ``VideoTask`` is the job as a worker
needs it (small, picklable: it travels to Ray workers and into ZeroGPU calls); ``VideoJob`` adds what
stays with the caller (progress, cancel, the prepared ``Restorer``). The work folder holds numbered
segment files (``segments``). ``VideoPlan`` owns the pieces: which segments are finished (a resume),
the pieces that remain (runs of missing segments, each with its warm-up frames before it and its
look-ahead frames after), the frames each writes and the job's progress line; an executor only
places the pieces and gathers their ``PieceStats`` into a ``VideoRun``. A video whose timestamps
cannot place every frame is one piece, the rest of the video from its first missing segment, on
every executor.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import Cancelled, OptionError, VideoReadError, VideoWriteError
from ..media import max_pixels
from ..options import CODECS, RestoreOptions, VideoOptions
from ..progress import ProgressFn, ProgressLine
from .cuts import CutDetector
from .decode import Window
from .encoders import Encoding, choose
from .fields import Fields
from .interpolate import Interpolation, Retiming
from .probe import VideoInfo, open_video, probe
from .segments import fingerprint, prepare_work_dir, segment_name, work_dir

WARMUP_FRAMES = 8  # frames restored before a piece (and not kept) when the job has temporal state
LOOKAHEAD_FRAMES = CutDetector.ahead  # frames decoded after a piece (and not kept): the cut detector's
# With frame interpolation, a piece's last gap needs the next frame, and the cut detector one past it.
INTERPOLATION_LOOKAHEAD = CutDetector.ahead + Interpolation.ahead


def out_size(info: VideoInfo, options: RestoreOptions) -> tuple[int, int]:
    """The restored frames' (width, height)."""
    scale = options.upscale if options.does_superres else 1
    return round(info.width * scale), round(info.height * scale)


def check_video(src: Path, dst: Path, options: RestoreOptions, video: VideoOptions) -> VideoInfo:
    """Everything that can be refused before any work: container, same file, the source, the size.
    Raises ``OptionError``, ``VideoReadError`` or ``VideoWriteError``."""
    suffix = dst.suffix.lower()
    allowed = CODECS[video.codec][2]
    if suffix not in allowed:
        raise OptionError(f"codec {video.codec} cannot be written to a {suffix or 'nameless'} file; use "
                          f"{' or '.join(allowed)}")
    if src.resolve() == dst.resolve():
        raise OptionError(f"{dst.name}: the output would overwrite the input; choose another name")
    info = probe(src)
    out_w, out_h = out_size(info, options)
    limit = max_pixels()
    if info.width * info.height > limit or out_w * out_h > limit:
        raise VideoReadError(f"{src.name}: {info.width}x{info.height} -> {out_w}x{out_h} is over the limit of "
                             f"{limit:,} pixels per frame; lower --upscale or raise RESTORATION_MAX_PIXELS")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VideoWriteError(f"{dst}: cannot create the output folder ({e})") from e
    return info


def extra_frames(task: VideoTask) -> int:
    """Frames a piece restores besides its own: warm-up before it and look-ahead after it."""
    warm = WARMUP_FRAMES if task.temporal else 0  # other warm-up frames are only decoded
    return warm + INTERPOLATION_LOOKAHEAD if task.video.interpolates else warm


def first_frame_monochrome(src: Path, options: RestoreOptions) -> bool | None:
    """Whether ``colorize="auto"`` treats the video as black and white: decided once, on its first
    frame, so a resumed run and every piece decide alike. None when the first frame cannot be
    decoded here (each piece then decides on the first frame it restores)."""
    import av
    import torch

    from ..stages import is_monochrome

    if options.colorize != "auto":
        return False
    try:
        with open_video(src) as c:
            for frame in c.decode(video=0):
                rgb = torch.from_numpy(frame.to_ndarray(format="rgb24"))
                return bool(is_monochrome(rgb.permute(2, 0, 1)[None].float().div_(255)))
    except (av.FFmpegError, VideoReadError):
        return None
    return None


@dataclass(frozen=True)
class VideoTask:
    """A checked video job as a worker needs it: the files, what was probed, the options and the
    colour decision taken on the first frame."""

    src: Path
    dst: Path
    info: VideoInfo
    options: RestoreOptions
    video: VideoOptions
    monochrome: bool | None
    encoding: Encoding | None = None  # chosen once for the job (``encoders.choose``); None: the software one
    fields: Fields = Fields()  # what is done with the fields, decided once (``fields.decide``)
    per_segment: int | None = None  # frames per segment file, when an executor cuts finer than the options

    @property
    def work(self) -> Path:
        """The folder of the job's segment files (beside the output)."""
        return work_dir(self.dst)

    @property
    def segment_frames(self) -> int:
        """Frames per segment file: the unit of resuming, and of the work a piece gets when split (film
        matched back from telecine is one segment: its five-frame cycles must not be cut)."""
        if self.fields.film:
            return 1 << 40
        return self.per_segment or max(1, round((self.info.fps or 25.0) * self.video.segment_seconds))

    @property
    def total(self) -> int:
        """The frames the job expects (from the container; a damaged file may hold fewer)."""
        return self.info.frames or max(1, round(self.info.duration * (self.info.fps or 25.0)))

    @property
    def stabilized(self) -> bool:
        """Whether the stabiliser runs: on colorized frames (``colorize="auto"``: a black-and-white video, or
        one not decided yet), or after denoising."""
        return self.video.stabilize and (self.colorized or self.options.denoises)

    @property
    def colorized(self) -> bool:
        o = self.options
        return o.colorize == "on" or (o.colorize == "auto" and self.monochrome is not False)

    @property
    def encoder(self) -> Encoding:
        """How the segments are encoded."""
        return self.encoding or choose(replace(self.video, encoder="software"), self.info.colour)

    @property
    def timing(self) -> tuple[Fraction, Fraction]:
        """(time base, frame rate) of the frames the stages see: the input's, or after deinterlacing."""
        f, info = self.fields, self.info
        return f.time_base(info.time_base, info.rate), f.rate(info.rate)

    @property
    def retiming(self) -> Retiming | None:
        """When the output's frames are, where frame interpolation changes it (None: the input's)."""
        v = self.video
        return Retiming.make(*self.timing, v.interpolate, v.fps) if v.interpolates else None

    @property
    def finds_cuts(self) -> bool:
        """Whether scene cuts are looked for: the stabiliser, the face tracks and frame interpolation
        must not reach across one."""
        return self.temporal or self.video.interpolates

    @property
    def temporal(self) -> bool:
        """Whether restoring a frame depends on the frames before it (stabiliser, face tracks): a piece
        then starts with warm-up frames."""
        return self.stabilized or self.options.face != "off"

    def start_work(self) -> int:
        """Make the work folder ready (an earlier run's segments kept only when it was this same job);
        returns how many segments are already finished, from the first."""
        job = {**fingerprint(self.src, self.dst, self.options, self.video), "segment_frames": self.segment_frames}
        return prepare_work_dir(self.work, job)


@dataclass
class VideoJob:
    """A ``VideoTask`` with what stays with the caller: its progress, its cancel flag, the prepared
    ``Restorer`` (models found once), whether to keep the segment files, and when it started."""

    task: VideoTask
    restorer: Any = None
    progress: ProgressFn | None = None
    cancel: threading.Event | None = None
    keep_parts: bool = False
    t0: float = field(default_factory=time.perf_counter)

    def check_cancel(self, done: int) -> None:
        """``Cancelled`` when the caller has asked to stop (the finished segments stay)."""
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"{self.task.src.name}: cancelled after {done} frames")


def frame_times(src: Path) -> list[int] | None:
    """The video frames' timestamps in display order, from the packets (no decoding); None when
    they cannot place every frame (a missing or repeated timestamp)."""
    with open_video(src) as c:
        v = c.streams.video[0]
        times = [p.pts for p in c.demux(v) if p.size]
    if any(t is None for t in times):
        return None
    times.sort()
    if any(a == b for a, b in zip(times, times[1:])):
        return None
    return times


@dataclass(frozen=True)
class Piece:
    """Frames of a job written as segment files numbered from ``first_segment`` (a new file every
    ``task.segment_frames`` frames, so the window's ``start`` is a segment's first frame): what it
    decodes, what is warm-up and look-ahead, and what it writes (``window``)."""

    first_segment: int
    window: Window

    @property
    def start(self) -> int:
        return self.window.start


@dataclass
class VideoRun:
    """What an executor hands back: the pieces' ``stats`` added up, the frames of segments that were
    already there (``resumed``), the segment files to join, and what it adds to the metrics and
    warnings (a cluster's workers, a split it could not make...)."""

    stats: Any
    resumed: int
    segments: int
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class VideoPlan:
    """A job's pieces (see the module). Made once per run, by the executor's driver: the work folder is
    made ready (an earlier run of the same job is kept) and the frames' timestamps listed (a demux pass,
    no decoding)."""

    def __init__(self, task: VideoTask) -> None:
        self.task, self.per = task, task.segment_frames
        first_missing = task.start_work()
        self.times = None if task.fields.film else frame_times(task.src)  # film: one piece (see segment_frames)
        self.warmup = WARMUP_FRAMES if task.temporal else CutDetector.behind if task.finds_cuts else 0
        self.lookahead = (INTERPOLATION_LOOKAHEAD if task.video.interpolates else LOOKAHEAD_FRAMES
                          if task.temporal else 0)
        if task.fields.active:  # bwdif reads the frames either side of each
            self.warmup, self.lookahead = max(self.warmup, 1), max(self.lookahead, 1)
        if self.times is None:  # one piece: the rest of the video, from its first missing segment
            self.count, self.segments, self.missing = None, None, [first_missing]
        else:
            self.count = len(self.times)
            self.segments = math.ceil(self.count / self.per)
            done = {k for k in range(self.segments) if (task.work / segment_name(k, task.dst.name)).exists()}
            self.missing = [k for k in range(self.segments) if k not in done]

    @property
    def splittable(self) -> bool:
        """Whether the video can be cut into pieces anywhere (its timestamps place every frame)."""
        return self.times is not None

    @property
    def total(self) -> int:
        """The frames the job writes (the container's figure when the timestamps do not say)."""
        return self.count if self.count is not None else self.task.total

    @property
    def resumed(self) -> int:
        """Frames of the segments an earlier run finished."""
        if self.count is None:
            return self.missing[0] * self.per
        return self.count - sum(self.frames(k, k + 1) for k in self.missing)

    def frames(self, first_segment: int, end_segment: int) -> int:
        """Frames written by segments ``first_segment`` to ``end_segment`` (excluded)."""
        end = end_segment * self.per if self.count is None else min(end_segment * self.per, self.count)
        return max(0, end - first_segment * self.per)

    def pieces(self, most: int | None = None) -> list[Piece]:
        """The pieces that remain: runs of consecutive missing segments, at most ``most`` segments each
        (None: as long as they run)."""
        if self.times is None:
            start = self.missing[0] * self.per
            return [Piece(self.missing[0], Window(max(0, start - self.warmup), start, None, None))]
        runs: list[list[int]] = []
        for k in self.missing:
            if runs and runs[-1][-1] == k - 1 and (most is None or len(runs[-1]) < most):
                runs[-1].append(k)
            else:
                runs.append([k])
        return [Piece(run[0], self._window(run[0] * self.per, min((run[-1] + 1) * self.per, self.count)))
                for run in runs]

    def _window(self, start: int, end: int) -> Window:
        n, times = self.count, self.times
        first, stop = max(0, start - self.warmup), min(n, end + self.lookahead)
        at = lambda i: times[i] if i < n else None  # noqa: E731
        return Window(first, start, end if end < n else None, stop if stop < n else None,
                      (times[first], times[start], at(end), at(stop)))

    def restored(self, piece: Piece) -> int:
        """The frames ``piece`` takes through the stages (its warm-up included, and its look-ahead where
        frame interpolation needs it restored)."""
        w = piece.window
        end = w.end if w.end is not None else self.total
        ahead = (w.stop if w.stop is not None else self.total) - end if self.task.video.interpolates else 0
        return max(0, end - w.first + ahead)

    def line(self, fn: ProgressFn | None, suffix: str = "", expected: float | None = None, note: str = ""
             ) -> ProgressLine:
        """The job's progress line, from the frames already done, counting the frames written."""
        return ProgressLine(fn, self.total, self.resumed, suffix, expected, note, per=self.written_per_frame)

    @property
    def written_per_frame(self) -> float:
        """Frames written for each of the video's (1 without frame interpolation)."""
        timing, fields = self.task.retiming, float(self.task.fields.per_frame)
        if timing is None:
            return fields
        if self.times is not None and self.count and not self.task.fields.active:
            return timing.count(self.times) / self.count
        return fields * float(timing.out_rate / timing.rate)

    def result(self, stats: Any, **extra: Any) -> VideoRun:
        """The run of this plan once its pieces' ``stats`` are added up."""
        segments = self.segments if self.segments is not None else self.missing[0] + stats.segments
        return VideoRun(stats, self.resumed, segments, **extra)
