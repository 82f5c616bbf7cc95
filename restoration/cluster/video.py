"""A video on Ray: its segments go to actors, the driver joins them with the source's audio.

The driver lists the frames' timestamps (a demux pass, no decoding), cuts the job into the same
segments a local run writes (``segment_seconds`` each, so a local run and a cluster run resume each
other's work), and hands each missing segment to an idle worker. A worker holds the job's models
(one ``Restorer``) and runs the local video job on one ``Window``: it decodes from the keyframe before
its frames, restores ``WARMUP_FRAMES`` frames before them to prime the temporal stabiliser and the
face tracks (so nothing steps at a border), keeps exactly its own frames and writes one segment file,
under a temporary name until it is whole. Ray restarts a worker that dies and runs its segment again
(``RETRIES`` times). The driver then joins the segments in order and copies audio and subtitles once.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from ..errors import Cancelled, RestorationError, VideoReadError, VideoWriteError
from ..options import RestoreOptions, VideoOptions
from ..pipeline import ProgressFn
from ..video.decode import Window
from ..video.job import (
    Piece,
    VideoResult,
    _stabilizer,
    _VideoJob,
    first_frame_monochrome,
    join_segments,
    merge_stats,
    segment_frames,
    video_metrics,
    video_warnings,
)
from ..video.probe import VideoInfo, open_video
from ..video.segments import fingerprint, prepare_work_dir, segment_name, work_dir
from . import Cluster, as_cluster
from .connect import check_reachable, job_runtime_env, set_threads, workers_for

log = logging.getLogger(__name__)
WARMUP_FRAMES = 8  # frames restored before a segment (and not kept) when its job has temporal state
RETRIES = 3  # runs of a segment after its worker died, before the job fails


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


def plan_pieces(times: list[int], per_segment: int, warmup: int) -> list[Piece]:
    """The segments of a job as ``Piece``\\ s: frames ``[k * per_segment, (k + 1) * per_segment)``,
    each with up to ``warmup`` frames before it."""
    pieces = []
    for k in range(math.ceil(len(times) / per_segment)):
        start, end = k * per_segment, min((k + 1) * per_segment, len(times))
        warm = max(0, start - warmup)
        pieces.append(Piece(k, Window(start, times[warm], times[start], times[end] if end < len(times) else None)))
    return pieces


class _Progress:
    """A small actor the workers tell how many frames of their segment are done."""

    def __init__(self) -> None:
        self.frames: dict[int, int] = {}

    def report(self, segment: int, frames: int) -> None:
        self.frames[segment] = frames

    def snapshot(self) -> dict[int, int]:
        return dict(self.frames)


class _SegmentWorker:
    """An actor: the job's models, loaded once, then one segment per ``run``."""

    def __init__(self, src: Path, dst: Path, info: VideoInfo, options: RestoreOptions, video: VideoOptions,
                 threads: int, progress: Any, monochrome: bool | None) -> None:
        from ..pipeline import prepare

        set_threads(threads)
        self.args = (src, dst, info, options, video)
        self.monochrome = monochrome  # decided by the driver on the video's first frame, as locally
        self.restorer = prepare(options)
        self.progress = progress
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def pid(self) -> int:
        return os.getpid()

    def run(self, piece: Piece) -> dict[str, Any]:
        start = piece.window.start_index
        holder: dict[str, _VideoJob] = {}

        def report(_fraction: float, _message: str) -> None:
            self.progress.report.remote(piece.segment, holder["job"].done - start)

        job = holder["job"] = _VideoJob(*self.args, report, None, piece=piece, restorer=self.restorer,
                                        monochrome=self.monochrome)
        _, bad_packets = job.run()
        return {**job.stats(bad_packets), "segment": piece.segment, "worker": self.where}

    def run_whole(self, keep_parts: bool) -> VideoResult:
        """The whole job as a local run on this worker (a video whose timestamps cannot be split)."""
        from ..video.job import restore_video

        src, dst, _, options, video = self.args
        return restore_video(src, dst, options, video, keep_parts=keep_parts,
                             progress=lambda f, m: self.progress.report.remote(0, int(f * 1_000_000)))


