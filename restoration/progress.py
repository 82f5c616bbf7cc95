"""How a job says how far it is: the one progress callback type, the one way to write a duration, the
bar of one picture's stages (``StageProgress``) and the line of a video (``ProgressLine``).

Both estimate the time left from what they are given (``restoration.cost.measured``: this machine's
measured speed) and then from the job's own pace. Pure Python: no torch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

ProgressFn = Callable[[float, str], None]  # (fraction done in [0, 1], message)

# Share of the bar each stage gets when it runs (when nothing was measured yet).
WEIGHTS = {"denoise": 1.0, "superres": 6.0, "faces": 2.0, "colorize": 2.0, "sharpen": 0.3}


def duration(seconds: float) -> str:
    """A duration as people read it: "41 s" (rounded up), "3 min", "1.5 h"."""
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def about(seconds: float) -> str:
    """"about 40 s", "about 3 min", "about 1.5 h": a time to come."""
    return f"about {duration(seconds)}"


class StageProgress:
    """The progress of one ``Restorer.run``: each stage's share of the bar and of the time left, and
    the message "superres 40% · about 12 s left".

    ``known``: the seconds each stage should take, where measured (``cost.measured.stage_seconds``); a
    stage never measured counts its usual share of the work (``WEIGHTS``) beside the measured ones.
    Inside a stage, once a tenth of it is done, its own pace says how long the rest of it takes (a
    first estimate from a small call, or a busy machine, is corrected as the stage goes)."""

    def __init__(self, fn: ProgressFn | None, plan: list[str], known: dict[str, float] | None = None,
                 note: str = ""):
        self.fn, self.plan, self.note = fn, list(plan), note
        known = {s: v for s, v in (known or {}).items() if s in self.plan}
        unit = sum(known.values()) / sum(WEIGHTS[s] for s in known) if known else None
        self.timed = unit is not None  # seconds are seconds (else only shares of the work)
        self.seconds = {s: known.get(s, WEIGHTS[s] * (unit or 1.0)) for s in self.plan}
        self.total = sum(self.seconds.values()) or 1.0
        self.base, self.index, self.started = 0.0, -1, time.perf_counter()

    @property
    def expected(self) -> float | None:
        """The seconds the whole job should take, or None when nothing was measured."""
        return self.total if self.timed else None

    def _left(self, name: str, share: float) -> float | None:
        spent = time.perf_counter() - self.started
        later = sum(self.seconds[s] for s in self.plan[self.index + 1:])
        if share >= 0.1 and spent > 0:  # this stage's own pace
            pace = spent / share
            return pace * (1 - share) + later * (1.0 if self.timed else pace / self.seconds[name])
        if self.timed:
            return max(0.0, self.seconds[name] - spent) + later
        return None

    def stage(self, name: str) -> Callable[[float, int], None]:
        start, weight = self.base, self.seconds[name]
        self.base += weight
        self.index, self.started = self.plan.index(name), time.perf_counter()

        def report(done: float, total: int) -> None:
            """``done`` of ``total`` pieces (tiles or frames; a fraction inside a piece moves the bar)."""
            if self.fn:
                share = min(1.0, done / max(1, total))
                detail = f"{int(done)}/{total}" if total > 1 else f"{round(100 * share)}%"
                fraction = min(1.0, (start + weight * share) / self.total)
                left = self._left(name, share) if fraction < 1 else None
                text = "" if left is None else f" · {about(left)} left"
                note = self.note if self.index == 0 and share == 0 else ""
                self.fn(fraction, f"{name} {detail}{text}{note}")

        report(0, 1)
        return report


class ProgressLine:
    """The one progress line of a video job, whatever runs it: "frame 120/480 · 6.1 fps · about 1 min
    left", and what the executor adds (" · 4 Ray workers"). ``expected``: the seconds this machine's
    measured speed says the frames to do will take, shown (with ``note``) until the first frames are
    done; from then on the job's own pace says it."""

    def __init__(self, fn: ProgressFn | None, total: int, resumed: int = 0, suffix: str = "",
                 expected: float | None = None, note: str = "", per: float = 1.0) -> None:
        self.fn, self.total, self.resumed, self.suffix = fn, total, resumed, suffix
        self.expected, self.note, self.per = expected, note, per
        self.t0 = time.perf_counter()

    def update(self, done: int) -> None:
        """``done`` of the video's frames are finished (resumed ones included); the line counts the frames
        written, ``per`` of them for each of the video's (frame interpolation makes more)."""
        if self.fn is None:
            return
        elapsed = time.perf_counter() - self.t0
        rate = (done - self.resumed) / elapsed if elapsed > 0 else 0.0
        top = max(self.total, done)
        if rate > 0:
            eta = f" · {about((top - done) / rate)} left"
        else:
            eta = "" if self.expected is None else f" · {about(max(0.0, self.expected - elapsed))} left{self.note}"
        fps = f" · {rate * self.per:.1f} fps" if rate > 0 else ""
        shown, of = round(done * self.per), round(top * self.per)
        self.fn(min(0.99, done / max(1, top)), f"frame {shown}/{of}{fps}{eta}{self.suffix}")
