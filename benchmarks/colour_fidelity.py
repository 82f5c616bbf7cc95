"""How close a video whose stages change nothing comes back to its own frames, beside FFmpeg's own round trip.

A 25p H.264 clip from a real photo panning (or ``--input``) goes through ``restore_video`` with every
stage off at ``--crf``; FFmpeg's own RGB round trip (its libraries through PyAV: decode to RGB with the
default conversion, back to YUV 4:2:0, encode at the same CRF) and a direct re-encode (YUV untouched) are
the references. Reports PSNR against the input's decoded frames (in YUV, and in RGB) and the mean colour
shift per channel. Also a 10-bit ProRes source through ``--codec prores`` (does it stay 10-bit).

    python benchmarks/colour_fidelity.py --json benchmarks/results/colour-fidelity.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restoration import RestoreOptions, restore_video  # noqa: E402
from restoration.options import VideoOptions  # noqa: E402

W, H, N = 640, 360, 25
NOTHING = RestoreOptions(upscale=0, colorize="off", denoise=0, sharpen=0)


def make_clip(path: Path, codec: str = "libx264", pix_fmt: str = "yuv420p", opts: dict | None = None) -> Path:
    import av
    import cv2
    from skimage import data

    big = cv2.resize(data.coffee(), (W + 200, H + 100), interpolation=cv2.INTER_CUBIC)
    with av.open(str(path), "w") as c:
        v = c.add_stream(codec, rate=25)
        v.width, v.height, v.pix_fmt = W, H, pix_fmt
        v.options = opts if opts is not None else {"crf": "10"}
        for i in range(N):
            rgb = np.ascontiguousarray(big[i * 2:i * 2 + H, i * 4:i * 4 + W])
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
            frame.pts = i
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    return path


def decoded(path: Path, fmt: str) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format=fmt) for f in c.decode(video=0)]


def ffmpeg_round_trip(src: Path, dst: Path, crf: int, through_rgb: bool) -> Path:
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        v = o.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = W, H, "yuv420p"
        v.options = {"crf": str(crf), "x264-params": "bframes=0"}
        for n, f in enumerate(i.decode(video=0)):
            if through_rgb:
                f = av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24"), format="rgb24").reformat(format="yuv420p")
            f.pts, f.time_base = n, Fraction(1, 25)
            for p in v.encode(f):
                o.mux(p)
        for p in v.encode(None):
            o.mux(p)
    return dst


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(peak**2 / mse)


def compare(src: Path, out: Path) -> dict:
    ya, yb = decoded(src, "yuv420p"), decoded(out, "yuv420p")
    ra, rb = decoded(src, "rgb24"), decoded(out, "rgb24")
    shift = np.mean([(b.astype(float) - a.astype(float)).mean(axis=(0, 1)) for a, b in zip(ra, rb)], axis=0)
    return {"frames": len(yb), "psnr_yuv": round(float(np.mean([psnr(a, b) for a, b in zip(ya, yb)])), 2),
            "psnr_rgb": round(float(np.mean([psnr(a, b) for a, b in zip(ra, rb)])), 2),
            "shift_rgb": [round(float(x), 2) for x in shift]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--crf", type=int, default=10)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        src = make_clip(t / "in25p.mp4")
        rows.append({"path": "FFmpeg, re-encode (YUV untouched)",
                     **compare(src, ffmpeg_round_trip(src, t / "direct.mp4", args.crf, False))})
        rows.append({"path": "FFmpeg, through RGB and back",
                     **compare(src, ffmpeg_round_trip(src, t / "rgb.mp4", args.crf, True))})
        res = restore_video(src, t / "ours.mp4", NOTHING, VideoOptions(crf=args.crf, stabilize=False))
        rows.append({"path": "restore_video, every stage off", **compare(src, res.path),
                     "encoder": res.metrics.get("encoder")})
        deep = make_clip(t / "scan.mov", "prores_ks", "yuv422p10le", {"profile": "3"})
        out = restore_video(deep, t / "scan_out.mov", NOTHING, VideoOptions(codec="prores", stabilize=False))
        import av

        with av.open(str(out.path)) as c:
            fmt = c.streams.video[0].codec_context.pix_fmt
        a16, b16 = decoded(deep, "rgb48le"), decoded(out.path, "rgb48le")
        rows.append({"path": "10-bit ProRes scan -> --codec prores", "pix_fmt_out": fmt,
                     "psnr_rgb16": round(float(np.mean([psnr(a, b, 65535.0) for a, b in zip(a16, b16)])), 2),
                     "distinct_levels_out": int(len(np.unique(b16[0][..., 1])))})
    for r in rows:
        print(r)
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "crf": args.crf, "size": f"{W}x{H}",
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
