"""What else makes the CPU path faster: each knob beside the default, in one run on the same cores.

Times ``restore_image`` (trained weights from ``../shared/weights`` or ``RESTORATION_BENCH_WEIGHTS``;
upscale 4, every other stage off, best of ``--reps``, variants interleaved) for:

- precision: ``auto`` (bf16 where the CPU computes it natively) against forced ``fp32``;
- ``torch.compile`` (``RESTORATION_COMPILE=1``, a C compiler needed): first call (compile included)
  and steady time;
- threads: all cores against one;
- tiles: the default (the image whole) against tiles of 64 and 128 px on a larger photo.

Prints a table with each variant's time relative to the default and its PSNR against the fp32 output,
and writes JSON with ``--json``. Example (this project's numbers are in README's Performance section):

    python benchmarks/cpu_tuning.py --json benchmarks/results/cpu-tuning.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = Path(os.environ.get("RESTORATION_BENCH_WEIGHTS") or ROOT.parent / "shared" / "weights")
FILES = {"realesrgan-x4plus": "RealESRGAN_x4plus.fp16.safetensors",
         "realesr-animevideov3": "realesr-animevideov3.fp16.safetensors"}


def _photo(size: int) -> np.ndarray:
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((size, size), Image.LANCZOS))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255**2 / mse)


def _variants(model: str, size: int) -> list[tuple[str, dict, dict]]:
    """(label, options, settings) for one model and size: the default first."""
    out = [("default (auto)", {}, {}), ("fp32 forced", {"precision": "fp32"}, {}),
           ("torch.compile", {}, {"RESTORATION_COMPILE": "1"}), ("1 thread", {}, {"threads": 1})]
    if size >= 192:
        out += [("tile 128", {"tile": 128}, {}), ("tile 64", {"tile": 64}, {})]
    return out


def _run(model: str, size: int, reps: int) -> list[dict]:
    import torch

    from restoration import build_options, restore_image

    rgb = _photo(size)
    cores = torch.get_num_threads()
    rows, outs, best, first = [], {}, {}, {}
    variants = _variants(model, size)

    def once(label: str, opts: dict, env: dict) -> float:
        os.environ.pop("RESTORATION_COMPILE", None)
        if "RESTORATION_COMPILE" in env:
            os.environ["RESTORATION_COMPILE"] = env["RESTORATION_COMPILE"]
        torch.set_num_threads(env.get("threads", cores))
        o = build_options(None, upscale=4, model=model, denoise=0, colorize="off", sharpen=0, face="off",
                          device="cpu", **opts)
        t = time.perf_counter()
        pixels = restore_image(rgb, o).image.pixels  # float in [0, 1]: compared as the 8-bit file would be
        outs[label] = (np.clip(pixels[..., :3], 0, 1) * 255).round().astype(np.uint8)
        return time.perf_counter() - t

    for label, opts, env in variants:  # first calls: loading, the precision check, compiling
        first[label] = once(label, opts, env)
    for _ in range(reps):
        for label, opts, env in variants:
            best[label] = min(best.get(label, float("inf")), once(label, opts, env))
    torch.set_num_threads(cores)
    os.environ.pop("RESTORATION_COMPILE", None)
    base = best[variants[0][0]]
    for label, _, _ in variants:
        rows.append({"model": model, "input": f"{size}x{size}", "variant": label, "ms": round(best[label] * 1e3, 1),
                     "first_call_ms": round(first[label] * 1e3, 1), "vs_default": round(base / best[label], 2),
                     "psnr_vs_fp32": round(_psnr(outs[label], outs["fp32 forced"]), 2)})
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cases", default="realesrgan-x4plus:96,realesr-animevideov3:192,realesr-animevideov3:384",
                    help="model:size,... (square photos)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as models:
        for model, name in FILES.items():
            if not (SHARED / name).is_file():
                ap.error(f"{SHARED / name}: trained weights needed (set RESTORATION_BENCH_WEIGHTS)")
            (Path(models) / f"{model}.safetensors").symlink_to(SHARED / name)
        os.environ["RESTORATION_MODELS_DIR"] = models
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("RESTORATION_COMPILE_CACHE", str(Path(models) / "compile"))
        rows = []
        for case in args.cases.split(","):
            model, size = case.split(":")
            rows += _run(model, int(size), args.reps)
    print("| model | input | variant | ms (steady) | first call ms | vs default | PSNR vs fp32 |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['input']} | {r['variant']} | {r['ms']} | {r['first_call_ms']} | "
              f"{r['vs_default']} | {r['psnr_vs_fp32']} dB |")
    import torch

    from restoration.accel import cpu_bf16

    result = {"date": date.today().isoformat(), "threads": torch.get_num_threads(), "cpu_bf16": cpu_bf16(),
              "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
