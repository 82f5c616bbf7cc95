"""A piece of a video job: one stretch of frames through one ``Restorer``, owning all temporal state.

``run_piece`` is the whole of a video's way, in order: decode (a thread) → the passes before the stages (scene cuts)
→ the stages, in batches → the passes after them (the stabiliser, frame interpolation) → encode (a thread), joined
by small bounded queues and lazy generators, so memory stays bounded whatever the length. The piece's temporal state
(the cut detector, the stabiliser, the face tracks and their parsed masks, the frame held for interpolation) is made
for it and dies with it, so pieces run one after another on one worker never see each other's. Warm-up frames before
the piece and look-ahead frames after it go through the passes that need them and are never written. It returns
``PieceStats``, which add up over the pieces of a job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from .. import metrics
from ..color import to_uint8, to_uint16
from ..errors import Cancelled
from ..faces.track import FaceTracker
from ..stages import is_monochrome
from .cuts import CutDetector
from .decode import FrameReader
from .frames import Frame, Pass, through
from .interpolate import Interpolation
from .plan import Piece, VideoTask
from .segments import SegmentEncoder, SegmentWriter
from .stabilize import TemporalStabilizer


@dataclass
class PieceStats:
    """What a piece did, in numbers that add up over a job's pieces (``+``)."""

    frames: int = 0  # the video's frames restored and written (with frame interpolation: those that own a gap)
    written: int = 0  # frames written to the output (with frame interpolation, the made ones too)
    made: int = 0  # frames drawn by frame interpolation
    repeated: int = 0  # in-between moments that repeat an original (at a scene cut, after the last frame)
    warmup: int = 0  # frames restored only to prime the temporal state
    segments: int = 0  # segment files finished
    bad_packets: int = 0
    cuts: int = 0  # scene cuts among the frames written
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


def interpolation_for(task: VideoTask, restorer) -> Interpolation | None:
    """Frame interpolation after the stages, on the job's device and in its precision, when asked for."""
    if not task.video.interpolates:
        return None
    from ..interpolation import load_interpolator

    net = load_interpolator(task.video.interpolation_model, str(restorer.device), task.options.precision)
    return Interpolation(net, task.retiming)


def stabilizer_for(task: VideoTask) -> TemporalStabilizer | None:
    """Chroma smoothing where colour is invented (colorize), static-luma smoothing after denoise."""
    if not task.stabilized:
        return None
    return TemporalStabilizer(chroma=0.8 if task.colorized else 0.0, luma=0.5 if task.options.denoises else 0.0)


