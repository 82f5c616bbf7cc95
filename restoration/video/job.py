"""``restore_video``: one video through the image stages, streamed, resumable, audio kept.

Decoding (``FrameReader``), the stages (this thread) and encoding (``SegmentWriter``) run in three
threads joined by small bounded queues, so memory stays bounded whatever the length. Frames go through
one prepared ``Restorer`` in batches: models are resolved and tiles planned once for the whole video.
"""

from __future__ import annotations

import math
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import metrics
from ..color import to_uint8
from ..errors import Cancelled, OptionError, VideoReadError, VideoWriteError
from ..faces.track import FaceTracker
from ..media import max_pixels
from ..options import CODECS, RestoreOptions, VideoOptions
from ..pipeline import ProgressFn, prepare
from ..stages import is_monochrome
from .assemble import assemble
from .decode import Frame, FrameReader, Window
from .probe import VideoInfo, open_video, probe
from .segments import EVEN_ONLY, SegmentEncoder, SegmentWriter, fingerprint, prepare_work_dir, work_dir
from .stabilize import TemporalStabilizer


@dataclass(frozen=True)
class Piece:
    """One segment of a job split between workers: segment number ``segment``, its frames ``window``."""

    segment: int
    window: Window


@dataclass
class VideoResult:
    path: Path
    info: VideoInfo
    metrics: dict[str, Any]
    resumed_frames: int = 0


def _check_request(src: Path, dst: Path, options: RestoreOptions, video: VideoOptions) -> VideoInfo:
    """Everything that can be refused before any work: container, same file, the source, the size."""
    suffix = dst.suffix.lower()
    allowed = CODECS[video.codec][2]
    if suffix not in allowed:
        raise OptionError(f"codec {video.codec} cannot be written to a {suffix or 'nameless'} file; use "
                          f"{' or '.join(allowed)}")
    if src.resolve() == dst.resolve():
        raise OptionError(f"{dst.name}: the output would overwrite the input; choose another name")
    info = probe(src)
    out_w, out_h = _out_size(info, options)
    limit = max_pixels()
    if info.width * info.height > limit or out_w * out_h > limit:
        raise VideoReadError(f"{src.name}: {info.width}x{info.height} -> {out_w}x{out_h} is over the limit of "
                             f"{limit:,} pixels per frame; lower --upscale or raise RESTORATION_MAX_PIXELS")
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise VideoWriteError(f"{dst}: cannot create the output folder ({e})") from e
    return info


def _out_size(info: VideoInfo, options: RestoreOptions) -> tuple[int, int]:
    scale = options.upscale if options.does_superres else 1
    return round(info.width * scale), round(info.height * scale)


def _stabilizer(options: RestoreOptions, video: VideoOptions) -> TemporalStabilizer | None:
    """Chroma smoothing where colour can be invented (colorize), static-luma smoothing after denoise."""
    colorizes = options.colorize != "off"
    luma = 0.5 if options.denoise > 0 else 0.0
    if not video.stabilize or not (colorizes or luma):
        return None
    return TemporalStabilizer(chroma=0.8 if colorizes else 0.0, luma=luma)


