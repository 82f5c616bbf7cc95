"""A video on Ray: its segments go to actors as pieces; the front door joins them.

The driver lists the frames' timestamps (a demux pass, no decoding), cuts the job into the same
segments a local run writes (``segment_seconds`` each, so a local run and a cluster run resume each
other's work), and hands each missing segment to an idle worker as a ``Piece`` with warm-up frames
before it. A worker holds the job's models (one ``Restorer``) and runs the library's ``run_piece``,
which owns the piece's temporal state and writes one segment file under a temporary name until it is
whole. Ray restarts a worker that dies and runs its piece again (``RETRIES`` times). A video whose
timestamps cannot be split runs as one piece on one worker.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import deque
from typing import Any

from ..errors import RestorationError, VideoReadError, VideoWriteError
from ..video.finish import VideoRun
from ..video.piece import Piece, PieceStats, run_piece
from ..video.plan import WARMUP_FRAMES, ProgressLine, VideoJob, VideoTask, frame_times, segment_windows
from ..video.segments import segment_name
from .connect import ClusterSpec, check_reachable, job_runtime_env, set_threads, workers_for

log = logging.getLogger(__name__)
RETRIES = 3  # runs of a segment after its worker died, before the job fails


class _Progress:
    """A small actor the workers tell how many frames of their piece are done."""

    def __init__(self) -> None:
        self.frames: dict[int, int] = {}

    def report(self, piece: int, frames: int) -> None:
        self.frames[piece] = frames

    def snapshot(self) -> dict[int, int]:
        return dict(self.frames)


class _PieceWorker:
    """An actor: the job's models, loaded once, then one piece per ``run``."""

    def __init__(self, task: VideoTask, threads: int, progress: Any) -> None:
        from ..pipeline import prepare

        set_threads(threads)
        self.task, self.progress = task, progress
        self.restorer = prepare(task.options)
        self.where = f"{socket.gethostname()}:{os.getpid()}"

    def pid(self) -> int:
        return os.getpid()

    def run(self, piece: Piece) -> tuple[PieceStats, str]:
        stats = run_piece(self.task, piece, self.restorer,
                          on_frames=lambda n: self.progress.report.remote(piece.first_segment, n))
        return stats, self.where


def run_video(cluster: ClusterSpec, job: VideoJob) -> VideoRun:
    """Restore every missing segment of ``job`` on Ray. Raises ``VideoReadError`` for a video without
    frames, ``VideoWriteError`` when a piece's worker died more than ``RETRIES`` times or Ray gave up
    (the finished segments stay for a resume), and ``Cancelled`` when the job is cancelled."""
    task = job.task
    times = frame_times(task.src)
    if times is not None and not times:
        raise VideoReadError(f"{task.src.name}: the video has no frames that can be decoded")
    ray, workers = workers_for(cluster, task.options.device)
    check_reachable(ray, {"input": task.src, "output": task.dst.parent})
    run = _Run(ray, workers, job)
    try:
        return run.whole() if times is None else run.segments(times)
    finally:
        run.close()


