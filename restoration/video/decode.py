"""The decoder thread: a video's frames (``frames.Frame``) in a small bounded queue, the whole video or a
piece's window of it (with its warm-up frames before and look-ahead frames after)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import Cancelled, RestorationError, VideoReadError
from .colour import Colour
from .fields import FieldFilter, Fields
from .frames import Frame
from .probe import decoded, open_video, why
from .segments import put

MAX_BAD_PACKETS = 100  # damaged packets skipped before a file counts as unreadable


@dataclass(frozen=True)
class Window:
    """What a piece decodes: frames ``first`` to ``stop`` (excluded; None: to the end) of the video, by
    index; those before ``start`` are warm-up, those from ``end`` on look-ahead (neither is written).
    ``pts``: the timestamps of (first, start, end, stop), when the video's timestamps place every
    frame: decoding then starts at the keyframe before ``first``; without them it starts at the
    video's beginning and counts."""

    first: int
    start: int
    end: int | None
    stop: int | None
    pts: tuple[int, int, int | None, int | None] | None = None

    def frame(self, index: int, pts: int, pixels: np.ndarray) -> Frame:
        """Frame ``index`` of the video, flagged as warm-up or look-ahead where it is one."""
        ahead = self.end is not None and index >= self.end
        return Frame(index, pts, pixels, warmup=index < self.start, lookahead=ahead)


class FrameReader(threading.Thread):
    """Decodes ``src`` from frame ``skip`` on into a queue of ``depth`` frames.

    A packet the decoder rejects (a damaged stretch of the file) is skipped and counted in
    ``bad_packets``, as players do; past ``MAX_BAD_PACKETS`` the file counts as unreadable.
    Timestamps are kept, and made increasing where a damaged stream repeats them.
    """

    def __init__(self, src: Path, window: Window, stop: threading.Event, depth: int, colour: Colour | None = None,
                 deep: bool = False, fields: Fields | None = None) -> None:
        super().__init__(daemon=True, name="video-decode")
        self.src, self.window, self.stop = src, window, stop
        self.colour, self.deep, self.fields = colour or Colour(), deep, fields or Fields()
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.bad_packets = 0

    def run(self) -> None:
        try:
            with open_video(self.src) as c:
                v = c.streams.video[0]
                v.thread_type = "AUTO"
                frames = self._counted(c, v) if self.window.pts is None else self._seeked(c, v)
                self._put_all(frames, v)
            put(self.queue, None, self.stop)
        except BaseException as e:  # noqa: BLE001 - handed to the job's thread by ``frames``
            put(self.queue, e, self.stop)

    def _put_all(self, frames, stream) -> None:
        """Each (index, frame) decoded, through the field filter when there is one, into the queue."""
        w = self.window
        weave = None
        if self.fields.active:
            weave = FieldFilter(self.fields, stream, stream.average_rate or stream.guessed_rate or Fraction(25))
        for index, frame in frames:
            for i, f in weave.push(index, frame) if weave else [(index, frame)]:
                put(self.queue, w.frame(i, f.pts, self.colour.to_rgb(f, self.deep)), self.stop)
        if weave is not None and not self.stop.is_set():
            for i, f in weave.flush():
                put(self.queue, w.frame(i, f.pts, self.colour.to_rgb(f, self.deep)), self.stop)

    def _rejected(self, error: BaseException) -> None:
        """A packet the decoder rejected: counted; past ``MAX_BAD_PACKETS`` the file is unreadable."""
        self.bad_packets += 1
        if self.bad_packets > MAX_BAD_PACKETS:
            raise error

    def _counted(self, container, stream):
        """The window's frames, counted from the video's start; timestamps made increasing where a
        damaged stream repeats or lacks them."""
        w, index, last_pts = self.window, 0, None
        for frame in decoded(container, stream, self._rejected):
            if self.stop.is_set() or (w.stop is not None and index >= w.stop):
                return
            pts = frame.pts if frame.pts is not None else (last_pts + 1 if last_pts is not None else 0)
            if last_pts is not None and pts <= last_pts:
                pts = last_pts + 1  # a damaged or odd stream: keep timestamps increasing
            last_pts = pts
            if index >= w.first:
                frame.pts = pts
                yield index, frame
            index += 1

    def _seeked(self, container, stream, rewound: bool = False):
        """The window's frames by their timestamps, from the keyframe before its first."""
        w = self.window
        first_pts, _, _, stop_pts = w.pts
        if first_pts > 0 or rewound:
            container.seek(0 if rewound else first_pts, stream=stream, backward=True, any_frame=False)
        index, at_first = w.first, True
        for frame in decoded(container, stream, self._rejected):
            if self.stop.is_set() or frame.pts is None:
                return
            if at_first and frame.pts > first_pts and not rewound:
                # the container's index put the seek past the frame asked for: read from the start
                yield from self._seeked(container, stream, rewound=True)
                return
            at_first = False
            if frame.pts < first_pts:
                continue
            if stop_pts is not None and frame.pts >= stop_pts:
                return
            yield index, frame
            index += 1

    def frames(self, cancel: threading.Event | None, writer_check) -> Iterator[Frame]:
        """The decoded frames, in order. Raises the decoder's error as a ``VideoReadError`` (naming the
        frame), ``Cancelled`` when ``cancel`` is set, and the writer's error through ``writer_check``."""
        done = 0
        while True:
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
                raise VideoReadError(f"{self.src.name}: decoding failed at frame {self.window.first + done} "
                                     f"({why(item)}); the file is damaged from there on") from item
            if item is None:
                return
            done += 1
            yield item
