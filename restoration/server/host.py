"""This host: where a server's jobs run and what that changes around them.

A job runs in this process, on a Ray cluster (``RESTORATION_RAY_ADDRESS``) or as ZeroGPU calls (a
Space on ZeroGPU). That choice is made here, once, and it decides the rest: on ZeroGPU a request's
folder is keyed by what was asked (a retry after a refused call finds what the earlier calls finished,
so what a failed job did is kept), and a video's source is copied into the job's folder wherever
workers other than this process read it. A server asks ``Host``; it never asks ``zerogpu`` or
``cluster`` itself.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import zerogpu
from ..config import AppSettings
from ..media import FORMAT_EXT, ImageData, read_image, write_image
from ..options import RestoreOptions, VideoOptions
from ..progress import ProgressFn
from .folders import BatchRequest, face_previews, preview, request_dir, request_key

COMPARE_SIDE = 160  # the largest crop two upscalers are compared on, in input pixels


def centre_crop(data: ImageData, side: int) -> ImageData:
    """The centre of ``data``, at most ``side`` px a side (the whole picture when it is smaller)."""
    from dataclasses import replace

    h, w = data.pixels.shape[:2]
    top, left = max(0, (h - side) // 2), max(0, (w - side) // 2)
    cut = (slice(top, top + min(h, side)), slice(left, left + min(w, side)))
    alpha = data.alpha[cut] if data.alpha is not None else None
    return replace(data, pixels=data.pixels[cut].copy(), alpha=alpha)


@dataclass
class ImageOutcome:
    """A restored picture: its before/after previews, the full-resolution file, metrics, face previews."""

    before: str
    after: str
    file: str
    metrics: dict[str, Any]
    faces: list[tuple[str, str]]


class Host:
    """Where this server's jobs run (``executor``) and the folders and copies that follows from it."""

    def __init__(self, settings: AppSettings) -> None:
        self.settings = settings

    @property
    def zerogpu(self) -> bool:
        """Whether GPU work runs as ZeroGPU calls (read at each use: the platform's setting)."""
        return zerogpu.active()

    @property
    def where(self) -> str | None:
        """A line for the page when jobs run elsewhere than this process (a cluster), else None."""
        address = self.settings.ray_address
        if not address:
            return None
        return "an embedded Ray on this machine" if address == "local" else f"the Ray cluster `{address}`"

    def executor(self) -> Any:
        """Where batch and video jobs run: the Ray cluster, ZeroGPU calls, or this process (None)."""
        if self.settings.ray_address:
            from ..cluster import Cluster

            return Cluster(address=self.settings.ray_address)
        return zerogpu.Calls() if self.zerogpu else None

    def folder(self, key: str | None = None) -> Path:
        """A request's folder: a new one, or on ZeroGPU the one of ``key`` (``request_key``) again."""
        return request_dir(self.settings.output_root, self.settings.output_ttl_s, key if self.zerogpu else None)

    def restore_image(self, src: Path, options: RestoreOptions, progress: ProgressFn | None = None,
                      data: ImageData | None = None) -> ImageOutcome:
        """Restore the picture ``src`` (decoded, unless ``data`` is given) and write the result (named
        after it, in ``options``' format), its previews and its faces' into a new folder, made only
        once the work has succeeded and removed again if writing fails. On ZeroGPU the work is one
        GPU call sized to it. Raises what ``pipeline.restore_image`` raises."""
        from ..metrics import resize_to
        from ..pipeline import restore_image

        data = data or read_image(src, name=src.name)
        result = (zerogpu.restore_image if self.zerogpu else restore_image)(data, options, progress=progress)
        folder = self.folder()
        try:
            name = f"{Path(src.name).stem or 'image'}_restored{FORMAT_EXT[options.output_format]}"
            out = write_image(result.image, folder / name, output_format=options.output_format,
                              quality=options.quality, record=result.record())
            pixels = result.image.pixels
            before = preview(resize_to(data.pixels, (pixels.shape[1], pixels.shape[0])), folder / "before.webp")
            faces = face_previews(result.report.faces.crops if result.report.faces else [], folder)
            return ImageOutcome(before, preview(pixels, folder / "after.webp"), str(out), result.metrics, faces)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def compare(self, src: Path, models: list[tuple[str, RestoreOptions]], progress: ProgressFn | None = None
                ) -> tuple[list[str], list[str]]:
        """Each of ``models`` (a name to show, the options to run it with) on the same crop of ``src``'s
        centre (at most ``COMPARE_SIDE`` px a side): the pictures (PNG, in a new folder) and a line for
        each, with the time it took. Raises what ``restore_image`` raises."""
        from ..pipeline import restore_image

        data = read_image(src, name=src.name)
        crop = centre_crop(data, COMPARE_SIDE)
        folder, shown, said = self.folder(), [], []
        for k, (name, options) in enumerate(models):
            if progress:
                progress(k / len(models), f"{name} on a {crop.size[0]}x{crop.size[1]} crop")
            t0 = time.perf_counter()
            result = (zerogpu.restore_image if self.zerogpu else restore_image)(crop, options)
            seconds = time.perf_counter() - t0
            shown.append(str(write_image(result.image, folder / f"compare_{k}.png", output_format="png")))
            said.append(f"{name}: {seconds:.1f} s")
        return shown, said

    def preview(self, src: Path, options: RestoreOptions, video: VideoOptions, at: float, seconds: float,
                progress: ProgressFn | None = None) -> Any:
        """A preview of the video ``src`` (``restoration.preview``) in a new folder: a stretch from ``at``
        for ``seconds`` (0: one frame) with the job's settings, where its jobs run (ZeroGPU: a GPU call)."""
        from ..preview import preview_video

        folder = self.folder()
        try:
            ex = self.executor()
            return preview_video(src, folder, options, video, at=at, seconds=seconds, progress=progress,
                                 executor=ex if self.zerogpu else None)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def batch(self, uploads: list[Path], given: dict[str, Any], options: RestoreOptions) -> HostBatch:
        """A batch of ``uploads`` (images and zips) with ``options`` (``given`` keys its folder on ZeroGPU)."""
        folder = self.folder(request_key(uploads, given))
        return HostBatch(self, BatchRequest(uploads, folder, self.settings.max_batch_files), options)

    def video(self, src: Path, given: dict[str, Any], options: RestoreOptions, video: VideoOptions) -> HostVideo:
        """A video job of ``src`` into a folder of its own (``given`` keys it on ZeroGPU)."""
        dst = self.folder(request_key([src], given)) / f"{Path(src.name).stem or 'video'}_restored{video.suffix}"
        if self.settings.ray_address or self.zerogpu:  # a copy every worker reaches, the same on a retry
            kept = dst.parent / f"source{src.suffix.lower()}"
            src = kept if kept.is_file() else Path(shutil.copy2(src, kept))
        return HostVideo(self, src, dst, options, video)