class _VideoJob:
    """The state of one run: counters, samples for the metrics, the threads' stop flag."""

    def __init__(self, src: Path, dst: Path, info: VideoInfo, options: RestoreOptions, video: VideoOptions,
                 progress: ProgressFn | None, cancel: threading.Event | None, piece: Piece | None = None,
                 restorer: Any = None, monochrome: bool | None = None) -> None:
        self.src, self.dst, self.info, self.options, self.video = src, dst, info, options, video
        self.progress, self.cancel = progress, cancel
        self.restorer = restorer or prepare(options)
        self.stabilizer = _stabilizer(options, video)
        self.fps = info.fps or 25.0
        self.segment_frames = segment_frames(info, video)
        self.work = work_dir(dst)
        self.piece = piece
        if piece is None:
            self.first_segment = prepare_work_dir(self.work, fingerprint(src, dst, options, video))
            self.skip = self.done = self.first_segment * self.segment_frames
        else:  # the work folder is the driver's; this run writes exactly segment ``piece.segment``
            self.first_segment = piece.segment
            self.skip = self.done = piece.window.start_index
        self.warmup = 0
        self.total = info.frames or max(1, round(info.duration * self.fps))
        self.processed = 0
        self.monochrome = monochrome  # None: decided on the first frame restored
        self.sharp: list[float] = []
        self.quality: list[dict[str, float]] = []
        self.seconds: dict[str, float] = {}
        self.faces = {"found": 0, "restored": 0, "skipped": 0}
        self.tracker = FaceTracker() if options.face != "off" else None
        self.sample_every = max(1, round(self.fps))
        self.stop = threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> tuple[int, int]:
        """Decode, restore and encode every frame from the resume point; returns (segments, bad packets)."""
        depth = max(4, 2 * self.video.batch)
        reader = FrameReader(self.src, self.skip, self.stop, depth, self.piece.window if self.piece else None)
        per_file = self.segment_frames if self.piece is None else 1 << 62  # a piece is one file, whatever comes
        encoder = SegmentEncoder(self.work, self.dst, self.video, self.info.time_base, self.info.rate,
                                 per_file, self.first_segment)
        writer = SegmentWriter(encoder, self.stop, depth)
        reader.start()
        writer.start()
        try:
            ended = False
            while not ended:
                batch, ended = reader.next_batch(self.video.batch, self.done, self.cancel, writer.check)
                if self.cancel is not None and self.cancel.is_set():
                    raise Cancelled(f"{self.src.name}: cancelled after {self.done} frames")
                writer.check()
                if batch:
                    self._restore(batch, writer)
            segments = writer.finish()
        except BaseException:
            self.stop.set()  # the writer discards its open segment; finished ones stay for a resume
            writer.join(timeout=30)
            raise
        finally:
            self.stop.set()
            reader.join(timeout=30)
        return segments, reader.bad_packets

    def _restore(self, batch: list[Frame], writer: SegmentWriter) -> None:
        # Frames travel to the device as 8-bit (a quarter of the bytes) and become float there.
        x = torch.from_numpy(np.stack([b[2] for b in batch])).to(self.restorer.device)
        x = x.permute(0, 3, 1, 2).float().div_(255)
        if self.monochrome is None:  # not known from the video's first frame: decided on this one
            self.monochrome = self.options.colorize == "auto" and is_monochrome(x[:1])
        out, _, report = self.restorer.run(x, monochrome=self.monochrome, track=self.tracker)
        for k, v in report.seconds.items():
            self.seconds[k] = self.seconds.get(k, 0.0) + v
        if report.faces is not None:
            for k in self.faces:
                self.faces[k] += getattr(report.faces, k)
        if self.stabilizer is not None and ("colorize" in report.stages or "denoise" in report.stages):
            out = self.stabilizer(out)
        frames = to_uint8(out)
        written = 0
        for (index, pts, rgb_in), rgb in zip(batch, frames):
            if index < 0:  # warm-up before a piece: it primed the stabiliser and the face tracks
                self.warmup += 1
                continue
            if index % self.sample_every == 0:
                self._sample(rgb_in, rgb)
            writer.write(rgb, pts)
            written += 1
        self.done += written
        self.processed += written
        self._report()

    def _sample(self, rgb_in: np.ndarray, rgb: np.ndarray) -> None:
        f = rgb.astype(np.float32) / 255
        self.sharp.append(metrics.sharpness(f))
        ref = metrics.resize_to(rgb_in.astype(np.float32) / 255, (f.shape[1], f.shape[0]))
        self.quality.append(metrics.compare(f, ref))

    def _report(self) -> None:
        if not self.progress:
            return
        elapsed = time.perf_counter() - self.t0
        rate = self.processed / elapsed if elapsed > 0 else 0.0
        eta = max(0, self.total - self.done) / rate if rate > 0 else float("inf")
        eta_s = time.strftime("%H:%M:%S", time.gmtime(eta)) if math.isfinite(eta) else "?"
        top = max(self.total, self.done)
        self.progress(min(0.99, self.done / top), f"frame {self.done}/{top} · {rate:.1f} fps · {eta_s} left")

    def warnings(self, bad_packets: int) -> list[str]:
        return video_warnings(self.src.name, self.info, self.options, self.video, self.done, bad_packets)

    def stats(self, bad_packets: int) -> dict[str, Any]:
        """What this run measured, in a form that adds up over the pieces of a split job."""
        return {"frames": self.done - self.skip, "processed": self.processed, "warmup": self.warmup,
                "sharp": self.sharp, "quality": self.quality, "seconds": self.seconds, "faces": dict(self.faces),
                "tracks": self.tracker.started if self.tracker is not None else 0,
                "cuts": self.stabilizer.cuts if self.stabilizer is not None else 0, "bad_packets": bad_packets}

    def metrics(self, warnings: list[str], carried: dict[str, int], stats: dict[str, Any]) -> dict[str, Any]:
        return video_metrics(self.info, self.options, stats, warnings, carried, time.perf_counter() - self.t0,
                             resumed_from=self.skip, stabilized=self.stabilizer is not None,
                             tracked=self.tracker is not None)


