"""Frame interpolation speed: ms per in-between frame (the streaming cost: one new frame's features and
the frame between), per size, device and precision, and how far each precision is from fp32.

    python benchmarks/interpolation_speed.py --device cuda --sizes 1280x720,1920x1080,3840x2160 \\
        --weights .gpu/weights/rife-4.26.flownet.pkl --json out.json

Without ``--weights`` a random-weight RIFE runs (the same arithmetic; the quality column is then only
the precision's distance from fp32).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restoration.interpolation import load_interpolator  # noqa: E402
from restoration.interpolation.ifnet import IFNet  # noqa: E402


def frames(w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    base = (rng.random((h // 8 + 2, w // 8 + 2, 3)) * 255).astype(np.uint8)
    import cv2

    big = cv2.resize(base, (w + 16, h + 16), interpolation=cv2.INTER_CUBIC)
    return big[:h, :w].copy(), big[8:h + 8, 12:w + 12].copy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    ap.add_argument("--precisions", default="auto,fp32")
    ap.add_argument("--weights")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    weights = args.weights
    if weights is None:
        torch.manual_seed(0)
        weights = str(Path(tempfile.mkdtemp()) / "random-rife.pkl")
        torch.save(IFNet().state_dict(), weights)
    rows = []
    for size in args.sizes.split(","):
        w, h = map(int, size.split("x"))
        a, b = frames(w, h)
        reference = None
        for precision in args.precisions.split(","):
            net = load_interpolator(weights, args.device, precision)
            sync = torch.cuda.synchronize if net.device.type == "cuda" else (lambda: None)
            pa = net.prepare(a)
            out = net.between(pa, net.prepare(b), 0.5)  # warm-up
            times = []
            for _ in range(args.reps):
                sync()
                t0 = time.perf_counter()
                out = net.between(pa, net.prepare(b), 0.5)
                sync()
                times.append((time.perf_counter() - t0) * 1000)
            if precision == "fp32":
                reference = out
            rows.append({"size": size, "device": str(net.device), "precision": str(net.dtype).replace("torch.", ""),
                         "ms": round(statistics.median(times), 1), "out": out})
        for r in rows:
            if r["size"] == size and reference is not None:
                mse = float(np.mean((r["out"].astype(float) - reference.astype(float)) ** 2))
                r["psnr_vs_fp32"] = 99.0 if mse == 0 else round(10 * np.log10(255**2 / mse), 1)
    for r in rows:
        r.pop("out")
        print(f"{r['size']:>10} {r['device']:>6} {r['precision']:>9} {r['ms']:>8.1f} ms  "
              f"{r.get('psnr_vs_fp32', '')} dB vs fp32")
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "weights": Path(weights).name,
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
