"""Outputs recorded before a change of structure, held against every executor after it.

A video (a scene cut in the middle, audio, the stabiliser on: denoise and colorize) and a batch of
three pictures go through the local path, Ray and ZeroGPU calls; each result is compared with
``fixtures/golden.npz``, which was made with the code as it was before ``restoration.video`` became
frames and passes (``RESTORATION_RECORD_GOLDEN=1 pytest tests -k golden`` writes it again, from the
local path). fp32 throughout; the tolerance (2 levels at most, 0.1 on average) allows for another
CPU's convolution kernels, while any change of logic (a frame more or less, a stage out of order, a
stabiliser that does not reset at the cut) moves whole frames by far more.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from restoration import RestoreOptions, VideoOptions

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden.npz"
RECORD = os.environ.get("RESTORATION_RECORD_GOLDEN") == "1"
OPTIONS = RestoreOptions(upscale=2, model="realesr-general-x4v3", colorize="on", denoise=10, sharpen=0.5,
                         precision="fp32")
VIDEO = VideoOptions(codec="ffv1", segment_seconds=0.5)  # 6-frame segments: pieces for every executor
PICTURES = OPTIONS.with_(output_format="png")
FRAMES, CUT, W, H = 16, 9, 40, 24


def make_video(path: Path) -> Path:
    """16 frames at 12 fps, a hard cut before frame 9 (another picture), a tone as audio."""
    rng = np.random.default_rng(7)
    first = (rng.random((H, W, 3)) * 80 + np.linspace(40, 160, W)[None, :, None]).astype(np.uint8)
    second = (255 - first[::-1]).copy()
    with av.open(str(path), "w") as c:
        v = c.add_stream("ffv1", rate=12)
        v.width, v.height, v.pix_fmt = W, H, "yuv444p"
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        for i in range(FRAMES):
            pic = np.roll(first if i < CUT else second, i, axis=1).copy()
            cv2.rectangle(pic, (2 + i, 4), (10 + i, 12), (250, 30, 30), -1)
            frame = av.VideoFrame.from_ndarray(pic, format="rgb24")
            frame.pts = i
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
        tone = (0.2 * np.sin(np.arange(int(16000 * FRAMES / 12)) / 5)).astype(np.float32)
        for start in range(0, len(tone), 1024):
            af = av.AudioFrame.from_ndarray(tone[start:start + 1024][None], format="flt", layout="mono")
            af.sample_rate, af.pts, af.time_base = 16000, start, Fraction(1, 16000)
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode(None):
            c.mux(p)
    return path


def make_pictures(folder: Path) -> Path:
    """Three pictures: colour, gray, and a colour one of another size."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    cv2.imwrite(str(folder / "a.png"), (rng.random((24, 32, 3)) * 255).astype(np.uint8))
    cv2.imwrite(str(folder / "b.png"), (rng.random((20, 20)) * 255).astype(np.uint8))
    cv2.imwrite(str(folder / "c.png"), (rng.random((18, 26, 3)) * 255).astype(np.uint8))
    return folder


def video_frames(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def batch_pixels(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted(folder.glob("*.png"))}


def check(video: np.ndarray, batch: dict[str, np.ndarray]) -> None:
    """Compare with the recorded outputs (or record them, from the local path)."""
    got = {"video": video, **{f"batch/{k}": v for k, v in batch.items()}}
    if RECORD:
        GOLDEN.parent.mkdir(exist_ok=True)
        np.savez_compressed(GOLDEN, **got)
        return
    want = dict(np.load(GOLDEN))
    assert sorted(got) == sorted(want)
    for key, value in got.items():
        assert value.shape == want[key].shape, key
        diff = np.abs(value.astype(np.int16) - want[key].astype(np.int16))
        assert diff.max() <= 2 and diff.mean() <= 0.1, (key, int(diff.max()), float(diff.mean()))
