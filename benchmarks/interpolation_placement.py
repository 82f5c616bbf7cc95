"""Frame interpolation before or after super-resolution: which costs less at equal quality.

Real photos moved by known whole-pixel amounts at 4x the input size, shrunk to the input (so the true
middle frame is known at both sizes). For each pair of frames:

- after: both frames upscaled (which the video needs anyway), then RIFE on the upscaled pair;
- before: RIFE on the small pair, then its middle frame upscaled (one more pass of the upscaler).

Each is timed for its extra work (the in-between frame only) and compared (PSNR) with the upscaler's
output for the true small middle frame (what a perfect interpolator would give with the stages run
per frame) and with the true large middle frame.

    python benchmarks/interpolation_placement.py --rife ../shared/weights/rife-4.26.flownet.pkl \\
        --upscaler ../shared/weights/realesr-animevideov3.fp16.safetensors \\
        --json benchmarks/results/interpolation-placement.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restoration import RestoreOptions, restore_image  # noqa: E402
from restoration.interpolation import load_interpolator  # noqa: E402
from restoration.media import ImageData  # noqa: E402

SMALL = (160, 96)  # input (w, h); x4: 640x384


def scenes() -> list:
    import cv2
    from skimage import data

    w, h = SMALL[0] * 4, SMALL[1] * 4
    patch = cv2.resize(data.astronaut()[30:250, 140:360], (96, 96), interpolation=cv2.INTER_AREA)
    out = []
    for photo, pan, move in ((data.coffee(), (8, 4), (-12, 8)), (data.chelsea(), (-8, 8), (12, -4)),
                             (data.rocket(), (0, 12), (8, 8))):
        big = cv2.resize(photo, (w + 160, h + 160), interpolation=cv2.INTER_CUBIC)

        def frame(k: int, big=big, pan=pan, move=move) -> np.ndarray:
            f = big[80 + k * pan[1]:80 + k * pan[1] + h, 80 + k * pan[0]:80 + k * pan[0] + w].copy()
            px, py = w // 3 + k * move[0], h // 4 + k * move[1]
            f[py:py + 96, px:px + 96] = patch
            return f

        out.append(frame)
    return out


def small(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(frame, SMALL, interpolation=cv2.INTER_AREA)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rife", required=True)
    ap.add_argument("--upscaler", required=True)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    options = RestoreOptions(upscale=4, model=args.upscaler, colorize="off", denoise=0, sharpen=0)
    net = load_interpolator(args.rife, "cpu")

    def sr(rgb: np.ndarray) -> np.ndarray:
        out = restore_image(ImageData(rgb.astype(np.float32) / 255), options).image.pixels
        return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)

    def rife(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return net.between(net.prepare(a), net.prepare(b), 0.5)

    sr(small(scenes()[0](0)))  # warm-up: loads both networks
    rife(small(scenes()[0](0)), small(scenes()[0](2)))
    rows = {"after": [], "before": []}
    for scene in scenes():
        for k in (0, 2, 4):
            a, truth, b = (small(scene(k + d)) for d in (0, 1, 2))
            up_a, up_b, up_truth = sr(a), sr(b), sr(truth)
            t0 = time.perf_counter()
            after = rife(up_a, up_b)
            t1 = time.perf_counter()
            before = sr(rife(a, b))
            t2 = time.perf_counter()
            for name, out, seconds in (("after", after, t1 - t0), ("before", before, t2 - t1)):
                rows[name].append({"ms": seconds * 1000, "vs_upscaled_truth": psnr(out, up_truth),
                                   "vs_large_truth": psnr(out, scene(k + 1))})
    table = []
    for name, runs in rows.items():
        table.append({"where": name, "ms_per_inbetween": round(statistics.median(r["ms"] for r in runs), 1),
                      "psnr_vs_upscaled_truth": round(statistics.median(r["vs_upscaled_truth"] for r in runs), 2),
                      "psnr_vs_large_truth": round(statistics.median(r["vs_large_truth"] for r in runs), 2),
                      "pairs": len(runs)})
    for r in table:
        print(f"{r['where']:<8} {r['ms_per_inbetween']:>8.1f} ms  {r['psnr_vs_upscaled_truth']:.2f} dB vs the "
              f"upscaled true frame  {r['psnr_vs_large_truth']:.2f} dB vs the large true frame")
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "input": f"{SMALL[0]}x{SMALL[1]}",
                                         "upscale": 4, "upscaler": Path(args.upscaler).name, "rows": table}, indent=1))


if __name__ == "__main__":
    main()
