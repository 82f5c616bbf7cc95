"""Scaling on Ray: the same batch and the same video with 1, 2, 4... workers, against the local path.

For each worker count it runs the batch (``--images`` pictures of ``--size`` px) and the video
(``--frames`` frames, short segments so every worker gets some) through ``restore_folder(executor=Cluster(...))``
and ``restore_video(executor=...)`` on an embedded Ray, and once locally. It prints throughput, the
efficiency against one worker, the job start (first result) and the steady per-item time, and what
Ray adds per item over the local path. ``--project 8,64`` adds the expected throughput for that many
workers from the measured figures, marked as a projection. Writes JSON with --json.

On a CPU machine the workers split its cores (``--cpus-per-worker`` each), so expect little gain;
on one GPU, ``--gpus-per-worker 0.5`` puts two workers on it.

    python benchmarks/scaling.py --workers 1,2 --images 16 --frames 48
    python benchmarks/scaling.py --workers 1,2,4 --gpus-per-worker 0.25 --model realesrgan-x4plus --json s.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sr_cpu import SHARED, TRAINED, full_size_network  # noqa: E402

from restoration import (  # noqa: E402
    RestoreOptions,  # noqa: E402
    restore_folder,
    restore_video,
)
from restoration.cluster import Cluster  # noqa: E402
from restoration.video import VideoOptions  # noqa: E402


def _models(work: Path, model: str) -> None:
    """The model where the library finds it: trained weights when ../shared has them, else a
    full-size random network (same arithmetic, same time)."""
    if os.environ.get("RESTORATION_MODELS_DIR") or Path(model).is_file():
        return
    folder = work / "models"
    folder.mkdir()
    os.environ["RESTORATION_MODELS_DIR"] = str(folder)
    if model in TRAINED and (SHARED / TRAINED[model]).is_file():
        (folder / f"{model}.safetensors").symlink_to(SHARED / TRAINED[model])
    else:
        from safetensors.torch import save_file

        net = full_size_network(model)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / f"{model}.safetensors"))


def _inputs(work: Path, images: int, size: int, frames: int) -> tuple[Path, Path]:
    import av
    import cv2

    rng = np.random.default_rng(0)
    folder = work / "images"
    folder.mkdir()
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(images):
        img = np.stack([xx * 255 // size, yy * 255 // size, np.full_like(xx, 40 * (i % 6))], -1).astype(np.float32)
        img += rng.normal(0, 8, img.shape)
        cv2.imwrite(str(folder / f"img_{i:04d}.png"), np.clip(img, 0, 255).astype(np.uint8))
    clip = work / "clip.mp4"
    h, w = size * 3 // 4 // 2 * 2, size
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        v.codec_context.gop_size = 12
        for i in range(frames):
            img = np.stack([(xx[:h, :w] + 3 * i) % 256, yy[:h, :w] * 255 // h, np.full((h, w), 90)], -1)
            frame = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            frame.pts = i
            for p in v.encode(frame):
                c.mux(p)
        for p in v.encode(None):
            c.mux(p)
    return folder, clip


def _timed_batch(folder: Path, out: Path, opts: RestoreOptions, ray) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    marks: list[float] = []
    t0 = time.perf_counter()
    summary = restore_folder(folder, out, opts, executor=ray, on_item=lambda *_: marks.append(time.perf_counter()))
    wall = time.perf_counter() - t0
    n = summary.count("done")
    steady = (marks[-1] - marks[0]) / (n - 1) if n > 1 else float("nan")
    return {"items": n, "wall_s": wall, "per_s": n / wall, "start_s": marks[0] - t0, "steady_s_per_item": steady}


def _timed_video(clip: Path, out: Path, opts: RestoreOptions, video: VideoOptions, ray) -> dict:
    out.unlink(missing_ok=True)
    marks: list[tuple[float, float]] = []
    t0 = time.perf_counter()
    res = restore_video(clip, out, opts, video, executor=ray,
                        progress=lambda f, m: marks.append((time.perf_counter(), f)) if 0 < f < 0.995 else None)
    wall = time.perf_counter() - t0
    n = res.metrics["frames"]
    (t1, f1), (t2, f2) = marks[0], marks[-1]
    steady = (t2 - t1) / (n * (f2 - f1)) if f2 > f1 else float("nan")
    return {"items": n, "wall_s": wall, "per_s": n / wall, "start_s": t1 - t0, "steady_s_per_item": steady,
            "segments": res.metrics.get("cluster", {}).get("segments")}


def measure(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="scaling-bench-"))
    _models(work, args.model)
    folder, clip = _inputs(work, args.images, args.size, args.frames)
    opts = RestoreOptions(upscale=args.scale, model=args.model, colorize="off", denoise=0, sharpen=0,
                          device=args.device)
    video = VideoOptions(segment_seconds=args.segment_seconds)
    rows = []
    local_batch = _timed_batch(folder, work / "out_local", opts, None)
    local_video = _timed_video(clip, work / "local.mp4", opts, video, None)
    rows.append({"job": "batch", "workers": "local", **local_batch})
    rows.append({"job": "video", "workers": "local", **local_video})
    for n in args.workers:
        cluster = Cluster(address="local", workers=n, gpus_per_worker=args.gpus_per_worker,
                          cpus_per_worker=args.cpus_per_worker or max(1.0, (os.cpu_count() or 1) // n))
        _timed_batch(folder, work / "warm", opts, cluster) if n == args.workers[0] else None  # start Ray once
        rows.append({"job": "batch", "workers": n, **_timed_batch(folder, work / f"out_{n}", opts, cluster)})
        rows.append({"job": "video", "workers": n, **_timed_video(clip, work / f"v{n}.mp4", opts, video, cluster)})
    for job in ("batch", "video"):
        mine = [r for r in rows if r["job"] == job]
        one = next((r for r in mine if r["workers"] == 1), None)
        local = mine[0]
        for r in mine[1:]:
            r["speedup"] = r["per_s"] / one["per_s"] if one else None
            r["efficiency"] = r["speedup"] / r["workers"] if one else None
            r["ray_overhead_s_per_item"] = r["steady_s_per_item"] - local["steady_s_per_item"] \
                if r["workers"] == 1 else None
            r["ray_start_s"] = r["start_s"] - local["start_s"]
    shutil.rmtree(work, ignore_errors=True)
    import torch

    meta = {"device": "cuda " + torch.cuda.get_device_name(0) if torch.cuda.is_available() and args.device != "cpu"
            else f"CPU {platform.processor() or platform.machine()} ({os.cpu_count()} cores)",
            "model": args.model, "scale": args.scale, "images": args.images, "size": args.size,
            "frames": args.frames, "segment_seconds": args.segment_seconds,
            "gpus_per_worker": args.gpus_per_worker, "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    result = {"meta": meta, "rows": rows}
    if args.project:
        result["projection"] = project(rows, args.project)
    return result


def project(rows: list[dict], counts: list[int]) -> list[dict]:
    """Expected steady throughput for ``counts`` workers, each as fast as the one measured Ray
    worker (its steady time per item, job start left out), with all of Ray's overhead per item over
    the local path counted as serial, driver-side work that caps how far it scales (Amdahl): a
    pessimistic bound, since part of that overhead runs on the workers, in parallel."""
    out = []
    for job in ("batch", "video"):
        one = next((r for r in rows if r["job"] == job and r["workers"] == 1), None)
        if one is None:
            continue
        per_item = one["steady_s_per_item"]
        serial = max(0.0, one.get("ray_overhead_s_per_item") or 0.0)
        for n in counts:
            rate = n / (per_item - serial + n * serial) if per_item > 0 else float("nan")
            out.append({"job": job, "workers": n, "per_s": rate, "from": "projection, not measured"})
    return out


def table(result: dict) -> str:
    lines = ["| job | workers | items | wall s | items/s | speed-up | efficiency | start s | steady s/item | "
             "Ray overhead s/item |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        f = lambda k, fmt, r=r: format(r[k], fmt) if r.get(k) is not None else "–"  # noqa: E731
        lines.append(f"| {r['job']} | {r['workers']} | {r['items']} | {r['wall_s']:.1f} | {r['per_s']:.2f} | "
                     f"{f('speedup', '.2f')} | {f('efficiency', '.0%')} | {f('start_s', '.1f')} | "
                     f"{f('steady_s_per_item', '.3f')} | {f('ray_overhead_s_per_item', '.3f')} |")
    for p in result.get("projection", []):
        lines.append(f"| {p['job']} | {p['workers']} (projection) | – | – | {p['per_s']:.2f} | – | – | – | – | – |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated (default 1,2)")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--size", type=int, default=128, help="side of the batch pictures and video width, px")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--segment-seconds", type=float, default=0.5, help="video segment length (24 fps clip)")
    ap.add_argument("--model", default="realesr-animevideov3")
    ap.add_argument("--scale", type=float, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--gpus-per-worker", type=float, default=1.0)
    ap.add_argument("--cpus-per-worker", type=float, help="default: the machine's cores split between workers")
    ap.add_argument("--project", default="", help="worker counts to project to, e.g. 8,64")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    args.workers = [int(x) for x in args.workers.split(",") if x]
    args.project = [int(x) for x in args.project.split(",") if x]
    result = measure(args)
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
