"""Encoding restored frames into numbered segment files that a later run can resume from.

The work folder beside the output (``.<name>.parts``) holds ``job.json`` (what the job is: source,
options, version) and the finished segments ``seg_00000.mp4``... A segment is written under a
``.tmp`` name and renamed only once closed, so whatever is there under a final name is whole.
``SegmentWriter`` is the encoder thread: it owns its queue, its open segment and its error.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
from dataclasses import asdict
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import VideoWriteError
from ..options import RestoreOptions, VideoOptions
from .encoders import Encoding

EVEN_ONLY = ("h264", "h265", "av1", "prores")  # codecs whose 4:2:x output needs an even width (and height)


def fingerprint(src: Path, dst: Path, options: RestoreOptions, video: VideoOptions) -> dict[str, Any]:
    """What makes two runs the same job: a rerun resumes only when all of it matches."""
    st = src.stat()
    return {"source": str(src.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "output": dst.name, "options": options.to_dict(), "video": asdict(video), "version": __version__}


def work_dir(dst: Path) -> Path:
    return dst.parent / f".{dst.name}.parts"


def segment_name(i: int, output: str) -> str:
    return f"seg_{i:05d}{Path(output).suffix.lower()}"


def prepare_work_dir(work: Path, job: dict[str, Any]) -> int:
    """Keep a matching earlier run's finished segments; returns how many there are (contiguous)."""
    manifest = work / "job.json"
    if work.exists():
        try:
            same = json.loads(manifest.read_text()) == job
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(job, sort_keys=True))
    for stale in work.glob("*.tmp*"):
        stale.unlink()
    done = 0
    while (work / segment_name(done, job["output"])).exists():
        done += 1
    return done


class SegmentEncoder:
    """Writes frames into numbered segment files, each closed and renamed when full. Segment ``k`` holds
    the frames of the video's frames ``k * segment_frames`` to ``(k + 1) * segment_frames`` (excluded)
    and the frames made after them (frame interpolation): a frame's ``index`` says whose it is."""

    def __init__(self, work: Path, dst: Path, video: VideoOptions, encoding: Encoding, time_base: Fraction,
                 rate: Fraction, segment_frames: int, first_segment: int) -> None:
        self.work, self.dst, self.video, self.encoding = work, dst, video, encoding
        self.time_base, self.rate = time_base, rate
        self.segment_frames = segment_frames
        self.segment = first_segment  # index of the segment being written; = finished ones when closed
        self.count = 0  # frames in the open segment
        self.container = self.stream = None
        self.tmp: Path | None = None

    def _open_segment(self, width: int, height: int) -> None:
        import av

        e = self.encoding
        self.tmp = self.work / f"seg_{self.segment:05d}.tmp{self.dst.suffix.lower()}"
        self.container = av.open(str(self.tmp), "w")
        s = self.stream = self.container.add_stream(e.name, rate=self.rate)
        s.width, s.height, s.pix_fmt = width, height, e.pix_fmt
        s.time_base = s.codec_context.time_base = self.time_base
        s.options = dict(e.options)
        if not e.pix_fmt.startswith("rgb"):
            e.colour.tag(s.codec_context)  # the source's matrix, range, primaries and transfer

    def write(self, rgb: np.ndarray, pts: int, index: int, last_of_its_own: bool = True) -> None:
        """Encode one RGB frame (H, W, 3; uint8, or uint16 for a deep job) with its timestamp; ``index``:
        the video frame it belongs to. ``last_of_its_own``: no more frames belong to that one (then a full
        segment closes at once)."""
        if self.container is not None and index >= (self.segment + 1) * self.segment_frames:
            self.close_segment()

        h, w = rgb.shape[:2]
        if self.video.codec in EVEN_ONLY and (h % 2 or w % 2):
            # H.264/H.265 4:2:0 cannot code (or crop to) odd sizes: repeat the last row/column
            # rather than cut or resample (VP9 and the lossless codecs keep odd sizes exactly)
            rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            h, w = rgb.shape[:2]
        if self.container is None:
            self._open_segment(w, h)
        frame = self.encoding.colour.from_rgb(rgb, self.encoding.pix_fmt)
        frame.pts, frame.time_base = pts, self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.count += 1
        if last_of_its_own and index + 1 >= (self.segment + 1) * self.segment_frames:
            self.close_segment()

    def close_segment(self) -> None:
        if self.container is None:
            return
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()
        self.tmp.rename(self.work / segment_name(self.segment, self.dst.name))
        self.container = self.stream = self.tmp = None
        self.segment += 1
        self.count = 0

    def abort(self) -> None:
        """Drop the open segment (never let a partial one count as finished)."""
        if self.container is not None:
            try:
                self.container.close()
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
            self.container = None
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    """``q.put`` that gives up when ``stop`` is set (the other side may be gone)."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


class SegmentWriter(threading.Thread):
    """The encoder thread. ``write`` queues a frame; ``finish`` closes the last (short) segment and
    waits; ``stop`` (shared with the job) makes it drop the open segment. Its error, if any, is raised
    in the job's thread by ``check`` as a ``VideoWriteError``."""

    def __init__(self, encoder: SegmentEncoder, stop: threading.Event, depth: int) -> None:
        super().__init__(daemon=True, name="video-encode")
        self.encoder, self.stop = encoder, stop
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                try:
                    item = self.queue.get(timeout=0.2)
                except queue.Empty:
                    item = False
                if self.stop.is_set():
                    self.encoder.abort()
                    return
                if item is None:
                    self.encoder.close_segment()
                    return
                if item is not False:
                    self.encoder.write(*item)
        except BaseException as e:  # noqa: BLE001 - handed to the job's thread
            self.error = e
            self.stop.set()
            self.encoder.abort()

    def write(self, rgb: np.ndarray, pts: int, index: int, last_of_its_own: bool = True) -> None:
        put(self.queue, (rgb, pts, index, last_of_its_own), self.stop)

    def check(self) -> None:
        if self.error is not None:
            raise VideoWriteError(f"{self.encoder.dst.name}: encoding failed ({self.error})") from self.error

    def finish(self) -> int:
        """Close the last segment, wait for the thread; returns the number of finished segments."""
        put(self.queue, None, self.stop)
        self.join()
        self.check()
        return self.encoder.segment
