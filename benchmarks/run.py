"""Speed harness: the library's own path against two reference paths, measured in the same run.

For each workload it reports the median wall time (after warm-up, CUDA-synchronised), images or frames
per second, achieved TFLOP/s (FLOPs counted with ``torch.utils.flop_counter``), peak GPU memory, and the
speed-up over (a) fp32, NCHW, eager, untiled (plain PyTorch) and (b) fp16, NCHW, eager, untiled (how
the upstream Real-ESRGAN script runs; CUDA only). The output of the library's path is compared with
reference (a): PSNR must stay above 45 dB (``psnr_ok``). Networks are full size; trained weights come
from ../shared/weights where present (x4plus, x4plus-anime, animevideov3), random weights otherwise
(same arithmetic, same time).

    python benchmarks/run.py                       # on the GPU: every workload at the issue's sizes
    python benchmarks/run.py --quick --device cpu  # small sizes, for CI and laptops
    python benchmarks/run.py --only sr,denoise --json bench.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sr_cpu import SHARED, TRAINED, full_size_network  # noqa: E402

from restoration import RestoreOptions, restore_tensor  # noqa: E402
from restoration.models import load_model  # noqa: E402

WORKLOADS = ("sr", "tiles", "denoise", "colorize", "pipeline", "large", "video")
PSNR_FLOOR = 45.0

# (model, input width, height) for the super-resolution table: the sizes, and the quick ones.
SR_FULL = [("realesrgan-x4plus", 512, 512), ("realesrgan-x4plus", 1024, 1024),
           ("realesrgan-x2plus", 1280, 720), ("realesr-general-x4v3", 1280, 720),
           ("realesr-animevideov3", 1280, 720), ("realesrgan-x4plus-anime", 512, 512)]
SR_QUICK = [("realesrgan-x4plus", 48, 48), ("realesrgan-x2plus", 48, 32), ("realesr-general-x4v3", 96, 64),
            ("realesr-animevideov3", 96, 64), ("realesrgan-x4plus-anime", 48, 48)]


# ------------------------------------------------------------------------------------------ helpers
def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn: Callable[[], Any], dev: torch.device, warmup: int, repeats: int) -> tuple[float, Any, float]:
    """Median seconds of ``repeats`` calls after ``warmup`` calls, the last result, and the first
    call's seconds (the cold start: cuDNN's algorithm search, and compiling with ``--compile``)."""
    out = None
    first = None
    for _ in range(warmup):
        t0 = time.perf_counter()
        out = fn()
        sync(dev)
        first = first if first is not None else time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        sync(dev)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out, first if first is not None else times[0]


@contextlib.contextmanager
def plain_cudnn():
    """cuDNN as a plain script leaves it (no algorithm search), for the reference paths."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


def reset_peak(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)


def peak_gb(dev: torch.device) -> float | None:
    return round(torch.cuda.max_memory_allocated(dev) / 2**30, 2) if dev.type == "cuda" else None


def host_peak_gb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.float().clamp(0, 1) - b.float().clamp(0, 1)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(1 / mse)


def count_flops(fn: Callable[[], Any]) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def prepare_models(folder: Path, ids: set[str]) -> dict[str, str]:
    """Weights for ``ids`` in ``folder``: trained where ../shared has them, full-size random otherwise."""
    from safetensors.torch import save_file

    kinds = {}
    for mid in sorted(ids):
        target = folder / f"{mid}.safetensors"
        if mid in TRAINED and (SHARED / TRAINED[mid]).is_file():
            target.symlink_to(SHARED / TRAINED[mid])
            kinds[mid] = "trained"
            continue
        net = full_size_network(mid) if mid.startswith("realesr") else _random_ddcolor(mid)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(target))
        kinds[mid] = "random"
    return kinds


