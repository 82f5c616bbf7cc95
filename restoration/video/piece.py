"""A piece of a video job: one stretch of frames through one ``Restorer``, owning all temporal state.

``run_piece`` decodes (``FrameReader``), restores (this thread) and encodes (``SegmentWriter``) in
three threads joined by small bounded queues, so memory stays bounded whatever the length. The
piece's temporal state (the stabiliser, the face tracks and their parsed masks) is made for it and
dies with it, so pieces run one after another on one worker never see each other's. A piece that
starts inside the video restores its warm-up frames first, without keeping them, so that state does
not step at its first frame. It returns ``PieceStats``, which add up over the pieces of a job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from .. import metrics
from ..color import to_uint8
from ..faces.track import FaceTracker
from ..stages import is_monochrome
from .decode import Frame, FrameReader, Window
from .plan import VideoTask
from .segments import SegmentEncoder, SegmentWriter
from .stabilize import TemporalStabilizer


@dataclass(frozen=True)
class Piece:
    """Frames of a job from ``start`` on, written as segment files numbered from ``first_segment`` (a
    new file every ``task.segment_frames`` frames, so ``start`` is a segment's first frame).

    ``window`` None: the rest of the video, decoded from its start (frames before ``start`` are
    skipped). Else exactly the frames of ``window`` (decoded from the keyframe before its warm-up):
    one segment, or several in a row."""

    first_segment: int
    start: int
    window: Window | None = None


@dataclass
class PieceStats:
    """What a piece did, in numbers that add up over a job's pieces (``+``)."""

    frames: int = 0  # frames restored and written
    warmup: int = 0  # frames restored only to prime the temporal state
    segments: int = 0  # segment files finished
    bad_packets: int = 0
    cuts: int = 0  # scene cuts the stabiliser met
    tracks: int = 0  # face tracks started
    faces_found: int = 0
    faces_restored: int = 0
    faces_skipped: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # per stage
    sharpness: list[float] = field(default_factory=list)  # one sampled frame a second
    quality: list[dict[str, float]] = field(default_factory=list)  # PSNR/SSIM of the same samples

    def __add__(self, other: PieceStats) -> PieceStats:
        total = PieceStats()
        for f in fields(PieceStats):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, dict):
                value = dict(a)
                for k, v in b.items():
                    value[k] = value.get(k, 0.0) + v
            else:
                value = a + b
            setattr(total, f.name, value)
        return total


def stabilizer_for(task: VideoTask) -> TemporalStabilizer | None:
    """Chroma smoothing where colour can be invented (colorize), static-luma smoothing after denoise."""
    if not task.stabilized:
        return None
    return TemporalStabilizer(chroma=0.8 if task.options.colorize != "off" else 0.0,
                              luma=0.5 if task.options.denoise > 0 else 0.0)


class _Run:
    """One piece being restored: its temporal state, its counters, its threads' stop flag."""

    def __init__(self, task: VideoTask, piece: Piece, restorer, on_frames: Callable[[int], None] | None) -> None:
        self.task, self.piece, self.restorer, self.on_frames = task, piece, restorer, on_frames
        self.stats = PieceStats()
        self.stabilizer = stabilizer_for(task)
        self.tracker = FaceTracker() if task.options.face != "off" else None
        self.monochrome = task.monochrome
        self.sample_every = max(1, round(task.info.fps or 25.0))
        self.stop = threading.Event()

    def restore(self, batch: list[Frame], writer: SegmentWriter) -> None:
        # Frames travel to the device as 8-bit (a quarter of the bytes) and become float there.
        x = torch.from_numpy(np.stack([b[2] for b in batch])).to(self.restorer.device)
        x = x.permute(0, 3, 1, 2).float().div_(255)
        if self.monochrome is None:  # not known from the video's first frame: decided on this one
            self.monochrome = self.task.options.colorize == "auto" and bool(is_monochrome(x[:1]))
        out, _, report = self.restorer.run(x, monochrome=self.monochrome, track=self.tracker)
        s = self.stats
        for k, v in report.seconds.items():
            s.seconds[k] = s.seconds.get(k, 0.0) + v
        if report.faces is not None:
            s.faces_found += report.faces.found
            s.faces_restored += report.faces.restored
            s.faces_skipped += report.faces.skipped
        if self.stabilizer is not None and ("colorize" in report.stages or "denoise" in report.stages):
            out = self.stabilizer(out)
        for (index, pts, rgb_in), rgb in zip(batch, to_uint8(out)):
            if index < 0:  # warm-up before the piece: it primed the stabiliser and the face tracks
                s.warmup += 1
                continue
            if index % self.sample_every == 0:
                self._sample(rgb_in, rgb)
            writer.write(rgb, pts)
            s.frames += 1
        if self.on_frames:
            self.on_frames(s.frames)

    def _sample(self, rgb_in: np.ndarray, rgb: np.ndarray) -> None:
        f = rgb.astype(np.float32) / 255
        self.stats.sharpness.append(metrics.sharpness(f))
        ref = metrics.resize_to(rgb_in.astype(np.float32) / 255, (f.shape[1], f.shape[0]))
        self.stats.quality.append(metrics.compare(f, ref))


def run_piece(task: VideoTask, piece: Piece, restorer, *, on_frames: Callable[[int], None] | None = None,
              cancel: threading.Event | None = None) -> PieceStats:
    """Restore the frames of ``piece`` with ``restorer`` (a ``Restorer`` for ``task.options``) into its
    segment files in ``task.work``. ``on_frames(n)``: n frames of the piece are written. Setting
    ``cancel`` stops at the next batch with ``Cancelled``; a segment file being written is dropped,
    finished ones stay. Raises ``VideoReadError``, ``VideoWriteError`` and what the stages raise."""
    from ..errors import Cancelled

    run = _Run(task, piece, restorer, on_frames)
    batch_size = task.video.batch
    depth = max(4, 2 * batch_size)
    reader = FrameReader(task.src, piece.start if piece.window is None else 0, run.stop, depth, piece.window)
    encoder = SegmentEncoder(task.work, task.dst, task.video, task.info.time_base, task.info.rate,
                             task.segment_frames, piece.first_segment)
    writer = SegmentWriter(encoder, run.stop, depth)
    reader.start()
    writer.start()
    try:
        ended = False
        while not ended:
            done = piece.start + run.stats.frames
            batch, ended = reader.next_batch(batch_size, done, cancel, writer.check)
            if cancel is not None and cancel.is_set():
                raise Cancelled(f"{task.src.name}: cancelled after {done} frames")
            writer.check()
            if batch:
                run.restore(batch, writer)
        run.stats.segments = writer.finish() - piece.first_segment
    except BaseException:
        run.stop.set()  # the writer discards its open segment; finished ones stay for a resume
        writer.join(timeout=30)
        raise
    finally:
        run.stop.set()
        reader.join(timeout=30)
    run.stats.bad_packets = reader.bad_packets
    run.stats.tracks = run.tracker.started if run.tracker is not None else 0
    run.stats.cuts = run.stabilizer.cuts if run.stabilizer is not None else 0
    return run.stats
