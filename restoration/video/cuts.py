"""Scene cuts, found once on the decoded input and carried on each frame (``Frame.cut``).

The stabiliser and the face tracks start again at a cut, and frame interpolation never blends across
one. A cut is a frame that differs sharply from the frame before it while the frames around it change
much less: a spike in the change from frame to frame, not a sustained one. So a whip pan (a large
change on every frame of the move), a zoom or a fast walk past the camera is not a cut, nor is a
flash (two large changes in a row: into the flash and out of it).

The change between two frames is the larger of two measures on a 64 px wide thumbnail: how far their
colour histograms differ (luma and both chroma planes, 16 bins each: half the sum of absolute
differences, averaged over the planes, from 0 to 1), which a moving camera hardly changes; and how far
their lightness differs where they match best within a few pixels of shift (the mean absolute
difference, in 8-bit levels, divided by ``LUMA_SCALE``), which catches a cut between two shots of
the same colours. A frame is a cut when its change is at least ``THRESHOLD``, at least ``RATIO`` times
the change out of it (the frame after a cut continues the new shot: a flash, or the first frame of a
whip pan, is followed by another large change) and at least ``RATIO_BEFORE`` times the change into
the frame before it (a cut straight after a whip pan still counts). ``benchmarks/cuts.py`` measures it
on real photos cut together, panned, whip-panned, zoomed, flashed and dissolved.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .frames import Frame, Pass

THRESHOLD = 0.15
RATIO = 2.5
RATIO_BEFORE = 1.25
THUMB_WIDTH = 64
BINS = 16
SHIFT = 3  # thumbnail pixels of shift searched for the best match (about 5 % of the width)
LUMA_SCALE = 100.0  # 8-bit levels of lightness difference that count as a change of 1


@dataclass(frozen=True)
class Signature:
    """What a frame is compared by: its colour histograms (3, ``BINS``), each summing to 1, and its
    lightness thumbnail (float32, ``THUMB_WIDTH`` wide)."""

    hist: np.ndarray
    luma: np.ndarray


def signature(rgb: np.ndarray) -> Signature:
    """The ``Signature`` of ``rgb`` (H, W, 3) uint8 (or uint16: its high byte)."""
    if rgb.dtype == np.uint16:
        rgb = (rgb >> 8).astype(np.uint8)
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (THUMB_WIDTH, max(1, round(THUMB_WIDTH * h / w))), interpolation=cv2.INTER_AREA)
    ycc = cv2.cvtColor(small, cv2.COLOR_RGB2YCrCb)
    planes = ycc.reshape(-1, 3).astype(np.int32) * BINS // 256
    hist = np.stack([np.bincount(planes[:, c], minlength=BINS) for c in range(3)]).astype(np.float64)
    return Signature(hist / hist.sum(axis=1, keepdims=True), ycc[..., 0].astype(np.float32))


def _matched(a: np.ndarray, b: np.ndarray) -> float:
    """The mean absolute difference of two lightness thumbnails where they match best, shifted by up
    to ``SHIFT`` pixels each way."""
    h, w = a.shape
    s = min(SHIFT, h // 4, w // 4)
    best = float("inf")
    for dy in range(-s, s + 1):
        for dx in range(-s, s + 1):
            pa = a[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
            pb = b[max(0, -dy):h + min(0, -dy), max(0, -dx):w + min(0, -dx)]
            best = min(best, float(np.abs(pa - pb).mean()))
    return best


def change(a: Signature, b: Signature) -> float:
    """How much two frames differ (their ``signature``\\ s), 0 for the same picture."""
    colours = float(0.5 * np.abs(a.hist - b.hist).sum(axis=1).mean())
    if a.luma.shape != b.luma.shape:
        return max(colours, 1.0)
    return max(colours, _matched(a.luma, b.luma) / LUMA_SCALE)


def is_cut(before: float, now: float, after: float) -> bool:
    """Whether a frame whose change from the previous one is ``now`` starts a new scene, given the
    changes into the previous frame (``before``) and out of this one (``after``)."""
    return now >= THRESHOLD and now >= RATIO * after and now >= RATIO_BEFORE * before


class CutDetector(Pass):
    """Marks ``Frame.cut``; holds one frame back, to see the change out of it."""

    behind = 2  # the change into the frame before a piece's first frame
    ahead = 1  # the change out of a piece's last frame

    def __init__(self) -> None:
        self.held: Frame | None = None
        self.last: Signature | None = None  # the signature of the last frame taken
        self.before = 0.0  # the change into the held frame's predecessor
        self.now = 0.0  # the change into the held frame
        self.cuts = 0

    def push(self, frame: Frame) -> list[Frame]:
        sig = signature(frame.pixels)
        after = 0.0 if self.last is None else change(self.last, sig)
        out = self._decide(after)
        self.held, self.last = frame, sig
        self.before, self.now = self.now, after
        return out

    def flush(self) -> list[Frame]:
        out = self._decide(0.0)
        self.held = None
        return out

    def _decide(self, after: float) -> list[Frame]:
        if self.held is None:
            return []
        self.held.cut = is_cut(self.before, self.now, after)
        self.cuts += self.held.cut and self.held.written
        return [self.held]