def first_frame_monochrome(src: Path, options: RestoreOptions) -> bool | None:
    """Whether ``colorize="auto"`` treats the video as black and white: decided once, on its first
    frame, so a resumed run and every worker of a cluster run decide alike. None when the first frame
    cannot be decoded here (the job then decides on the first frame it restores)."""
    import av

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


def video_warnings(name: str, info: VideoInfo, options: RestoreOptions, video: VideoOptions, done: int,
                   bad_packets: int) -> list[str]:
    """What the user should know about a finished job: damaged packets, a padded size, missing frames."""
    (out_w, out_h), found = _out_size(info, options), []
    if bad_packets:
        found.append(f"{name}: {bad_packets} damaged packet(s) could not be decoded and were skipped; the "
                     "pictures around them may show artefacts")
    if video.codec in EVEN_ONLY and (out_w % 2 or out_h % 2):
        found.append(f"{name}: {video.codec} cannot store the odd size {out_w}x{out_h}, so the last "
                     f"column/row is repeated ({out_w + out_w % 2}x{out_h + out_h % 2}); use vp9, ffv1 or "
                     "png to keep the exact size")
    expected = info.expected_frames
    if expected and done < 0.98 * expected - 1:
        found.append(f"{name}: only {done} of the {expected} frames the file announces could be "
                     "decoded; it is probably truncated or damaged, and the output is that much shorter")
    return found


def segment_frames(info: VideoInfo, video: VideoOptions) -> int:
    """Frames per segment file: the unit of resuming, and of the work a cluster worker gets."""
    return max(1, round((info.fps or 25.0) * video.segment_seconds))


