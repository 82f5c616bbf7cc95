"""A video job, checked once and planned: what every executor runs, and how it is cut into pieces.

``check_video`` refuses what can be refused before any work. ``VideoTask`` is the job as a worker
needs it (small, picklable: it travels to Ray workers and into ZeroGPU calls); ``VideoJob`` adds what
stays with the caller (progress, cancel, the prepared ``Restorer``). The work folder holds numbered
segment files (``segments``); a job resumes from the first missing one. ``plan_pieces`` cuts a job
into one piece per segment (each with warm-up frames before it) for executors that split the work.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Cancelled, OptionError, VideoReadError, VideoWriteError
from ..media import max_pixels
from ..options import CODECS, RestoreOptions, VideoOptions
from ..pipeline import ProgressFn
from .decode import Window
from .probe import VideoInfo, open_video, probe
from .segments import fingerprint, prepare_work_dir, work_dir

WARMUP_FRAMES = 8  # frames restored before a piece (and not kept) when the job has temporal state


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
    per_segment: int | None = None  # frames per segment file, when an executor cuts finer than the options

    @property
    def work(self) -> Path:
        """The folder of the job's segment files (beside the output)."""
        return work_dir(self.dst)

    @property
    def segment_frames(self) -> int:
        """Frames per segment file: the unit of resuming, and of the work a piece gets when split."""
        return self.per_segment or max(1, round((self.info.fps or 25.0) * self.video.segment_seconds))

    @property
    def total(self) -> int:
        """The frames the job expects (from the container; a damaged file may hold fewer)."""
        return self.info.frames or max(1, round(self.info.duration * (self.info.fps or 25.0)))

    @property
    def stabilized(self) -> bool:
        return self.video.stabilize and (self.options.colorize != "off" or self.options.denoise > 0)

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


class ProgressLine:
    """The one progress line of a video job, whatever runs it: "frame 120/480 · 6.1 fps · about 1 min
    left", and what the executor adds (" · 4 Ray workers"). ``expected``: the seconds this machine's
    measured speed says the frames to do will take, shown (with ``note``) until the first frames are
    done; from then on the job's own pace says it."""

    def __init__(self, fn: ProgressFn | None, total: int, resumed: int = 0, suffix: str = "",
                 expected: float | None = None, note: str = "") -> None:
        self.fn, self.total, self.resumed, self.suffix = fn, total, resumed, suffix
        self.expected, self.note = expected, note
        self.t0 = time.perf_counter()

    def update(self, done: int) -> None:
        """``done`` frames of the job are finished (resumed ones included)."""
        if self.fn is None:
            return
        from ..speed import about

        elapsed = time.perf_counter() - self.t0
        rate = (done - self.resumed) / elapsed if elapsed > 0 else 0.0
        top = max(self.total, done)
        if rate > 0:
            eta = f" · {about((top - done) / rate)} left"
        else:
            eta = "" if self.expected is None else f" · {about(max(0.0, self.expected - elapsed))} left{self.note}"
        fps = f" · {rate:.1f} fps" if rate > 0 else ""
        self.fn(min(0.99, done / max(1, top)), f"frame {done}/{top}{fps}{eta}{self.suffix}")


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


def segment_windows(times: list[int], per_segment: int, warmup: int) -> list[Window]:
    """One ``Window`` per segment file: frames ``[k * per_segment, (k + 1) * per_segment)``, each
    with up to ``warmup`` frames before it."""
    count = math.ceil(len(times) / per_segment)
    return [frames_window(times, k * per_segment, min((k + 1) * per_segment, len(times)), warmup)
            for k in range(count)]


def frames_window(times: list[int], start: int, end: int, warmup: int) -> Window:
    """The ``Window`` of frames ``[start, end)`` (indices into ``times``), with up to ``warmup``
    frames before it."""
    warm = max(0, start - warmup)
    return Window(start, times[warm], times[start], times[end] if end < len(times) else None)
