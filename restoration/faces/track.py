"""Following faces through a video so their crops do not jitter from frame to frame.

Each face is matched to the track of the previous frames whose box overlaps it most; its landmarks
are then an exponential average of the track's and the new ones, so detector noise (a pixel or two
each frame) is smoothed away. Where a face really moves (more than a share of its size), the new
landmarks win at once, so the crop never lags behind. A track not seen for a few frames ends, and at a
scene cut every track does (``cut``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .detect import Face


@dataclass
class _Track:
    id: int
    landmarks: np.ndarray
    box: tuple[float, float, float, float]
    missing: int = 0


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw, ih = max(0.0, min(ax1, bx1) - max(a[0], b[0])), max(0.0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Call it with each frame's faces, in order; it returns them with smoothed landmarks and a
    ``track`` id. ``keep`` is the weight of the track's history (0: no smoothing); a jump of more than
    ``jump`` times the face's size resets the track to the new landmarks. ``masks`` holds each track's
    parsed mask (the face stage fills it): the ids are this tracker's, so the masks are too, and a new
    tracker (a new piece of a video) starts with none."""

    def __init__(self, keep: float = 0.6, jump: float = 0.15, min_iou: float = 0.3, max_missing: int = 5):
        self.keep, self.jump, self.min_iou, self.max_missing = keep, jump, min_iou, max_missing
        self.tracks: list[_Track] = []
        self.started = 0
        self.masks: dict[int, Any] = {}  # track id -> its mask (a tensor), see ``faces.stage``

    def cut(self) -> None:
        """A scene starts: no face goes on from the frames before (new tracks, new masks)."""
        self.tracks = []
        self.masks.clear()

    def __call__(self, faces: list[Face]) -> list[Face]:
        free = list(self.tracks)
        out = []
        for face in faces:
            best = max(free, key=lambda t: _iou(t.box, face.box), default=None)
            if best is None or _iou(best.box, face.box) < self.min_iou:
                best = _Track(self.started, face.landmarks.copy(), face.box)
                self.started += 1
                self.tracks.append(best)
            else:
                free.remove(best)
                moved = float(np.abs(face.landmarks - best.landmarks).mean())
                keep = self.keep if moved < self.jump * face.size else 0.0
                best.landmarks = keep * best.landmarks + (1 - keep) * face.landmarks
                best.box, best.missing = face.box, 0
            out.append(replace(face, landmarks=best.landmarks.astype(np.float32), track=best.id))
        for t in free:
            t.missing += 1
        self.tracks = [t for t in self.tracks if t.missing <= self.max_missing]
        return out
