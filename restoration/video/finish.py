"""The ending every video job shares, whatever ran its pieces: join the segments with the source's
audio and subtitles, say what the user should know, compute the metrics, report "done"."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import VideoReadError, VideoWriteError
from ..progress import ProgressFn
from .assemble import assemble
from .piece import PieceStats
from .plan import VideoJob, VideoRun, VideoTask, out_size
from .probe import VideoInfo
from .segments import EVEN_ONLY, work_dir


@dataclass
class VideoResult:
    path: Path
    info: VideoInfo
    metrics: dict[str, Any]
    resumed_frames: int = 0


def finish_video(job: VideoJob, run: VideoRun) -> VideoResult:
    """Join ``run``'s segments into the output (removing them unless ``job.keep_parts``) and return
    the result with its metrics. Raises ``VideoReadError`` when no frame could be decoded and
    ``VideoWriteError`` when the file cannot be written."""
    task = job.task
    done = run.resumed + run.stats.frames
    if run.segments == 0 or done == 0:
        shutil.rmtree(task.work, ignore_errors=True)
        raise VideoReadError(f"{task.src.name}: the video has no frames that can be decoded")
    warnings = video_warnings(task, done, run.stats.bad_packets) + run.warnings
    carried = join_segments(task, run.segments, job.progress, job.keep_parts)
    elapsed = time.perf_counter() - job.t0
    metrics = {**video_metrics(task, run.stats, run.resumed, elapsed, warnings), **carried, **run.metrics}
    if job.progress:
        job.progress(1.0, f"done: {done} frames")
    return VideoResult(task.dst, task.info, metrics, run.resumed)


def video_warnings(task: VideoTask, done: int, bad_packets: int) -> list[str]:
    """What the user should know about a finished job: damaged packets, a padded size, missing frames."""
    name, (out_w, out_h), found = task.src.name, out_size(task.info, task.options), []
    if bad_packets:
        found.append(f"{name}: {bad_packets} damaged packet(s) could not be decoded and were skipped; the "
                     "pictures around them may show artefacts")
    if task.encoder.note:
        found.append(f"{name}: {task.encoder.note}")
    if task.video.codec in EVEN_ONLY and (out_w % 2 or out_h % 2):
        found.append(f"{name}: {task.video.codec} cannot store the odd size {out_w}x{out_h}, so the last "
                     f"column/row is repeated ({out_w + out_w % 2}x{out_h + out_h % 2}); use vp9, ffv1 or "
                     "png to keep the exact size")
    expected = task.info.expected_frames
    if expected and done < 0.98 * expected - 1:
        found.append(f"{name}: only {done} of the {expected} frames the file announces could be "
                     "decoded; it is probably truncated or damaged, and the output is that much shorter")
    return found


def video_metrics(task: VideoTask, stats: PieceStats, resumed: int, elapsed: float,
                  warnings: list[str]) -> dict[str, Any]:
    """The metrics a video job returns, from its pieces' ``stats``."""
    sharp, quality = stats.sharpness, stats.quality
    mean = lambda key: float(np.mean([q[key] for q in quality])) if quality else float("nan")  # noqa: E731
    faces = {"found": stats.faces_found, "restored": stats.faces_restored, "skipped": stats.faces_skipped,
             "tracks": stats.tracks}
    return {
        "frames": resumed + stats.frames, "frames_expected": task.info.expected_frames, "warnings": warnings,
        "frames_processed": stats.frames, "resumed_from_frame": resumed,
        "fps_processing": stats.frames / elapsed if elapsed > 0 else 0.0, "seconds_total": elapsed,
        "seconds": {k: round(v, 3) for k, v in stats.seconds.items()},
        "size_in": [task.info.width, task.info.height], "size_out": list(out_size(task.info, task.options)),
        "sharpness_mean": float(np.mean(sharp)) if sharp else float("nan"),
        "sharpness_worst": float(np.min(sharp)) if sharp else float("nan"),
        "psnr_mean": mean("psnr"), "ssim_mean": mean("ssim"),
        "compared_with": "input frames resized (one frame per second sampled)",
        "stabilized": task.stabilized, "scene_cuts": stats.cuts,
        "encoder": task.encoder.name, "pixel_format": task.encoder.pix_fmt,
        "deinterlace": {"mode": task.fields.mode, "why": task.fields.why,
                        "fps_out": float(task.timing[1])},
        **({"faces": faces} if task.options.face != "off" else {}),
        **(interpolation_metrics(task, stats) if task.video.interpolates else {}),
    }


def interpolation_metrics(task: VideoTask, stats: PieceStats) -> dict[str, Any]:
    """What frame interpolation did: the rates, the frames it drew and those it repeated (at scene cuts
    and after the last frame, so the length stays), and the network."""
    timing = task.retiming
    return {"interpolation": {"model": task.video.interpolation_model, "fps_in": float(timing.rate),
                              "fps_out": float(timing.out_rate), "frames_written": stats.written,
                              "made": stats.made, "repeated": stats.repeated}}


def join_segments(task: VideoTask, segments: int, progress: ProgressFn | None, keep_parts: bool) -> dict[str, int]:
    """``assemble`` the finished segments into the output (then remove them unless ``keep_parts``);
    returns what was carried. Raises ``VideoWriteError`` when the file cannot be written."""
    import av

    if progress:
        progress(0.995, "joining segments and copying audio")
    try:
        carried = assemble(task.src, task.work, task.dst, segments, task.info.rotation)
    except av.FFmpegError as e:
        raise VideoWriteError(f"{task.dst.name}: could not write the final file ({e})") from e
    if not keep_parts:
        shutil.rmtree(task.work, ignore_errors=True)
    return carried


def discard_parts(dst: str | os.PathLike) -> None:
    """Remove the finished segments an interrupted ``restore_video`` left for ``dst``."""
    shutil.rmtree(work_dir(Path(dst)), ignore_errors=True)
