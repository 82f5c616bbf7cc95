"""A video on Ray: its segments go to actors as pieces; the front door joins them.

The driver plans the job (``VideoPlan``: the same segments a local run writes, ``segment_seconds``
each, so a local run and a cluster run resume each other's work) and hands each missing segment to an
idle worker as a ``Piece`` (with its warm-up frames before it and look-ahead frames after). A worker
holds the job's models (one ``Restorer``) and runs the library's ``run_piece``, which owns the piece's
temporal state and writes one segment file under a temporary name until it is whole. Ray restarts a
worker that dies and runs its piece again (``RETRIES`` times). A video whose timestamps cannot be split
is the plan's one piece, on one worker.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import deque
from typing import Any

from ..errors import RestorationError, VideoReadError, VideoWriteError
from ..video.piece import PieceStats, run_piece
from ..video.plan import Piece, VideoJob, VideoPlan, VideoRun, VideoTask
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
    task, plan = job.task, VideoPlan(job.task)
    if plan.count == 0:
        raise VideoReadError(f"{task.src.name}: the video has no frames that can be decoded")
    ray, workers = workers_for(cluster, task.options.device)
    check_reachable(ray, {"input": task.src, "output": task.dst.parent})
    run = _Run(ray, workers, job, plan)
    try:
        return run.segments() if plan.splittable else run.whole()
    finally:
        run.close()


class _Run:
    """The driver's side of one job: its actors, the pieces to hand out, the progress shown."""

    def __init__(self, ray: Any, workers: Any, job: VideoJob, plan: VideoPlan) -> None:
        self.ray, self.workers, self.job, self.task, self.plan = ray, workers, job, job.task, plan
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
        """The plan's one piece (timestamps that do not allow splitting) on one worker."""
        log.warning("%s: the frames' timestamps do not allow splitting; the job runs on one worker", self.task.src.name)
        self._start(1)
        [(stats, where)] = self._gather(self.plan.pieces(), " · 1 Ray worker (the whole video)")
        note = f"{self.task.src.name}: the frames' timestamps do not allow splitting, so the video ran on one worker"
        return self.plan.result(stats, warnings=[note], metrics={"cluster": {
            "workers": "1 worker (the whole video)", "segments": None, "segments_resumed": None, "warmup_frames": 0,
            "by_worker": {where: 1}}})

    def segments(self) -> VideoRun:
        """Every missing segment as a piece of its own."""
        pieces = self.plan.pieces(1)
        done: list[tuple[PieceStats, str]] = []
        if pieces:
            self._start(min(self.workers.count, len(pieces)))
            done = self._gather(pieces, f" · {len(self.actors)} Ray workers")
        stats = sum((s for s, _ in done), PieceStats())
        by_worker: dict[str, int] = {}
        for _, where in done:
            by_worker[where] = by_worker.get(where, 0) + 1
        count = self.plan.segments
        return self.plan.result(stats, metrics={"cluster": {
            "workers": self.workers.describe(), "segments": count, "segments_resumed": count - len(done),
            "warmup_frames": stats.warmup, "by_worker": by_worker}})

    def _gather(self, pieces: list[Piece], suffix: str) -> list[tuple[PieceStats, str]]:
        """Hand ``pieces`` to idle workers until all are done; returns their (stats, worker)."""
        line = self.plan.line(self.job.progress, suffix)
        todo, idle, running = deque(pieces), list(self.actors), {}
        done: list[tuple[PieceStats, str]] = []
        while todo or running:
            ready = self.ray.wait(list(running), num_returns=1, timeout=0.5)[0] if running else []
            for ref in ready:
                actor, piece = running.pop(ref)
                done.append(self._get(ref, self._label(piece)))
                idle.append(actor)
            while todo and idle:  # hand out work before reporting: no worker waits on the report
                actor, piece = idle.pop(), todo.popleft()
                running[actor.run.remote(piece)] = (actor, piece)
            frames = self.plan.resumed + sum(s.frames for s, _ in done)
            self.job.check_cancel(frames)
            if self.job.progress:
                now = self.ray.get(self.tracker.snapshot.remote())
                line.update(frames + sum(now.get(p.first_segment, 0) for _, p in running.values()))
        return done

    def _label(self, piece: Piece) -> str:
        w = piece.window
        if w.end is None and not self.plan.splittable:
            return "the whole video"
        last = (w.end if w.end is not None else self.plan.total) - 1
        return f"segment {piece.first_segment} (frames {w.start}-{last})"

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
