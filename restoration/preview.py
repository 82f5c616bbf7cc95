"""A preview before the long job: a short stretch of a video restored with the job's own settings, and what
the whole video would take at that pace.

``preview_video(src, folder, options, video, at=..., seconds=...)`` copies the frames from ``at`` for
``seconds`` (one frame when ``seconds`` is 0) losslessly into a stretch of their own, with the colour
description kept and the whole video's deinterlacing decision fixed (the stretch is too short to
decide it again), restores it through ``restore_video`` on this machine (the models stay loaded for
the job after it), and gives the first frame before and after as pictures, the restored stretch as
a video, and the estimate for the whole video from the preview's own pace.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import OptionError, VideoReadError
from .options import RestoreOptions, VideoOptions
from .progress import ProgressFn, about
from .video.probe import open_video, probe

MAX_SECONDS = 10.0


@dataclass
class Preview:
    """``before``/``after``: the stretch's first frame as PNG pictures (the after one at the output size);
    ``video``: the restored stretch (H.264 MP4); ``frames``: how many; ``estimate_s``: seconds the whole
    video should take at the preview's pace; ``metrics``: the stretch's own."""

    before: Path
    after: Path
    video: Path
    frames: int
    estimate_s: float
    metrics: dict[str, Any]

    @property
    def summary(self) -> str:
        return (f"Preview: {self.frames} frame(s) in {self.metrics['seconds_total']:.1f} s; the whole video should "
                f"take {about(self.estimate_s)} at this pace.")


def _stretch(src: Path, dst: Path, at: float, seconds: float) -> tuple[int, np.ndarray]:
    """Frames from ``at`` for ``seconds`` (at least one) of ``src`` into ``dst`` (FFV1, lossless, the
    source's pixel format and colour tags); returns how many and the first as RGB."""
    import av

    with open_video(src) as c:
        v = c.streams.video[0]
        tb = v.time_base or Fraction(1, 25)
        rate = v.average_rate or v.guessed_rate or Fraction(25)
        if at > 0:
            c.seek(int(at / tb), stream=v, backward=True, any_frame=False)
        first, n = None, 0
        with av.open(str(dst), "w") as out:
            s = out.add_stream("ffv1", rate=rate)
            s.time_base = s.codec_context.time_base = tb
            for frame in c.decode(v):
                t = float(frame.pts * tb) if frame.pts is not None else 0.0
                if t + 1e-6 < at:
                    continue
                if n and (seconds <= 0 or t >= at + seconds - 1e-6):
                    break
                if first is None:
                    s.width, s.height, s.pix_fmt = frame.width, frame.height, frame.format.name
                    for k in ("colorspace", "color_primaries", "color_trc", "color_range"):
                        setattr(s.codec_context, k, getattr(frame, k))
                    from .video.colour import Colour

                    first = Colour.of(frame).to_rgb(frame, False)
                for p in s.encode(frame):
                    out.mux(p)
                n += 1
            for p in s.encode(None):
                out.mux(p)
    if not n:
        raise VideoReadError(f"{src.name}: no frame at {at:g} s; the video is {probe(src).duration:.1f} s long")
    return n, first


def preview_video(src: Path, folder: Path, options: RestoreOptions, video: VideoOptions, *, at: float = 0.0,
                  seconds: float = 2.0, progress: ProgressFn | None = None, executor: Any = None) -> Preview:
    """The preview of ``src`` (see the module), written into ``folder``; ``executor`` as for
    ``restore_video`` (a ZeroGPU Space runs it in a GPU call). Raises ``OptionError`` for a moment
    outside the video or a stretch over ``MAX_SECONDS``, and what ``restore_video`` raises."""
    from .jobs import restore_video
    from .media import ImageData, write_image
    from .pipeline import prepare
    from .video.fields import decide

    info = probe(src)
    if not 0 <= at < max(info.duration, 1e-3):
        raise OptionError(f"at={at:g}: the preview must start inside the video (0 to {info.duration:.1f} s)")
    if not 0 <= seconds <= MAX_SECONDS:
        raise OptionError(f"seconds={seconds:g}: a preview is 0 (one frame) to {MAX_SECONDS:g} seconds")
    folder.mkdir(parents=True, exist_ok=True)
    fields = decide(src, info, video.deinterlace)  # the whole video's decision, not the stretch's
    fixed = {"off": "off", "frames": "on"}.get(fields.mode, fields.mode)
    n, first = _stretch(src, folder / "stretch.mkv", at, seconds)
    look = replace(video, codec="h264", encoder="auto", deinterlace=fixed, segment_seconds=3600.0)
    if executor is None:  # load the networks first, so the pace measured is the job's, not the loading's
        prepare(options).preload(None)
    t0 = time.perf_counter()
    res = restore_video(folder / "stretch.mkv", folder / "preview.mp4", options, look, progress=progress,
                        executor=executor)
    took = time.perf_counter() - t0
    import av

    with av.open(str(res.path)) as c:
        g = next(c.decode(video=0))
        from .video.colour import Colour

        after = Colour.of(g).to_rgb(g, False)
    before = write_image(ImageData(first.astype(np.float32) / 255), folder / "before.png", output_format="png")
    after_png = write_image(ImageData(after.astype(np.float32) / 255), folder / "after.png", output_format="png")
    whole = info.expected_frames or n
    estimate = took / max(1, n) * whole
    return Preview(before, after_png, res.path, n, estimate, res.metrics)
