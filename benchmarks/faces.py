"""Face stage benchmark: its speed beside the super-resolution stage, and face flicker in a video.

- ``speed``: a photo with four faces (scikit-image's astronaut, tiled 2x2) restored x4 with x4plus,
  face stage on; the face stage's seconds next to the super-resolution stage's, per face model.
  The target on a GPU is a face stage under a third of the super-resolution stage.
- ``flicker``: a still face with fresh noise every frame, restored with and without the video face
  tracker; the face region's mean frame-to-frame change (8-bit levels), and the same for the input,
  plus how far the landmarks move from frame to frame (pixels) before and after smoothing.

Face networks are random-weight real architectures at full size (same arithmetic, same time as the
trained ones) unless ``--models-dir`` holds trained files; the detector and x4plus come from
../shared/weights. Numbers with random weights measure time and geometry, not restoration quality.

    python benchmarks/faces.py --quick --json faces.json     # CPU: a 512 px photo, GFPGAN, 12 frames
    python benchmarks/faces.py                               # GPU: 1024 px, every face model, 48 frames
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("RESTORATION_BENCH_WEIGHTS") or ROOT.parent / "shared" / "weights")


def prepare(folder: Path, models: list[str]) -> None:
    """Weights into ``folder``: the detector and x4plus from ../shared/weights, random face networks."""
    from safetensors.torch import save_file

    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import make_gfpgan, make_restoreformer  # noqa: E402

    (folder / "face_detection_yunet_2026may.onnx").symlink_to(SHARED / "face_detection_yunet_2026may.onnx")
    (folder / "realesrgan-x4plus.safetensors").symlink_to(SHARED / "RealESRGAN_x4plus.fp16.safetensors")
    makers = {"gfpgan-v1.4": make_gfpgan, "restoreformer": _full_restoreformer, "codeformer": _full_codeformer,
              "restoreformer-tiny": make_restoreformer}
    for mid in models:
        target = folder / f"{mid.replace('-tiny', '')}.safetensors"
        if not target.exists():
            net = makers[mid]()
            save_file({k: v.half().contiguous() for k, v in net.state_dict().items()}, str(target))


def _full_restoreformer() -> torch.nn.Module:
    from spandrel.architectures.RestoreFormer import RestoreFormer

    return RestoreFormer()


def _full_codeformer() -> torch.nn.Module:
    from spandrel_extra_arches.architectures.CodeFormer import CodeFormer

    return CodeFormer()


def photo(size: int) -> np.ndarray:
    import cv2
    from skimage import data

    tile = cv2.resize(data.astronaut(), (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    row = np.concatenate([tile, tile], 1)
    return np.concatenate([row, row], 0)


def bench_speed(size: int, models: list[str], device: str) -> list[dict]:
    from restoration import build_options, restore_image

    img = photo(size)
    rows = []
    for mid in models:
        opts = build_options(upscale=4, model="realesrgan-x4plus", face=mid.replace("-tiny", ""), colorize="off",
                             device=device)
        restore_image(img[:64, :64], opts)  # load the networks
        res = restore_image(img, opts)
        s = res.metrics["seconds"]
        rows.append({"workload": "speed", "face_model": mid, "input": f"{size}x{size}",
                     "faces": res.metrics["faces"]["restored"], "faces_s": round(s["faces"], 2),
                     "superres_s": round(s["superres"], 2), "ratio": round(s["faces"] / s["superres"], 3)})
        print(rows[-1], flush=True)
    return rows


def _clip(frames: int, side: int = 192) -> list[np.ndarray]:
    """A still face with fresh sensor noise every frame: what changes between frames is noise, and
    the detector's landmarks, which the noise moves by a fraction of a pixel."""
    import cv2
    from skimage import data

    base = cv2.resize(data.astronaut()[20:276, 120:376], (side, side), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    return [np.clip(base + rng.normal(0, 2, base.shape), 0, 255).astype(np.uint8) for _ in range(frames)]


def bench_flicker(frames: int, model: str, device: str) -> list[dict]:
    from restoration import build_options
    from restoration import prepare as prepare_job
    from restoration.faces.detect import detect_faces
    from restoration.faces.track import FaceTracker

    clip = _clip(frames)
    opts = build_options(upscale=0, face=model.replace("-tiny", ""), colorize="off", device=device)
    face = detect_faces(clip[0], Path(os.environ["RESTORATION_MODELS_DIR"]) / "face_detection_yunet_2026may.onnx")[0]
    x, y, w, h = (int(round(v)) for v in face.box)

    def flicker(seq: list[np.ndarray]) -> float:
        region = [s[y : y + h, x : x + w].astype(np.float32) for s in seq]
        return float(np.mean([np.abs(b - a).mean() for a, b in zip(region, region[1:])]))

    rows = [{"workload": "flicker", "run": "input", "face_model": model, "frames": frames,
             "face_flicker": round(flicker(clip), 3)}]
    print(rows[-1], flush=True)
    for name, tracker in (("without smoothing", None), ("with smoothing", FaceTracker())):
        job = prepare_job(opts)
        outs, marks = [], []

        def record(faces, tracker=tracker, marks=marks):
            faces = tracker(faces) if tracker is not None else faces
            marks.append(faces[0].landmarks.copy())
            return faces

        t0 = time.perf_counter()
        for f in clip:
            t = torch.from_numpy(f).permute(2, 0, 1)[None].float() / 255
            out, _, _ = job.run(t, track=record)
            outs.append((out[0].clamp(0, 1) * 255 + 0.5).byte().permute(1, 2, 0).cpu().numpy())
        steps = [float(np.abs(b - a).mean()) for a, b in zip(marks, marks[1:])]
        rows.append({"workload": "flicker", "run": name, "face_model": model, "frames": frames,
                     "face_flicker": round(flicker(outs), 3), "landmark_step_px": round(float(np.mean(steps)), 3),
                     "seconds": round(time.perf_counter() - t0, 1)})
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CPU sizes: a 512 px photo, GFPGAN, 12 frames")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--only", default="speed,flicker")
    ap.add_argument("--models", default="", help="face models for the speed rows (default: every one; "
                                                  "--quick: gfpgan-v1.4)")
    ap.add_argument("--flicker-model", default="restoreformer-tiny",
                    help="face model of the flicker rows (restoreformer-tiny: a small random RestoreFormer)")
    ap.add_argument("--size", type=int, default=0, help="side of the speed rows' photo (default 1024; --quick 512)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    models = args.models.split(",") if args.models else (
        ["gfpgan-v1.4"] if args.quick else ["gfpgan-v1.4", "restoreformer", "codeformer"])
    folder = Path(tempfile.mkdtemp(prefix="faces-bench-"))
    prepare(folder, sorted({*models, args.flicker_model}))
    os.environ["RESTORATION_MODELS_DIR"] = str(folder)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = []
    if "speed" in args.only:
        rows += bench_speed(args.size or (512 if args.quick else 1024), models, args.device)
    if "flicker" in args.only:
        rows += bench_flicker(12 if args.quick else 48, args.flicker_model, args.device)
    result = {"meta": {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                       "torch": torch.__version__, "threads": torch.get_num_threads(),
                       "date": time.strftime("%Y-%m-%d"), "weights": "random (full-size architectures)"},
              "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
