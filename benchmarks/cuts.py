"""The scene-cut detector (``restoration.video.cuts``) on real photos cut together, and on what must not
count as a cut: slow and whip pans, zooms, flashes, a fade, and cuts between two shots of one scene.

Each sequence is made of 320x180 frames taken from scikit-image's photos (a camera window moving over a
photo, with motion blur for fast moves), so where the cuts are is known. Prints a table (cuts found,
missed, false; precision and recall per kind of sequence) and the change measure at each true cut
beside the largest elsewhere, and writes JSON with ``--json``.

    python benchmarks/cuts.py --json benchmarks/results/cuts.json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from restoration.video import cuts  # noqa: E402
from restoration.video.frames import Frame, through  # noqa: E402

W, H = 320, 180
PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
          "camera", "coins", "moon", "brick", "grass", "gravel", "cell")


def photo(name: str, width: int = 900) -> np.ndarray:
    im = getattr(data, name)()
    if im.ndim == 2:
        im = np.stack([im] * 3, axis=-1)
    im = im[..., :3]
    scale = max(width / im.shape[1], (H * 1.6) / im.shape[0])
    return cv2.resize(im, (round(im.shape[1] * scale), round(im.shape[0] * scale)), interpolation=cv2.INTER_AREA)


def window(im: np.ndarray, x: float, y: float, zoom: float = 1.0, blur: float = 0.0) -> np.ndarray:
    """A W x H camera view of ``im`` at (x, y) (its top-left, in ``im``'s pixels), ``zoom`` times closer,
    smeared over ``blur`` pixels of horizontal motion."""
    w, h = W / zoom, H / zoom
    x, y = min(max(0.0, x), im.shape[1] - w - 1), min(max(0.0, y), im.shape[0] - h - 1)
    m = np.float32([[1 / zoom, 0, x], [0, 1 / zoom, y]])
    view = cv2.warpAffine(im, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    if blur >= 2:
        k = np.zeros((1, int(blur)), np.float32)
        k[:] = 1 / int(blur)
        view = cv2.filter2D(view, -1, k)
    return view


def shot(name: str, n: int, speed: float = 2.0, start: float = 0.0, y: float = 0.2, zoom: float = 0.0,
         blur: bool = False) -> list[np.ndarray]:
    im = photo(name)
    top = (im.shape[0] - H) * y
    return [window(im, start + speed * i, top, 1 + zoom * i, abs(speed) * 0.8 if blur else 0) for i in range(n)]


def sequences() -> dict[str, tuple[list[np.ndarray], set[int]]]:
    """name -> (frames, indices of the true cuts)."""
    out: dict[str, tuple[list[np.ndarray], set[int]]] = {}
    frames, truth = [], set()
    for k, name in enumerate(PHOTOS):  # hard cuts between different photos, each shot panning slowly
        if frames:
            truth.add(len(frames))
        frames += shot(name, 10, speed=2 + k % 3)
    out["cuts between photos"] = (frames, truth)
    frames, truth = [], set()
    for name in ("astronaut", "coffee", "rocket", "hubble_deep_field", "retina", "brick"):
        im = photo(name, 1400)
        for part in (0.0, 0.55):  # two shots of one scene: its left and its right part
            if frames:
                truth.add(len(frames))
            frames += [window(im, part * (im.shape[1] - W) + 2 * i, (im.shape[0] - H) * 0.3) for i in range(8)]
    out["cuts within one scene"] = (frames, truth)
    frames, truth = [], set()
    for name in ("astronaut", "coffee", "rocket", "retina", "gravel", "hubble_deep_field"):
        if frames:  # each photo its own shot: a cut before it
            truth.add(len(frames))
        im = photo(name, 1600)  # nearly still, then a whip pan (40 to 130 px a frame, blurred)
        top = (im.shape[0] - H) * 0.3
        frames += [window(im, i, top) for i in range(6)]
        frames += [window(im, 6 + (40 + 10 * i) * i, top, blur=40 + 10 * i) for i in range(10)]
    out["whip pans"] = (frames, truth)
    frames = []
    for name in ("chelsea", "coffee", "immunohistochemistry", "coins"):
        frames += shot(name, 16, speed=0.5, zoom=0.04)  # a zoom in, 4 % a frame
    out["zooms"] = (frames, {16, 32, 48})
    frames, truth = shot("rocket", 20, speed=1), set()
    for i in (6, 13):  # a flash: one frame much brighter
        frames[i] = np.clip(frames[i].astype(np.int16) + 110, 0, 255).astype(np.uint8)
    out["flashes"] = (frames, truth)
    a, b = shot("astronaut", 20, speed=1), shot("coffee", 20, speed=1)
    fade = [cv2.addWeighted(a[i], 1 - t, b[i], t, 0) for i, t in enumerate(np.linspace(0, 1, 20))]
    out["a dissolve"] = (a[:5] + fade + b[:5], set())
    return out


def measure() -> dict:
    rows = []
    for name, (frames, truth) in sequences().items():
        found = {f.index for f in through(cuts.CutDetector(), [Frame(i, i, p) for i, p in enumerate(frames)]) if f.cut}
        sig = [cuts.signature(p) for p in frames]
        changes = [0.0] + [cuts.change(a, b) for a, b in zip(sig, sig[1:])]
        tp, fp, fn = len(found & truth), len(found - truth), len(truth - found)
        rows.append({"sequence": name, "frames": len(frames), "cuts": len(truth), "found": tp, "missed": fn,
                     "false": fp, "precision": tp / (tp + fp) if tp + fp else 1.0,
                     "recall": tp / len(truth) if truth else 1.0,
                     "smallest_change_at_a_cut": round(min((changes[i] for i in truth), default=float("nan")), 3),
                     "largest_change_elsewhere": round(max(c for i, c in enumerate(changes) if i not in truth), 3)})
    return {"date": date.today().isoformat(), "threshold": cuts.THRESHOLD, "ratio": cuts.RATIO,
            "ratio_before": cuts.RATIO_BEFORE, "rows": rows}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    result = measure()
    print("| sequence | frames | cuts | found | missed | false | smallest change at a cut | largest elsewhere |")
    print("|---|---|---|---|---|---|---|---|")
    for r in result["rows"]:
        print(f"| {r['sequence']} | {r['frames']} | {r['cuts']} | {r['found']} | {r['missed']} | {r['false']} | "
              f"{r['smallest_change_at_a_cut']} | {r['largest_change_elsewhere']} |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