class _Piece:
    """One piece being restored: its passes and temporal state, its counters, its threads' stop flag."""

    def __init__(self, task: VideoTask, piece: Piece, restorer, on_frames: Callable[[int], None] | None) -> None:
        self.task, self.piece, self.restorer, self.on_frames = task, piece, restorer, on_frames
        self.stats = PieceStats()
        self.cuts = CutDetector()
        stabilizer = stabilizer_for(task)
        self.before: list[Pass] = [self.cuts] if task.finds_cuts else []
        self.after: list[Pass] = [stabilizer] if stabilizer is not None else []
        self.interpolation = interpolation_for(task, restorer)
        if self.interpolation is not None:
            self.after.append(self.interpolation)
        self.tracker = FaceTracker() if task.options.face != "off" else None
        self.monochrome = task.monochrome
        self.sample_every = max(1, round(task.info.fps or 25.0))
        self.stop = threading.Event()
        self.deep = task.encoder.deep

    def restored(self, frames: Iterable[Frame]) -> Iterator[Frame]:
        """The frames through the stages, ``task.video.batch`` at a time; look-ahead frames only where a
        pass after the stages looks past the piece."""
        keep_ahead, batch = any(p.ahead for p in self.after), []
        for frame in frames:
            if frame.lookahead and not keep_ahead:
                continue
            if frame.warmup and not self.task.temporal:  # decoded for the cut detector or bwdif only
                yield frame
                continue
            batch.append(frame)
            if len(batch) == self.task.video.batch:
                yield from self._restore(batch)
                batch = []
        if batch:
            yield from self._restore(batch)

    def _restore(self, batch: list[Frame]) -> list[Frame]:
        # Frames travel to the device as 8-bit (a quarter of the bytes; 16-bit for a deep job) and become
        # float there.
        pixels = np.stack([f.pixels for f in batch])
        x = torch.from_numpy(pixels).to(self.restorer.device)
        x = x.permute(0, 3, 1, 2).float().div_(65535 if pixels.dtype == np.uint16 else 255)
        if self.monochrome is None:  # not known from the video's first frame: decided on this one
            self.monochrome = self.task.options.colorize == "auto" and bool(is_monochrome(x[:1]))
        out, _, report = self.restorer.run(x, monochrome=self.monochrome, track=self.tracker,
                                           cuts=[f.cut for f in batch])
        s = self.stats
        for k, v in report.seconds.items():
            s.seconds[k] = s.seconds.get(k, 0.0) + v
        if report.faces is not None:
            s.faces_found += report.faces.found
            s.faces_restored += report.faces.restored
            s.faces_skipped += report.faces.skipped
        for frame, picture in zip(batch, out):
            frame.restored = picture
        return batch

    def write(self, frames: Iterable[Frame], writer: SegmentWriter) -> None:
        """The frames written (warm-up and look-ahead frames counted, not written), each a sampled
        one a second for the metrics; ``on_frames`` told after every batch of the video's frames."""
        s, pending = self.stats, None
        for frame in frames:
            if frame.warmup:
                s.warmup += 1
            if not frame.written:
                continue
            if pending is not None:  # written once it is known whether the next frame is also its own
                self._put(writer, *pending, last_of_its_own=frame.index != pending[0].index)
            pending = (frame, (to_uint16 if self.deep else to_uint8)(frame.restored[None])[0])
        if pending is not None:
            self._put(writer, *pending, last_of_its_own=True)
        if self.on_frames:
            self.on_frames(s.frames)

    def _put(self, writer: SegmentWriter, frame: Frame, rgb: np.ndarray, last_of_its_own: bool) -> None:
        s = self.stats
        if not frame.made and frame.index % self.sample_every == 0:
            self._sample(frame.pixels, rgb)
        writer.write(rgb, frame.pts, frame.index, last_of_its_own)
        s.written += 1
        if last_of_its_own:
            s.frames += 1
            if self.on_frames and s.frames % self.task.video.batch == 0:
                self.on_frames(s.frames)

    def _sample(self, rgb_in: np.ndarray, rgb: np.ndarray) -> None:
        top = lambda a: 65535.0 if a.dtype == np.uint16 else 255.0  # noqa: E731
        f = rgb.astype(np.float32) / top(rgb)
        self.stats.sharpness.append(metrics.sharpness(f))
        ref = metrics.resize_to(rgb_in.astype(np.float32) / top(rgb_in), (f.shape[1], f.shape[0]))
        self.stats.quality.append(metrics.compare(f, ref))


def run_piece(task: VideoTask, piece: Piece, restorer, *, on_frames: Callable[[int], None] | None = None,
              cancel: threading.Event | None = None) -> PieceStats:
    """Restore the frames of ``piece`` with ``restorer`` (a ``Restorer`` for ``task.options``) into its
    segment files in ``task.work``. ``on_frames(n)``: n frames of the piece are written. Setting
    ``cancel`` stops at the next frame with ``Cancelled``; a segment file being written is dropped,
    finished ones stay. Raises ``VideoReadError``, ``VideoWriteError`` and what the stages raise."""
    run = _Piece(task, piece, restorer, on_frames)
    depth = max(4, 2 * task.video.batch)
    encoding = task.encoder
    reader = FrameReader(task.src, piece.window, run.stop, depth, task.info.colour, encoding.deep, task.fields)
    timing = task.retiming
    time_base, rate = (timing.out_time_base, timing.out_rate) if timing else task.timing
    writer = SegmentWriter(SegmentEncoder(task.work, task.dst, task.video, encoding, time_base, rate,
                                          task.segment_frames, piece.first_segment), run.stop, depth)
    reader.start()
    writer.start()
    try:
        frames = reader.frames(cancel, writer.check)  # decode
        for step in run.before:  # scene cuts
            frames = through(step, frames)
        frames = run.restored(frames)  # the stages
        for step in run.after:  # the stabiliser, frame interpolation
            frames = through(step, frames)
        run.write(_until_cancelled(frames, cancel, task, piece, run.stats), writer)  # encode
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
    run.stats.cuts = run.cuts.cuts
    if run.interpolation is not None:
        run.stats.made, run.stats.repeated = run.interpolation.made, run.interpolation.repeated
    return run.stats


def _until_cancelled(frames: Iterable[Frame], cancel: threading.Event | None, task: VideoTask, piece: Piece,
                     stats: PieceStats) -> Iterator[Frame]:
    for frame in frames:
        if cancel is not None and cancel.is_set():
            raise Cancelled(f"{task.src.name}: cancelled after {piece.start + stats.frames} frames")
        yield frame