def merge_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``stats`` of several pieces as one (sums, and samples in the pieces' order)."""
    total: dict[str, Any] = {"frames": 0, "processed": 0, "warmup": 0, "sharp": [], "quality": [], "seconds": {},
                             "faces": {"found": 0, "restored": 0, "skipped": 0}, "tracks": 0, "cuts": 0,
                             "bad_packets": 0}
    for p in parts:
        for k in ("frames", "processed", "warmup", "tracks", "cuts", "bad_packets"):
            total[k] += p[k]
        total["sharp"] += p["sharp"]
        total["quality"] += p["quality"]
        for k, v in p["seconds"].items():
            total["seconds"][k] = total["seconds"].get(k, 0.0) + v
        for k, v in p["faces"].items():
            total["faces"][k] += v
    return total


def video_metrics(info: VideoInfo, options: RestoreOptions, stats: dict[str, Any], warnings: list[str],
                  carried: dict[str, int], elapsed: float, *, resumed_from: int, stabilized: bool,
                  tracked: bool) -> dict[str, Any]:
    """The metrics a video job returns, from its (merged) ``stats``."""
    sharp, quality = stats["sharp"], stats["quality"]
    mean = lambda key: float(np.mean([q[key] for q in quality])) if quality else float("nan")  # noqa: E731
    return {
        "frames": resumed_from + stats["frames"], "frames_expected": info.expected_frames, "warnings": warnings,
        "frames_processed": stats["processed"], "resumed_from_frame": resumed_from,
        "fps_processing": stats["processed"] / elapsed if elapsed > 0 else 0.0, "seconds_total": elapsed,
        "seconds": {k: round(v, 3) for k, v in stats["seconds"].items()},
        "size_in": [info.width, info.height], "size_out": list(_out_size(info, options)),
        "sharpness_mean": float(np.mean(sharp)) if sharp else float("nan"),
        "sharpness_worst": float(np.min(sharp)) if sharp else float("nan"),
        "psnr_mean": mean("psnr"), "ssim_mean": mean("ssim"),
        "compared_with": "input frames resized (one frame per second sampled)",
        "stabilized": stabilized, "scene_cuts": stats["cuts"],
        **({"faces": {**stats["faces"], "tracks": stats["tracks"]}} if tracked else {}),
        **carried,
    }


def restore_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    options: RestoreOptions | None = None,
    video: VideoOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    keep_parts: bool = False,
    ray: Any = None,
) -> VideoResult:
    """Restore the video ``src`` into ``dst`` (.mp4, .mkv, .mov or .webm) with the image stages.

    Every frame keeps its timestamp (constant and variable rates, frame count and duration are the
    source's); rotation metadata is copied, not applied; audio and subtitles are carried over. A
    matching earlier run resumes from its finished segments. ``progress(fraction, message)`` gets
    frames done, fps and time left. Setting ``cancel`` stops at the next batch and raises ``Cancelled``
    (finished segments stay for a resume unless the caller removes them with ``discard_parts``).
    Raises ``OptionError`` (codec and container, output = input), ``VideoReadError``,
    ``VideoWriteError``, and what ``restore_tensor`` raises.

    ``ray`` splits the job into its segments and runs them on a Ray cluster (True or "" for an
    embedded Ray or ``RAY_ADDRESS``, an address, or a ``restoration.cluster.Cluster``): same frames,
    timestamps, size and audio; see ``restoration.cluster.video``.
    """

    options, video = options or RestoreOptions(), video or VideoOptions()
    src, dst = Path(src), Path(dst)
    info = _check_request(src, dst, options, video)
    monochrome = first_frame_monochrome(src, options)
    restorer = prepare(options)
    restorer.check_models(monochrome)  # a missing model fails now, before any frame
    if ray is not None and ray is not False:
        from ..cluster.video import restore_video_on_ray

        return restore_video_on_ray(src, dst, info, options, video, cluster=ray, progress=progress,
                                    cancel=cancel, keep_parts=keep_parts)
    job = _VideoJob(src, dst, info, options, video, progress, cancel, restorer=restorer, monochrome=monochrome)
    segments, bad_packets = job.run()
    if segments == 0 or job.done == 0:
        shutil.rmtree(job.work, ignore_errors=True)
        raise VideoReadError(f"{src.name}: the video has no frames that can be decoded")
    warnings = job.warnings(bad_packets)
    carried = join_segments(src, job.work, dst, segments, info.rotation, progress, keep_parts)
    result = VideoResult(dst, info, job.metrics(warnings, carried, job.stats(bad_packets)), job.skip)
    if progress:
        progress(1.0, f"done: {job.done} frames")
    return result


def join_segments(src: Path, work: Path, dst: Path, segments: int, rotation: int, progress: ProgressFn | None,
                  keep_parts: bool) -> dict[str, int]:
    """``assemble`` the finished segments into ``dst`` (then remove them unless ``keep_parts``);
    returns what was carried. Raises ``VideoWriteError`` when the file cannot be written."""
    import av

    if progress:
        progress(0.995, "joining segments and copying audio")
    try:
        carried = assemble(src, work, dst, segments, rotation)
    except av.FFmpegError as e:
        raise VideoWriteError(f"{dst.name}: could not write the final file ({e})") from e
    if not keep_parts:
        shutil.rmtree(work, ignore_errors=True)
    return carried


def discard_parts(dst: str | os.PathLike) -> None:
    """Remove the finished segments an interrupted ``restore_video`` left for ``dst``."""
    shutil.rmtree(work_dir(Path(dst)), ignore_errors=True)