class _Run:
    """The driver's side of one job: its actors, the pieces to hand out, the progress shown."""

    def __init__(self, ray: Any, workers: Any, job: VideoJob) -> None:
        self.ray, self.workers, self.job, self.task = ray, workers, job, job.task
        self.actors: list[Any] = []
        self.tracker = ray.remote(num_cpus=0)(_Progress).remote()

    def _start(self, count: int) -> None:
        cls = self.ray.remote(_PieceWorker)
        opts = dict(max_restarts=-1, max_task_retries=RETRIES, max_concurrency=2, runtime_env=job_runtime_env(),
                    **self.workers.resources)
        job = uuid.uuid4().hex[:8]
        self.names = [f"restoration-video-{job}-{i}" for i in range(count)]  # to find them: ray list actors
        self.actors = [cls.options(name=name, **opts).remote(self.task, self.workers.threads, self.tracker)
                       for name in self.names]

    def whole(self) -> VideoRun:
        """The rest of the video as one piece on one worker (timestamps that do not allow splitting)."""
        log.warning("%s: the frames' timestamps do not allow splitting; the job runs on one worker", self.task.src.name)
        first = self.task.start_work()
        resumed = first * self.task.segment_frames
        self._start(1)
        stats, where = self._gather([Piece(first, resumed)], resumed, " · 1 Ray worker (the whole video)")[0]
        note = f"{self.task.src.name}: the frames' timestamps do not allow splitting, so the video ran on one worker"
        return VideoRun(stats, resumed, first + stats.segments, warnings=[note],
                        metrics={"cluster": {"workers": "1 worker (the whole video)", "segments": None,
                                             "segments_resumed": None, "warmup_frames": 0, "by_worker": {where: 1}}})

    def segments(self, times: list[int]) -> VideoRun:
        """Every missing segment as a piece of its own."""
        task = self.task
        task.start_work()
        windows = segment_windows(times, task.segment_frames, WARMUP_FRAMES if task.temporal else 0)
        pieces = [Piece(k, w.start_index, w) for k, w in enumerate(windows)
                  if not (task.work / segment_name(k, task.dst.name)).exists()]
        sizes = [min(task.segment_frames, len(times) - w.start_index) for w in windows]
        resumed = sum(sizes) - sum(sizes[p.first_segment] for p in pieces)
        done: list[tuple[PieceStats, str]] = []
        if pieces:
            self._start(min(self.workers.count, len(pieces)))
            done = self._gather(pieces, resumed, f" · {len(self.actors)} Ray workers", len(times), sizes)
        stats = sum((s for s, _ in done), PieceStats())
        by_worker: dict[str, int] = {}
        for _, where in done:
            by_worker[where] = by_worker.get(where, 0) + 1
        return VideoRun(stats, resumed, len(windows), metrics={"cluster": {
            "workers": self.workers.describe(), "segments": len(windows), "segments_resumed": len(windows) - len(done),
            "warmup_frames": stats.warmup, "by_worker": by_worker}})

    def _gather(self, pieces: list[Piece], resumed: int, suffix: str, total: int | None = None,
                sizes: list[int] | None = None) -> list[tuple[PieceStats, str]]:
        """Hand ``pieces`` to idle workers until all are done; returns their (stats, worker)."""
        line = ProgressLine(self.job.progress, total or self.task.total, resumed, suffix)
        todo, idle, running = deque(pieces), list(self.actors), {}
        done: list[tuple[PieceStats, str]] = []
        while todo or running:
            ready = self.ray.wait(list(running), num_returns=1, timeout=0.5)[0] if running else []
            for ref in ready:
                actor, piece = running.pop(ref)
                done.append(self._get(ref, self._label(piece, sizes)))
                idle.append(actor)
            while todo and idle:  # hand out work before reporting: no worker waits on the report
                actor, piece = idle.pop(), todo.popleft()
                running[actor.run.remote(piece)] = (actor, piece)
            frames = resumed + sum(s.frames for s, _ in done)
            self.job.check_cancel(frames)
            if self.job.progress:
                now = self.ray.get(self.tracker.snapshot.remote())
                line.update(frames + sum(now.get(p.first_segment, 0) for _, p in running.values()))
        return done

    def _label(self, piece: Piece, sizes: list[int] | None) -> str:
        if sizes is None:
            return "the whole video"
        return f"segment {piece.first_segment} (frames {piece.start}-{piece.start + sizes[piece.first_segment] - 1})"

    def _get(self, ref: Any, what: str) -> Any:
        from ray.exceptions import RayActorError, RayError, RayTaskError

        name = self.task.src.name
        try:
            return self.ray.get(ref)
        except RayTaskError as e:
            cause = e.cause
            if isinstance(cause, RestorationError):
                raise cause from None
            raise VideoWriteError(f"{name}: {what} failed on a Ray worker ({cause!r})") from None
        except RayActorError as e:
            raise VideoWriteError(f"{name}: the worker restoring {what} died on each of {RETRIES + 1} tries "
                                  f"({e.__class__.__name__}); the finished segments are kept: run again to "
                                  "resume") from None
        except RayError as e:  # the engine itself gave up (an object lost with its node...)
            raise VideoWriteError(f"{name}: {what} could not be run on Ray ({type(e).__name__}: {e}); the "
                                  "finished segments are kept: run again to resume") from e

    def close(self) -> None:
        """Stop the job's actors (a cancel or an error ends their work now) and free their GPUs."""
        for a in [*self.actors, self.tracker]:
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
