"""The front door for batch and video jobs: each request is checked here once, then handed to an
executor.

An executor runs the pieces of a job somewhere: ``LOCAL`` in this process (the default), a Ray
``restoration.cluster.Cluster`` on many machines, or any object with the two methods of
``Executor`` (the app's several short ZeroGPU calls). Executors hold no restoration logic: they
split, place, retry and gather. What they run is the library's: ``batch.restore_one`` for a file,
``video.piece.run_piece`` for a stretch of video; every video ends in the same
``video.finish.finish_video``. A job never imports an executor.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .batch import BatchItem, BatchSummary, check_folders, plan, restore_one, unpack_images
from .cost import measured
from .errors import Cancelled, OptionError, RestorationError
from .options import RestoreOptions, VideoOptions
from .pipeline import Restorer, prepare
from .progress import ProgressFn
from .video.finish import VideoResult, finish_video
from .video.piece import PieceStats, run_piece
from .video.plan import VideoJob, VideoPlan, VideoRun, VideoTask, check_video, first_frame_monochrome


@dataclass
class FilesJob:
    """A checked batch as an executor gets it: the files still to restore (``pending``: their index
    in the plan, source, destination), the job's options and prepared ``Restorer``, and the two
    folders every worker must reach. An executor calls ``report`` once per file, as it finishes."""

    options: RestoreOptions
    restorer: Restorer
    inputs: Path
    outputs: Path
    pending: list[tuple[int, Path, Path]]
    total: int
    on_item: Callable[[BatchItem, int, int], None] | None = None
    progress: ProgressFn | None = None
    cancel: threading.Event | None = None
    items: dict[int, BatchItem] = field(default_factory=dict)

    def report(self, index: int, item: BatchItem) -> None:
        """File ``index`` of the plan is finished (a second report of one file is ignored)."""
        if index in self.items:
            return
        self.items[index] = item
        done = len(self.items)
        if self.on_item:
            self.on_item(item, done - 1, self.total)
        if self.progress:
            self.progress(done / max(1, self.total), f"{done}/{self.total} files")

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled(f"{self.inputs}: cancelled after {len(self.items)} of {self.total} files; the files "
                            "done are kept")

    def file_progress(self, name: str) -> ProgressFn | None:
        """Progress inside the next file, as a share of the batch: "3/40 photo.jpg: superres 40%"."""
        if self.progress is None:
            return None
        n, total = len(self.items), self.total
        return lambda f, m: self.progress((n + min(f, 0.999)) / total, f"{n + 1}/{total} {name}: {m}")


class Executor(Protocol):
    """Where a job's pieces run."""

    def run_files(self, job: FilesJob) -> None:
        """Restore every file of ``job.pending`` (``restore_one``), calling ``job.report`` for each."""

    def run_video(self, job: VideoJob) -> VideoRun:
        """Restore every missing piece of ``job``'s plan (``VideoPlan``, ``run_piece``) into its work
        folder. An executor may also have ``fit(task, restorer) -> task``, to cut the job's segments
        finer before it starts (a GPU call that must hold whole segments)."""


class Local:
    """This process: one file, or one piece of video, after another, with the job's own ``Restorer``."""

    def run_files(self, job: FilesJob) -> None:
        for index, src, dst in job.pending:
            job.check_cancel()
            job.report(index, restore_one(src, dst, job.restorer, job.file_progress(src.name)))

    def run_video(self, job: VideoJob) -> VideoRun:
        """The plan's pieces, one after another (one piece, unless an earlier run left gaps)."""
        task, plan = job.task, VideoPlan(job.task)
        expected = measured.expected_seconds(job.restorer, task.info.height, task.info.width,
                                             plan.total - plan.resumed, bool(task.monochrome)) if job.progress else None
        line = plan.line(job.progress, expected=expected, note=measured.advice(job.restorer, expected or 0.0))
        line.update(plan.resumed)  # before the first frame: what this machine's measured speed says
        stats = PieceStats()
        for piece in plan.pieces():
            before = plan.resumed + stats.frames
            stats = stats + run_piece(task, piece, job.restorer, cancel=job.cancel,
                                      on_frames=lambda n, before=before: line.update(before + n))
        return plan.result(stats)


LOCAL = Local()


def restore_folder(
    in_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: RestoreOptions | Restorer | None = None,
    *,
    overwrite: bool = False,
    on_item: Callable[[BatchItem, int, int], None] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    executor: Executor | None = None,
) -> BatchSummary:
    """Restore every image under ``in_dir`` into ``out_dir``, keeping the folder structure.

    A destination that exists is skipped unless ``overwrite`` (outputs are written atomically, so an
    existing file is a finished one and a re-run resumes). A file that fails is recorded and the rest
    go on; errors that would fail every file (weights missing or corrupt: ``WeightsUnavailableError``,
    ``ChecksumMismatchError``, ``ModelLoadError``) stop the batch and are raised; every model is
    found before the first file. ``on_item(item, index, total)`` is called after each file (in the
    order they finish); ``progress(fraction, message)`` also moves inside a file. Setting ``cancel``
    stops before the next file with ``Cancelled`` (the files done stay). ``executor`` runs the files
    (default ``LOCAL``; a ``restoration.cluster.Cluster`` runs them on Ray); the result is the same.
    The summary lists the files in the folder's order. Raises ``RestorationError`` when ``in_dir`` is
    not a folder or ``out_dir`` cannot be created.
    """
    src_root, dst_root = Path(in_dir), Path(out_dir)
    check_folders(src_root, dst_root)
    restorer = prepare(options)
    restorer.check_models()  # a missing model fails now, not after the first file's work
    pairs = plan(src_root, dst_root, restorer.options.output_format)
    job = FilesJob(restorer.options, restorer, src_root, dst_root, [], len(pairs), on_item, progress, cancel)
    for i, (src, dst) in enumerate(pairs):
        if dst.exists() and not overwrite:
            job.report(i, BatchItem(src, dst, "skipped"))
        else:
            job.pending.append((i, src, dst))
    if job.pending:
        (executor or LOCAL).run_files(job)
    return BatchSummary(items=[job.items[i] for i in sorted(job.items)])


