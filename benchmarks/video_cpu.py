"""End-to-end video restoration speed: decode, stages, encode and audio copy, through the library.

Makes a test clip with sound (a moving pattern and a tone; or use --input), restores it with one
super-resolution model (full-size network; trained weights from ../shared/weights where present,
random otherwise: same arithmetic, same time) and prints frames per second plus the flicker measure
with and without temporal stabilisation when --flicker is given. Writes JSON with --json.

    python benchmarks/video_cpu.py --seconds 10 --height 360 --model realesr-general-x4v3 --scale 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sr_cpu import SHARED, TRAINED, full_size_network  # noqa: E402

from restoration import (
    RestoreOptions,  # noqa: E402
    restore_video,  # noqa: E402
)
from restoration.video import VideoOptions, probe  # noqa: E402


def make_clip(path: Path, seconds: float, height: int, fps: int = 30) -> Path:
    import av

    width = (height * 16 // 9) // 2 * 2
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.options = {"crf": "20", "preset": "veryfast"}
        a = c.add_stream("aac", rate=48000)
        a.layout = "stereo"
        n = round(seconds * fps)
        for i in range(n):
            t = i / fps
            r = 128 + 100 * np.sin(xx / 23 + t * 2)
            g = 128 + 100 * np.sin(yy / 17 - t * 3)
            b = 128 + 100 * np.sin((xx + yy) / 31 + t)
            img = np.stack([r, g, b], -1)
            x0 = int((width - 60) * (0.5 + 0.5 * np.sin(t)))
            img[height // 3: height // 3 + 60, x0: x0 + 60] = 240
            frame = av.VideoFrame.from_ndarray(np.clip(img, 0, 255).astype(np.uint8), format="rgb24")
            frame.pts = i
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
        samples = int(48000 * seconds)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = np.repeat(tone[start:start + 1024][None], 2, 0)
            af = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            af.sample_rate, af.pts, af.time_base = 48000, start, Fraction(1, 48000)
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode(None):
            c.mux(p)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, help="a video of your own instead of the generated clip")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--model", default="realesr-general-x4v3")
    ap.add_argument("--scale", type=float, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_flush_denormal(True)
    work = Path(tempfile.mkdtemp(prefix="video-bench-"))
    if not os.environ.get("RESTORATION_MODELS_DIR"):
        folder = work / "models"
        folder.mkdir()
        os.environ["RESTORATION_MODELS_DIR"] = str(folder)
        if args.model in TRAINED and (SHARED / TRAINED[args.model]).is_file():
            (folder / f"{args.model}.safetensors").symlink_to(SHARED / TRAINED[args.model])
        else:
            from safetensors.torch import save_file

            net = full_size_network(args.model)
            save_file({k: v.contiguous() for k, v in net.state_dict().items()},
                      str(folder / f"{args.model}.safetensors"))
    src = args.input or make_clip(work / "clip.mp4", args.seconds, args.height)
    info = probe(src)
    opts = RestoreOptions(upscale=args.scale, model=args.model, colorize="off", device=args.device)
    t0 = time.perf_counter()
    res = restore_video(src, work / "out.mp4", opts, VideoOptions(batch=args.batch),
                        progress=lambda f, m: print(f"\r{m}   ", end="", file=sys.stderr, flush=True))
    wall = time.perf_counter() - t0
    print(file=sys.stderr)
    out = probe(res.path)
    row = {
        "input": f"{info.width}x{info.height}", "output": f"{out.width}x{out.height}",
        "frames": res.metrics["frames"], "seconds_of_video": round(info.duration, 2),
        "model": args.model, "scale": args.scale, "wall_s": round(wall, 1),
        "fps_end_to_end": round(res.metrics["frames"] / wall, 3),
        "stage_seconds": res.metrics["seconds"], "audio_copied": res.metrics["audio_copied"],
        "device": res.metrics.get("device", args.device), "threads": torch.get_num_threads(),
        "cpu": platform.processor(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(row, indent=1))
    if args.json:
        args.json.write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