def _random_ddcolor(mid: str) -> torch.nn.Module:
    from spandrel_extra_arches.architectures.DDColor import DDColor

    from restoration.catalog import get_spec

    spec = get_spec(mid)
    encoder = "convnext-t" if mid == "ddcolor-tiny" else "convnext-l"
    size = spec.input_size or 512
    m = DDColor(encoder_name=encoder, decoder_name="MultiScaleColorDecoder", input_size=(size, size),
                num_output_channels=2, last_norm="Weight", do_normalize=False, num_queries=100,
                num_scales=3, dec_layers=9)
    return m


def _fresh_fp32(loaded, dev: torch.device) -> torch.nn.Module:
    """The same network loaded again as plain PyTorch: fp32, NCHW, eager, on ``dev``."""
    from restoration.models import load_descriptor

    return load_descriptor(loaded.weights.path, loaded.spec).model.float().to(dev).eval()


def _row(name: str, **kw: Any) -> dict[str, Any]:
    return {"workload": name, **kw}


# ---------------------------------------------------------------------------------------- workloads
def bench_sr(args, dev: torch.device, kinds: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for mid, w, h in _sr_rows(args):
        loaded = load_model(mid, str(dev))
        x = torch.rand(1, 3, h, w, device=dev, generator=torch.Generator(dev).manual_seed(0))
        if kinds.get(mid) == "trained":  # a photo-like input (smooth shapes), not noise, for the PSNR
            x = torch.nn.functional.interpolate(x[:, :, ::8, ::8], size=(h, w), mode="bicubic").clamp(0, 1)
        ref32 = _fresh_fp32(loaded, dev)
        opts = RestoreOptions(upscale=loaded.scale, model=mid, colorize="off", denoise=0, sharpen=0,
                              device=str(dev))
        with torch.inference_mode():
            flops = count_flops(lambda m=ref32, t=x: m(t))
            with plain_cudnn():
                t32, out32, _ = timed(lambda m=ref32, t=x: m(t), dev, args.warmup, args.repeats)
                t16 = None
                if dev.type == "cuda":
                    ref16 = _fresh_fp32(loaded, dev).half()
                    x16 = x.half()
                    t16, _, _ = timed(lambda m=ref16, t=x16: m(t), dev, args.warmup, args.repeats)
                    del ref16
            del ref32
            reset_peak(dev)
            ours, out, cold = timed(lambda t=x, o=opts: restore_tensor(t, o)[0], dev, args.warmup, args.repeats)
        q = psnr(out, out32)
        rows.append(_row(
            "sr", model=mid, weights=kinds.get(mid, "?"), input=f"{w}x{h}", output=f"{out.shape[-1]}x{out.shape[-2]}",
            ms=round(ours * 1000, 1), per_s=round(1 / ours, 2), tflops=round(flops / ours / 1e12, 2),
            peak_gb=peak_gb(dev), ref_fp32_ms=round(t32 * 1000, 1),
            ref_fp16_ms=round(t16 * 1000, 1) if t16 else None,
            speedup_fp32=round(t32 / ours, 2), speedup_fp16=round(t16 / ours, 2) if t16 else None,
            precision=str(loaded.dtype).replace("torch.", ""), compiled=args.compile,
            first_call_s=round(cold, 2),
            psnr_vs_fp32=round(q, 2) if math.isfinite(q) else "identical", psnr_ok=q > PSNR_FLOOR,
        ))
        _print(rows[-1])
    return rows


def _sr_rows(args) -> list[tuple[str, int, int]]:
    rows = SR_QUICK if args.quick else SR_FULL
    return [r for r in rows if not args.models or r[0] in args.models.split(",")]


def bench_denoise(args, dev: torch.device, kinds: dict[str, str]) -> list[dict[str, Any]]:
    from restoration.stages.denoise import denoise

    w, h = (128, 96) if args.quick else (1280, 720)
    clean = _photo(w, h, dev)
    noisy = (clean + torch.randn(clean.shape, generator=torch.Generator("cpu").manual_seed(1)).to(dev) * 20 / 255)
    noisy = noisy.clamp(0, 1)
    rows = []
    for strength in (10, 15):
        t_cv, out_cv, _ = timed(lambda s=strength: denoise(noisy, s, method="opencv"), dev, 1, args.repeats)
        reset_peak(dev)
        t_t, out_t, _ = timed(lambda s=strength: denoise(noisy, s, method="torch"), dev, 1, args.repeats)
        rows.append(_row(
            "denoise", model=f"nlm h={strength}", input=f"{w}x{h}", ms=round(t_t * 1000, 1),
            per_s=round(1 / t_t, 2), peak_gb=peak_gb(dev), opencv_cpu_ms=round(t_cv * 1000, 1),
            speedup_opencv=round(t_cv / t_t, 2), psnr_noisy=round(psnr(noisy, clean), 2),
            psnr_torch=round(psnr(out_t, clean), 2), psnr_opencv=round(psnr(out_cv, clean), 2),
            cpu_threads=torch.get_num_threads(),
        ))
        _print(rows[-1])
    return rows


def bench_colorize(args, dev: torch.device, kinds: dict[str, str]) -> list[dict[str, Any]]:
    mid = "ddcolor-tiny" if args.quick else "ddcolor"
    batch = 2 if args.quick else 16
    loaded = load_model(mid, str(dev))
    size = loaded.spec.input_size or 512
    x = _photo(size, size, dev).repeat(batch, 1, 1, 1)
    opts = RestoreOptions(upscale=0, colorize="on", color_model=mid, denoise=0, sharpen=0, device=str(dev))
    one = _fresh_fp32(loaded, dev)
    gray = x[:1]
    with torch.inference_mode():
        flops = count_flops(lambda: one(gray)) * batch
        with plain_cudnn():
            t_ref, _, _ = timed(lambda: [one(x[i: i + 1]) for i in range(batch)], dev, 1, args.repeats)
        reset_peak(dev)
        t, _, _ = timed(lambda: restore_tensor(x, opts, monochrome=True)[0], dev, 1, args.repeats)
    row = _row("colorize", model=mid, weights=kinds.get(mid, "?"), input=f"{batch}x{size}x{size}",
               ms=round(t * 1000, 1), per_s=round(batch / t, 1), tflops=round(flops / t / 1e12, 2),
               peak_gb=peak_gb(dev), ref_fp32_ms=round(t_ref * 1000, 1), speedup_fp32=round(t_ref / t, 2),
               precision=str(loaded.dtype).replace("torch.", ""))
    _print(row)
    return [row]


def bench_pipeline(args, dev: torch.device, kinds: dict[str, str]) -> list[dict[str, Any]]:
    size = 64 if args.quick else 512
    sr = "realesr-general-x4v3" if args.quick else "realesrgan-x4plus"
    cm = "ddcolor-tiny" if args.quick else "ddcolor"
    x = _photo(size, size, dev).mean(1, keepdim=True).repeat(1, 3, 1, 1)  # a gray photo
    opts = RestoreOptions(denoise=10, upscale=4, model=sr, colorize="on", color_model=cm, sharpen=1.0,
                          device=str(dev))
    reset_peak(dev)
    t, (out, _, report), cold = timed(lambda: restore_tensor(x, opts), dev, 1, args.repeats)
    row = _row("pipeline", model=f"denoise+{sr}+{cm}+sharpen", input=f"{size}x{size}",
               output=f"{out.shape[-1]}x{out.shape[-2]}", ms=round(t * 1000, 1), per_s=round(1 / t, 2),
               peak_gb=peak_gb(dev), first_call_s=round(cold, 2),
               stages_ms={k: round(v * 1000, 1) for k, v in report.seconds.items()})
    _print(row)
    return [row]


def bench_tiles(args, dev: torch.device, kinds: dict[str, str]) -> list[dict[str, Any]]:
    """What the kept-core tiling costs: x4plus with 64, 128 and 512 px tiles (32 px of context) against
    the same image untiled, time and PSNR, in the same run."""
    size = 256 if args.quick else 1024
    x = _photo(size, size, dev)
    base = RestoreOptions(upscale=4, model="realesrgan-x4plus", colorize="off", denoise=0, sharpen=0,
                          device=str(dev))
    t_whole, (whole, _, _), _ = timed(lambda: restore_tensor(x, base.with_(tile=16384)), dev, args.warmup,
                                      args.repeats)
    rows = [_row("tiles", model="realesrgan-x4plus", input=f"{size}x{size}", tile="whole",
                 ms=round(t_whole * 1000, 1), cost_vs_whole=1.0)]
    _print(rows[-1])
    for tile in (64, 128, 512):
        opts = base.with_(tile=tile)
        t, (out, _, _), _ = timed(lambda o=opts: restore_tensor(x, o), dev, args.warmup, args.repeats)
        q = psnr(out, whole)
        rows.append(_row("tiles", model="realesrgan-x4plus", input=f"{size}x{size}", tile=tile,
                         ms=round(t * 1000, 1), cost_vs_whole=round(t / t_whole, 2),
                         psnr_vs_whole=round(q, 2) if math.isfinite(q) else "identical",
                         psnr_ok=q >= PSNR_FLOOR))
        _print(rows[-1])
    return rows


def bench_large(args, dev: torch.device, kinds: dict[str, str]) -> list[dict[str, Any]]:
    if args.quick:
        return []
    x = _photo(4000, 3000, torch.device("cpu"))
    opts = RestoreOptions(upscale=4, model="realesrgan-x4plus", colorize="off", denoise=0, sharpen=0,
                          device=str(dev))
    reset_peak(dev)
    t0 = time.perf_counter()
    out, _, report = restore_tensor(x, opts)
    sync(dev)
    t = time.perf_counter() - t0
    row = _row("large", model="realesrgan-x4plus", input="4000x3000", output=f"{out.shape[-1]}x{out.shape[-2]}",
               ms=round(t * 1000, 1), tile=report.tile, peak_gb=peak_gb(dev), host_peak_gb=host_peak_gb())
    _print(row)
    return [row]


def bench_video(args, dev: torch.device, kinds: dict[str, str]) -> list[dict[str, Any]]:
    from video_cpu import make_clip

    from restoration import restore_video
    from restoration.video import VideoOptions

    folder = Path(tempfile.mkdtemp())
    height, seconds = (72, 1.0) if args.quick else (720, 5.0)
    model = "realesr-animevideov3" if args.quick else "realesrgan-x2plus"
    src = make_clip(folder / "clip.mp4", seconds, height)
    opts = RestoreOptions(upscale=2, model=model, colorize="off", denoise=0, sharpen=0, device=str(dev))
    res = restore_video(src, folder / "out.mp4", opts, VideoOptions(batch=4 if args.quick else 8))
    m = res.metrics
    row = _row("video", model=model, input=f"{m['size_in'][0]}x{m['size_in'][1]}",
               output=f"{m['size_out'][0]}x{m['size_out'][1]}", frames=m["frames"],
               per_s=round(m["fps_processing"], 2), ms=round(1000 / max(m["fps_processing"], 1e-9), 1),
               audio_copied=m["audio_copied"], seconds_total=round(m["seconds_total"], 1))
    _print(row)
    return [row]


def _photo(w: int, h: int, dev: torch.device) -> torch.Tensor:
    """A deterministic photo-like picture: skimage's astronaut resized to (w, h)."""
    import cv2
    from skimage import data

    img = cv2.resize(data.astronaut(), (w, h), interpolation=cv2.INTER_AREA if w < 512 else cv2.INTER_CUBIC)
    return torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None].to(dev)


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def _print(row: dict[str, Any]) -> None:
    keys = ("workload", "model", "input", "tile", "ms", "per_s", "cost_vs_whole", "psnr_vs_whole",
            "tflops", "peak_gb", "speedup_fp32", "speedup_fp16",
            "psnr_vs_fp32", "psnr_torch", "psnr_opencv", "speedup_opencv")
    print("  ".join(f"{k}={row[k]}" for k in keys if row.get(k) is not None), flush=True)


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows (the README's performance table is made from it)."""
    cols = ["workload", "model", "input", "tile", "ms", "cost_vs_whole", "psnr_vs_whole", "per_s",
            "tflops", "peak_gb", "ref_fp32_ms", "ref_fp16_ms",
            "speedup_fp32", "speedup_fp16", "psnr_vs_fp32", "first_call_s", "opencv_cpu_ms", "psnr_torch",
            "psnr_opencv"]
    cols = [c for c in cols if any(r.get(c) is not None for r in rows)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join("" if r.get(c) is None else str(r[c]) for c in cols) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (CUDA when present), cuda, cuda:N or cpu")
    ap.add_argument("--quick", action="store_true", help="small sizes (CPU, CI)")
    ap.add_argument("--only", default=",".join(WORKLOADS), help=f"comma-separated subset of {','.join(WORKLOADS)}")
    ap.add_argument("--models", default="", help="comma-separated model ids: only these super-resolution rows")
    ap.add_argument("--warmup", type=int, default=None, help="calls before timing (default 3 on CUDA, 1 on CPU)")
    ap.add_argument("--repeats", type=int, default=None, help="timed calls (default 10 on CUDA, 1 on CPU)")
    ap.add_argument("--compile", action="store_true",
                    help="run the library path with RESTORATION_COMPILE=1 (torch.compile; first_call_s "
                         "then includes compiling, or reading the compile cache)")
    ap.add_argument("--json", type=Path, help="write the rows and the machine description here")
    args = ap.parse_args(argv)
    dev = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                       ("cpu" if args.device == "auto" else args.device))
    args.warmup = args.warmup if args.warmup is not None else (3 if dev.type == "cuda" else 1)
    args.repeats = args.repeats if args.repeats is not None else (10 if dev.type == "cuda" else 1)
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = sorted(set(only) - set(WORKLOADS))
    if unknown:
        ap.error(f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    torch.set_flush_denormal(True)  # random RRDB weights make subnormals, which x86 CPUs crawl through
    folder = Path(tempfile.mkdtemp(prefix="restoration-bench-"))
    os.environ["RESTORATION_MODELS_DIR"] = str(folder)
    os.environ["RESTORATION_COMPILE"] = "1" if args.compile else "0"
    needed = {m for m, _, _ in _sr_rows(args)} if "sr" in only else set()
    if "pipeline" in only:
        needed |= {"realesr-general-x4v3", "ddcolor-tiny"} if args.quick else {"realesrgan-x4plus", "ddcolor"}
    if "colorize" in only:
        needed |= {"ddcolor-tiny"} if args.quick else {"ddcolor"}
    if "large" in only or "tiles" in only:
        needed.add("realesrgan-x4plus")
    if "video" in only:
        needed.add("realesr-animevideov3" if args.quick else "realesrgan-x2plus")
    kinds = prepare_models(folder, needed)
    bench = {"sr": bench_sr, "tiles": bench_tiles, "denoise": bench_denoise, "colorize": bench_colorize,
             "pipeline": bench_pipeline, "large": bench_large, "video": bench_video}
    rows: list[dict[str, Any]] = []
    for name in only:
        rows.extend(bench[name](args, dev, kinds))
    meta = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({_cpu_name()})",
            "threads": torch.get_num_threads(), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
            "quick": args.quick, "compile": args.compile, "warmup": args.warmup, "repeats": args.repeats,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "command": "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    print()
    print(table(rows))
    result = {"meta": meta, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