def restore_video_on_ray(src: Path, dst: Path, info: VideoInfo, options: RestoreOptions, video: VideoOptions, *,
                         cluster: Cluster | str | bool = True, progress: ProgressFn | None = None,
                         cancel: threading.Event | None = None, keep_parts: bool = False) -> VideoResult:
    """``restore_video`` (its request already checked) on Ray; see the module. Raises what
    ``restore_video`` raises, ``VideoWriteError`` when a segment's worker died more than ``RETRIES``
    times, and ``Cancelled`` when ``cancel`` is set (the segments finished so far stay for a resume)."""
    t0 = time.perf_counter()
    cluster = as_cluster(cluster)
    times = frame_times(src)
    if times is not None and not times:
        raise VideoReadError(f"{src.name}: the video has no frames that can be decoded")
    ray, workers = workers_for(cluster, options.device)
    check_reachable(ray, {"input": src, "output": dst.parent})
    run = _Run(ray, workers, src, dst, info, options, video, progress, cancel, times)
    try:
        if times is None:
            return run.whole(keep_parts)
        stats, resumed = run.segments()
    finally:
        run.close()
    n = len(run.pieces)
    carried = join_segments(src, run.work, dst, n, info.rotation, progress, keep_parts)
    merged = merge_stats(stats)
    done = resumed + merged["frames"]
    warnings = video_warnings(src.name, info, options, video, done, merged["bad_packets"])
    metrics = video_metrics(info, options, {**merged, "frames": done - resumed}, warnings, carried,
                            time.perf_counter() - t0, resumed_from=resumed,
                            stabilized=_stabilizer(options, video) is not None, tracked=options.face != "off")
    metrics["cluster"] = {"workers": workers.describe(), "segments": n, "segments_resumed": n - len(stats),
                          "warmup_frames": merged["warmup"],
                          "by_worker": _count_by(s["worker"] for s in stats)}
    if progress:
        progress(1.0, f"done: {done} frames")
    return VideoResult(dst, info, metrics, resumed)


def _count_by(names) -> dict[str, int]:
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return counts


