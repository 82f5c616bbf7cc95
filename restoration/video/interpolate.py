"""Frame interpolation as a pass after the stages: new frames between the restored ones, at their exact moments.

``Retiming`` says when the output's frames are. With a multiplier ``m`` each gap between two frames
(whatever its length: a variable frame rate stays variable) gets ``m - 1`` frames at equal steps, in a
time base ``m`` times finer than the input's, so every timestamp is exact. With a target rate ``F`` the
output is a frame every ``1/F`` s from time 0, each drawn at its moment between the two frames around
it (a frame that falls on an original is that original). The last frame's gap is its own duration, so
the video's length does not change: the frames after the last original repeat it.

``Interpolation`` is the pass. It holds one restored frame and, when the next comes, gives out the
frames of the gap between them; each restored frame's features are computed once. A scene ``cut`` on
the later frame means no frame is made across it: each moment of that gap repeats the nearer
original. It needs one frame past its piece (``ahead = 1``) for the piece's last gap, so pieces cut
anywhere give the same frames as one run. Warm-up frames pass through and own no gap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

from .frames import Frame, Pass


@dataclass(frozen=True)
class Retiming:
    """When the output's frames are (see the module): ``multiplier`` or a target ``fps``; the input's
    ``time_base``, and ``nominal``: one frame's duration in it (the last frame's gap)."""

    time_base: Fraction
    rate: Fraction
    nominal: int
    multiplier: int = 1
    fps: Fraction | None = None

    @classmethod
    def make(cls, time_base: Fraction, rate: Fraction | None, multiplier: int, fps: float | None) -> Retiming:
        rate = Fraction(rate) if rate else Fraction(25)
        nominal = max(1, round(1 / (rate * time_base)))
        target = Fraction(fps).limit_denominator(1001) if fps is not None else None
        return cls(Fraction(time_base), rate, nominal, multiplier if target is None else 1, target)

    @property
    def out_time_base(self) -> Fraction:
        return 1 / self.fps if self.fps is not None else self.time_base / self.multiplier

    @property
    def out_rate(self) -> Fraction:
        return self.fps if self.fps is not None else self.rate * self.multiplier

    def moments(self, pts: int, next_pts: int | None) -> list[tuple[int, float]]:
        """The output frames of the gap from the frame at ``pts`` to the next (None: the last frame, whose
        gap is ``nominal``): (timestamp in ``out_time_base``, moment in the gap: 0 is the frame itself)."""
        gap = (next_pts if next_pts is not None else pts + self.nominal) - pts
        if gap <= 0:  # a repeated or out-of-order timestamp: the frame alone, as it came
            return [(pts * self.multiplier, 0.0)] if self.fps is None else []
        if self.fps is None:
            m = self.multiplier
            return [(pts * m + k * gap, k / m) for k in range(m)]
        start, length = pts * self.time_base, gap * self.time_base
        first, end = math.ceil(start * self.fps), math.ceil((start + length) * self.fps)
        return [(j, float((j / self.fps - start) / length)) for j in range(first, end)]

    def count(self, times: list[int]) -> int:
        """How many frames the output of frames at ``times`` (sorted) has."""
        nexts = [*times[1:], None]
        return sum(len(self.moments(p, q)) for p, q in zip(times, nexts))


class Interpolation(Pass):
    """The pass (see the module). ``interpolator``: a loaded ``restoration.interpolation.Interpolator``."""

    ahead = 1

    def __init__(self, interpolator, retiming: Retiming) -> None:
        self.net, self.retiming = interpolator, retiming
        self.held: tuple[Frame, object] | None = None
        self.made = 0  # frames drawn by the network
        self.repeated = 0  # frames that repeat an original (at a cut, after the last frame)

    def push(self, frame: Frame) -> list[Frame]:
        if frame.warmup:
            return [frame]
        if self.held is None:  # the piece's first frame (a look-ahead frame alone has no gap to fill)
            if not frame.lookahead:
                self.held = (frame, self.net.prepare(frame.restored))
            return []
        before, prepared = self.held
        if frame.lookahead:  # the piece's last gap; the frame itself is the next piece's
            self.held = None
            return self._gap(before, prepared, frame, None)
        ready = None if frame.cut else self.net.prepare(frame.restored)
        out = self._gap(before, prepared, frame, ready)
        self.held = (frame, ready if ready is not None else self.net.prepare(frame.restored))
        return out

    def flush(self) -> list[Frame]:
        if self.held is None:
            return []
        before, prepared = self.held
        self.held = None
        return self._gap(before, prepared, None, None)

    def _gap(self, before: Frame, prepared, after: Frame | None, ready) -> list[Frame]:
        """``before`` re-timed and the frames between it and ``after`` (None: the video's last frame);
        ``ready``: ``after`` prepared, when it already is."""
        out = []
        for pts, t in self.retiming.moments(before.pts, after.pts if after is not None else None):
            if t == 0:
                out.append(replace(before, pts=pts))
                continue
            if after is None or after.cut:  # nothing is made across a cut, or past the end
                self.repeated += 1
                picture = before.restored if after is None or t < 0.5 else after.restored
            else:
                ready = ready if ready is not None else self.net.prepare(after.restored)
                picture = self.net.between_tensor(prepared, ready, t)
                self.made += 1
            out.append(replace(before, pts=pts, restored=picture, made=True))
        return out