def restore_archive(
    archive: str | os.PathLike,
    out_dir: str | os.PathLike,
    options: RestoreOptions | Restorer | None = None,
    *,
    overwrite: bool = False,
    on_item: Callable[[BatchItem, int, int], None] | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    executor: Executor | None = None,
) -> BatchSummary:
    """Restore the images of a zip into ``out_dir``, keeping the archive's folders (see
    ``batch.unpack_images`` for what is taken). Items are named ``ARCHIVE:path``; the unpacked
    copies are removed afterwards, whatever happens. Re-running resumes like ``restore_folder``. The
    images are unpacked into a hidden folder inside ``out_dir`` (which every worker of an executor
    reaches). Raises what ``unpack_images`` and ``restore_folder`` raise."""
    archive = Path(archive)
    if not archive.is_file():
        raise RestorationError(f"{archive}: no such file")
    check_folders(archive.parent, Path(out_dir))
    tmp = Path(tempfile.mkdtemp(prefix=".restoration-unpack-", dir=out_dir))
    try:
        _, skipped = unpack_images(archive, tmp)

        def relabel(item: BatchItem, index: int, total: int) -> None:
            item.src = Path(f"{archive.name}:{item.src.relative_to(tmp).as_posix()}")
            if on_item:
                on_item(item, index, total)

        summary = restore_folder(tmp, out_dir, options, overwrite=overwrite, on_item=relabel, progress=progress,
                                 cancel=cancel, executor=executor)
        summary.notes.extend(skipped)
        return summary
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def video_models(video: VideoOptions) -> list[tuple[str, str]]:
    """(option, model) of the networks a video job needs besides its stages': the interpolation model."""
    return [("interpolation_model", video.interpolation_model)] if video.interpolates else []


def check_interpolation_model(video: VideoOptions) -> None:
    """Read the interpolation model once (the job's pieces use what was read) so that a file that is not
    RIFE is refused before any frame. Raises ``ModelLoadError``."""
    if video.interpolates:
        from .interpolation import check_model

        check_model(video.interpolation_model)


def restore_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    options: RestoreOptions | None = None,
    video: VideoOptions | None = None,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    keep_parts: bool = False,
    executor: Executor | None = None,
) -> VideoResult:
    """Restore the video ``src`` into ``dst`` (.mp4, .mkv, .mov or .webm) with the image stages.

    Every frame keeps its timestamp (constant and variable rates, frame count and duration are the source's; with
    frame interpolation, ``video.interpolate`` or ``video.fps``, frames are added at their exact moments and the
    duration stays); rotation metadata is copied, not applied; audio and subtitles are carried over. A matching
    earlier run resumes from its finished segments. Every model is found before the first frame; ``colorize="auto"``
    is decided once, on the first frame. ``progress(fraction, message)`` gets frames done, fps and time left.
    Setting ``cancel`` stops at the next batch and raises ``Cancelled`` (finished segments stay for a resume unless
    the caller removes them with ``discard_parts``). ``executor`` runs the pieces (default ``LOCAL``; a
    ``restoration.cluster.Cluster`` splits the video into its segments on Ray): same frames, timestamps, size and
    audio. Raises ``OptionError`` (codec and container, output = input), ``VideoReadError``, ``VideoWriteError``,
    and what ``restore_tensor`` raises.
    """
    if options is not None and not isinstance(options, RestoreOptions):
        raise OptionError(f"options must be RestoreOptions, got {type(options).__name__}")
    options, video = options or RestoreOptions(), video or VideoOptions()
    src, dst = Path(src), Path(dst)
    info = check_video(src, dst, options, video)
    from .video.encoders import choose
    from .video.fields import decide

    encoding = choose(video, info.colour)  # a hardware encoder asked for and not here: refused now
    task = VideoTask(src, dst, info, options, video, first_frame_monochrome(src, options), encoding,
                     decide(src, info, video.deinterlace))
    restorer = prepare(options)
    restorer.check_models(task.monochrome, video_models(video))  # a missing model fails now, before any frame
    check_interpolation_model(video)
    executor = executor or LOCAL
    if hasattr(executor, "fit"):
        task = executor.fit(task, restorer)
    job = VideoJob(task, restorer, progress, cancel, keep_parts)
    return finish_video(job, executor.run_video(job))