class _Run:
    """The driver's side of one job: its actors, the segments to hand out, the progress shown."""

    def __init__(self, ray, workers, src: Path, dst: Path, info: VideoInfo, options: RestoreOptions,
                 video: VideoOptions, progress: ProgressFn | None, cancel: threading.Event | None,
                 times: list[int] | None) -> None:
        self.ray, self.workers, self.src, self.dst = ray, workers, src, dst
        self.info, self.options, self.video = info, options, video
        self.progress_fn, self.cancel, self.times = progress, cancel, times
        self.work = work_dir(dst)
        self.t0 = time.perf_counter()
        self.actors: list[Any] = []
        self.tracker = ray.remote(num_cpus=0)(_Progress).remote()
        self.monochrome = first_frame_monochrome(src, options)
        temporal = _stabilizer(options, video) is not None or options.face != "off"
        self.per = segment_frames(info, video)
        self.pieces = plan_pieces(times, self.per, WARMUP_FRAMES if temporal else 0) if times else []

    def _start(self, count: int) -> None:
        cls = self.ray.remote(_SegmentWorker)
        opts = dict(max_restarts=-1, max_task_retries=RETRIES, max_concurrency=2, runtime_env=job_runtime_env(),
                    **self.workers.resources)
        job = uuid.uuid4().hex[:8]
        self.names = [f"restoration-video-{job}-{i}" for i in range(count)]  # to find them: ray list actors
        self.actors = [cls.options(name=name, **opts).remote(self.src, self.dst, self.info, self.options, self.video,
                                                     self.workers.threads, self.tracker, self.monochrome)
                       for name in self.names]

    def whole(self, keep_parts: bool) -> VideoResult:
        log.warning("%s: the frames' timestamps do not allow splitting; the job runs on one worker", self.src.name)
        self._start(1)
        ref = self.actors[0].run_whole.remote(keep_parts)
        while not self.ray.wait([ref], timeout=0.5)[0]:
            self._check_cancel(0)
            share = self.ray.get(self.tracker.snapshot.remote()).get(0, 0) / 1_000_000
            if self.progress_fn:
                self.progress_fn(min(0.99, share), "on one Ray worker (timestamps do not allow splitting)")
        result = self._get(ref, "the whole video")
        result.metrics["warnings"].append(f"{self.src.name}: the frames' timestamps do not allow splitting, so "
                                          "the video ran on one worker")
        result.metrics["cluster"] = {"workers": "1 worker (the whole video)", "segments": None,
                                     "segments_resumed": None, "warmup_frames": 0, "by_worker": {}}
        return result

    def segments(self) -> tuple[list[dict[str, Any]], int]:
        """Run every missing segment; returns their stats and the frames of those already there."""
        prepare_work_dir(self.work, fingerprint(self.src, self.dst, self.options, self.video))
        size = {p.segment: min(self.per, len(self.times) - p.window.start_index) for p in self.pieces}
        finished = {p.segment for p in self.pieces if (self.work / segment_name(p.segment, self.dst.name)).exists()}
        todo = deque(p for p in self.pieces if p.segment not in finished)
        resumed = sum(size[k] for k in finished)
        stats: list[dict[str, Any]] = []
        if not todo:
            return stats, resumed
        self._start(min(self.workers.count, len(todo)))
        idle, running = list(self.actors), {}
        total = len(self.times)
        while todo or running:
            ready = self.ray.wait(list(running), num_returns=1, timeout=0.5)[0] if running else []
            for ref in ready:
                actor, piece = running.pop(ref)
                stats.append(self._get(ref, _frames_label(piece, size[piece.segment])))
                idle.append(actor)
            while todo and idle:  # hand out work before reporting: no worker waits on the report
                actor, piece = idle.pop(), todo.popleft()
                running[actor.run.remote(piece)] = (actor, piece)
            done = resumed + sum(s["frames"] for s in stats)
            self._check_cancel(done)
            if self.progress_fn:
                now = self.ray.get(self.tracker.snapshot.remote())
                done += sum(now.get(p.segment, 0) for _, p in running.values())
                self._report(done, total, resumed)
        return stats, resumed

    def _get(self, ref, what: str) -> Any:
        from ray.exceptions import RayActorError, RayError, RayTaskError

        try:
            return self.ray.get(ref)
        except RayTaskError as e:
            cause = e.cause
            if isinstance(cause, RestorationError):
                raise cause from None
            raise VideoWriteError(f"{self.src.name}: {what} failed on a Ray worker ({cause!r})") from None
        except RayActorError as e:
            raise VideoWriteError(f"{self.src.name}: the worker restoring {what} died on each of "
                                  f"{RETRIES + 1} tries ({e.__class__.__name__}); the finished segments are kept: "
                                  "run again to resume") from None
        except RayError as e:  # the engine itself gave up (an object lost with its node...)
            raise VideoWriteError(f"{self.src.name}: {what} could not be run on Ray ({type(e).__name__}: {e}); "
                                  "the finished segments are kept: run again to resume") from e

    def _check_cancel(self, done: int) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"{self.src.name}: cancelled after {done} frames")

    def _report(self, done: int, total: int, resumed: int) -> None:
        elapsed = time.perf_counter() - self.t0
        rate = (done - resumed) / elapsed if elapsed > 0 else 0.0
        eta = (total - done) / rate if rate > 0 else float("inf")
        eta_s = time.strftime("%H:%M:%S", time.gmtime(eta)) if math.isfinite(eta) else "?"
        self.progress_fn(min(0.99, done / max(1, total)),
                         f"frame {done}/{total} · {rate:.1f} fps · {eta_s} left · {len(self.actors)} Ray workers")

    def close(self) -> None:
        """Stop the job's actors (a cancel or an error ends their work now) and free their GPUs."""
        for a in [*self.actors, self.tracker]:
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass


def _frames_label(piece: Piece, frames: int) -> str:
    first = piece.window.start_index
    return f"segment {piece.segment} (frames {first}-{first + frames - 1})"
