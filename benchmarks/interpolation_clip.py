"""Frame interpolation on a clip whose true in-between frames are known.

Makes a 12 fps clip with audio from real photos moved by known whole-pixel amounts (a panning photo
with a patch moving the other way over it, so there is occlusion), with a scene cut in the middle
(another photo, another motion), and renders the truth at 24 fps. Runs

    python -m restoration video IN -o OUT.mkv --upscale 0 --no-stabilize --interpolate 2 \\
        --interpolation-model WEIGHTS --codec ffv1 --device cpu

and checks what comes out: the frame rate, the frame count, the duration, the audio, each in-between
frame's PSNR against the truth (and a 50/50 blend's), and at the cut a repeated frame, not a blend.

    python benchmarks/interpolation_clip.py --weights ../shared/weights/rife-4.26.flownet.pkl \\
        --json benchmarks/results/interpolation-clip.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FPS, SECONDS, CUT = 12, 2, 12  # the cut: the 13th frame starts the second scene
W, H = 320, 192


def _scene(photo: np.ndarray, pan: tuple[int, int], move: tuple[int, int], patch: np.ndarray):
    """The frame at 24 fps step ``k`` of one scene: the photo panned by ``k * pan``, the patch moved by
    ``k * move`` (whole pixels per 1/24 s)."""
    import cv2

    big = cv2.resize(photo, (W + 200, H + 200), interpolation=cv2.INTER_CUBIC)

    def frame(k: int) -> np.ndarray:
        ox, oy = 100 + k * pan[0], 100 + k * pan[1]
        f = big[oy:oy + H, ox:ox + W].copy()
        px, py = W // 3 + k * move[0], H // 4 + k * move[1]
        f[py:py + patch.shape[0], px:px + patch.shape[1]] = patch
        return f

    return frame


def make_clip(path: Path) -> list[np.ndarray]:
    """Write the 12 fps clip (h264-free: ffv1 in .mkv, with a 440 Hz tone) and return the truth at 24
    fps (48 frames: two per input frame)."""
    import av
    import cv2
    from skimage import data

    patch = cv2.resize(data.astronaut()[30:250, 140:360], (64, 64), interpolation=cv2.INTER_AREA)
    first = _scene(data.coffee(), (3, 1), (-4, 2), patch)
    second = _scene(data.chelsea(), (-2, 2), (3, -1), patch[::-1].copy())
    truth = [first(k) if k < 2 * CUT else second(k - 2 * CUT) for k in range(FPS * SECONDS * 2)]
    with av.open(str(path), "w") as out:
        v = out.add_stream("ffv1", rate=FPS)
        v.width, v.height, v.pix_fmt = W, H, "yuv444p"
        a = out.add_stream("flac", rate=48000)
        a.layout = "mono"
        for i in range(FPS * SECONDS):
            frame = av.VideoFrame.from_ndarray(truth[2 * i], format="rgb24").reformat(format="yuv444p")
            frame.pts, frame.time_base = i, Fraction(1, FPS)
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(48000 * SECONDS) / 48000)).astype(np.float32)
        for k in range(0, tone.size, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, k:k + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = 48000, k, Fraction(1, 48000)
            out.mux(a.encode(chunk))
        out.mux(a.encode(None))
    return truth


def read(path: Path) -> tuple[list[np.ndarray], dict]:
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(v)]
        info = {"fps": float(v.average_rate), "duration": float(c.duration / 1e6) if c.duration else None,
                "audio": len(c.streams.audio)}
    return frames, info


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", required=True, help="RIFE 4.25/4.26 flownet.pkl, or rife-4.26")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "clip12.mkv", Path(tmp) / "clip24.mkv"
        truth = make_clip(src)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "restoration", "video", str(src), "-o", str(dst), "--upscale", "0",
                        "--no-stabilize", "--interpolate", "2", "--interpolation-model", args.weights,
                        "--codec", "ffv1", "--device", "cpu"], check=True, cwd=ROOT)
        seconds = time.perf_counter() - t0
        frames, info = read(dst)
        _, src_info = read(src)
    # In-between frames: every odd one, less the cut's (checked apart) and the last (after the last
    # frame: it repeats it, so that the length stays).
    between = [k for k in range(1, len(truth) - 1, 2) if k != 2 * CUT - 1]
    ours = [psnr(frames[k], truth[k]) for k in between if k < len(frames)]
    blend = [psnr(((truth[k - 1].astype(np.uint16) + truth[k + 1]) // 2).astype(np.uint8), truth[k])
             for k in between if k + 1 < len(truth)]
    at_cut = frames[2 * CUT - 1]
    row = {
        "frames_in": FPS * SECONDS, "frames_out": len(frames), "fps_out": info["fps"],
        "duration_in": src_info["duration"], "duration_out": info["duration"], "audio_streams": info["audio"],
        "psnr_median": round(statistics.median(ours), 2), "psnr_min": round(min(ours), 2),
        "blend_psnr_median": round(statistics.median(blend), 2),
        "cut_frame_repeats": any(np.array_equal(at_cut, frames[k]) for k in (2 * CUT - 2, 2 * CUT)),
        "last_frame_repeats": bool(np.array_equal(frames[-1], frames[-2])),
        "cut_frame_vs_blend_psnr": round(psnr(at_cut, ((frames[2 * CUT - 2].astype(np.uint16)
                                                        + frames[2 * CUT]) // 2).astype(np.uint8)), 2),
        "seconds": round(seconds, 1), "size": f"{W}x{H}",
    }
    for k, v in row.items():
        print(f"{k:<26} {v}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": [row]}, indent=1))


if __name__ == "__main__":
    main()
