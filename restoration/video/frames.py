"""A video's frames on their way through a job, and the passes that see them in order.

A ``Frame`` is one decoded picture with its place (``index``, ``pts``), what the job knows of it (a
scene ``cut`` starts here, it is ``interlaced``) and whether it is written: a ``warmup`` frame (before a
piece, restored only to prime temporal state) and a ``lookahead`` frame (after a piece, decoded only so
that a pass can see past the piece's end) are not. After the stages it carries its ``restored``
picture as well. A frame ``made`` by frame interpolation carries the index of the frame before it,
and its own timestamp (in the output's time base, like every frame after that pass).

A ``Pass`` sees the frames in order, one at a time: it keeps its own state, says how many frames it
looks ``behind`` and ``ahead`` (the plan decodes that many around each piece), may hold frames back and
give out more or fewer than it takes, and gives out what it still holds when the frames end
(``flush``). ``through`` runs a stream of frames through a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Frame:
    """One frame of a video (see the module). ``pixels``: RGB uint8 (H, W, 3) as decoded; ``restored``:
    after the stages, a float tensor (3, H', W') in [0, 1] on the job's device."""

    index: int
    pts: int
    pixels: np.ndarray
    warmup: bool = False
    lookahead: bool = False
    cut: bool = False
    interlaced: bool = False
    restored: Any = None
    made: bool = False  # drawn between two frames (frame interpolation); ``index`` is the frame before it

    @property
    def written(self) -> bool:
        """Whether this frame goes into the output (not a warm-up or look-ahead frame)."""
        return not (self.warmup or self.lookahead)


class Pass:
    """A step over the frames in order (see the module); this one gives every frame out as it comes."""

    behind = 0  # frames it must have seen before a piece's first frame (the plan's warm-up)
    ahead = 0  # frames it must see after a piece's last frame (the plan's look-ahead)

    def push(self, frame: Frame) -> list[Frame]:
        """Take the next frame; give out the frames that are ready, in order."""
        return [frame]

    def flush(self) -> list[Frame]:
        """The frames have ended: give out what is still held."""
        return []


def through(step: Pass, frames: Iterable[Frame]) -> Iterator[Frame]:
    """``frames`` through the pass ``step``, lazily."""
    for frame in frames:
        yield from step.push(frame)
    yield from step.flush()