@dataclass
class HostBatch:
    """A visitor's batch on this host: ``run`` it beside the request, then ``finish`` (the zip), or
    ``abandon`` it (its folder goes, except on ZeroGPU, where a retry resumes from it)."""

    host: Host
    request: BatchRequest
    options: RestoreOptions

    def run(self, cancel: threading.Event, progress: ProgressFn) -> Any:
        from ..jobs import restore_folder

        r = self.request
        return restore_folder(r.inputs, r.outputs, self.options, on_item=r.on_item, progress=progress, cancel=cancel,
                              executor=self.host.executor())

    def abandon(self) -> None:
        if not self.host.zerogpu:
            shutil.rmtree(self.request.folder, ignore_errors=True)


@dataclass
class HostVideo:
    """A visitor's video on this host: ``run`` it beside the request, or ``abandon`` it (its parts and
    folder go, except on ZeroGPU, where a retry resumes from them)."""

    host: Host
    src: Path
    dst: Path
    options: RestoreOptions
    video: VideoOptions

    def run(self, cancel: threading.Event, progress: ProgressFn) -> Any:
        from ..jobs import restore_video

        return restore_video(self.src, self.dst, self.options, self.video, cancel=cancel, progress=progress,
                             executor=self.host.executor())

    def abandon(self) -> None:
        from ..video import discard_parts

        if not self.host.zerogpu:
            discard_parts(self.dst)
            shutil.rmtree(self.dst.parent, ignore_errors=True)
