"""The decoder thread: frames of a video as (index, pts, RGB uint8) in a small bounded queue."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import Cancelled, RestorationError, VideoReadError
from .probe import open_video, why
from .segments import put

MAX_BAD_PACKETS = 100  # damaged packets skipped before a file counts as unreadable
Frame = tuple[int, int, np.ndarray]  # (index, pts, RGB uint8 (H, W, 3)); index -1: a warm-up frame


@dataclass(frozen=True)
class Window:
    """A stretch of a video read on its own (one segment of a job split between workers): decoding
    starts at the keyframe before ``warm_pts``; frames from ``warm_pts`` to ``start_pts`` are warm-up
    (index -1: restored to prime the temporal state, never written), then frames up to ``end_pts``
    (excluded; None: to the end) are numbered from ``start_index``."""

    start_index: int
    warm_pts: int
    start_pts: int
    end_pts: int | None


class FrameReader(threading.Thread):
    """Decodes ``src`` from frame ``skip`` on into a queue of ``depth`` frames.

    A packet the decoder rejects (a damaged stretch of the file) is skipped and counted in
    ``bad_packets``, as players do; past ``MAX_BAD_PACKETS`` the file counts as unreadable.
    Timestamps are kept, and made increasing where a damaged stream repeats them.
    """

    def __init__(self, src: Path, skip: int, stop: threading.Event, depth: int, window: Window | None = None) -> None:
        super().__init__(daemon=True, name="video-decode")
        self.src, self.skip, self.stop, self.window = src, skip, stop, window
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.bad_packets = 0

    def run(self) -> None:
        try:
            with open_video(self.src) as c:
                v = c.streams.video[0]
                v.thread_type = "AUTO"
                if self.window is None:
                    self._frames(c, v)
                else:
                    self._window(c, v, self.window)
            put(self.queue, None, self.stop)
        except BaseException as e:  # noqa: BLE001 - handed to the job's thread by next_batch
            put(self.queue, e, self.stop)

    def _decoded(self, container, stream):
        """The stream's decoded frames; a packet the decoder rejects is skipped and counted."""
        import av

        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet)
            except av.InvalidDataError:
                self.bad_packets += 1
                if self.bad_packets > MAX_BAD_PACKETS:
                    raise
                continue
            yield from frames

    def _frames(self, container, stream) -> None:
        index, last_pts = 0, None
        for frame in self._decoded(container, stream):
            if self.stop.is_set():
                return
            pts = frame.pts if frame.pts is not None else (last_pts + 1 if last_pts is not None else 0)
            if last_pts is not None and pts <= last_pts:
                pts = last_pts + 1  # a damaged or odd stream: keep timestamps increasing
            last_pts = pts
            if index >= self.skip:
                put(self.queue, (index, pts, frame.to_ndarray(format="rgb24")), self.stop)
            index += 1

    def _window(self, container, stream, w: Window, rewound: bool = False) -> None:
        """The frames of ``w`` by their timestamps, from the keyframe before its warm-up."""
        if w.warm_pts > 0 or rewound:
            container.seek(0 if rewound else w.warm_pts, stream=stream, backward=True, any_frame=False)
        index, first = w.start_index, True
        for frame in self._decoded(container, stream):
            if self.stop.is_set() or frame.pts is None:
                return
            if first and frame.pts > w.warm_pts and not rewound:
                # the container's index put the seek past the frame asked for: read from the start
                return self._window(container, stream, w, rewound=True)
            first = False
            if frame.pts < w.warm_pts:
                continue
            if w.end_pts is not None and frame.pts >= w.end_pts:
                return
            warm = frame.pts < w.start_pts
            put(self.queue, (-1 if warm else index, frame.pts, frame.to_ndarray(format="rgb24")), self.stop)
            index += 0 if warm else 1

    def next_batch(self, size: int, done: int, cancel: threading.Event | None,
                   writer_check) -> tuple[list[Frame], bool]:
        """Up to ``size`` frames, and whether the video has ended. Raises the decoder's error as a
        ``VideoReadError`` (naming the frame), ``Cancelled`` when ``cancel`` is set, and the writer's
        error through ``writer_check``."""
        batch: list[Frame] = []
        while len(batch) < size:
            try:
                item = self.queue.get(timeout=0.2)
            except queue.Empty:
                writer_check()
                if cancel is not None and cancel.is_set():
                    raise Cancelled(f"{self.src.name}: cancelled after {done} frames") from None
                if not self.is_alive() and self.queue.empty():
                    raise VideoReadError(f"{self.src.name}: the decoder stopped without a reason") from None
                continue
            if isinstance(item, BaseException):
                if isinstance(item, RestorationError):
                    raise item
                raise VideoReadError(f"{self.src.name}: decoding failed at frame {done + len(batch)} "
                                     f"({why(item)}); the file is damaged from there on") from item
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False
