"""Time each super-resolution model of the catalogue on one image, through the library's own path.

Networks are built at their real (full) size; trained weights from ../shared/weights are used where
present, random weights otherwise (the arithmetic, hence the time, is the same). Prints a table and
writes JSON.

    python benchmarks/sr_cpu.py --size 256 --repeats 1 --json sr_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from restoration import RestoreOptions, restore_tensor  # noqa: E402
from restoration.catalog import list_models  # noqa: E402

SHARED = Path(os.environ.get("RESTORATION_BENCH_WEIGHTS") or Path(__file__).resolve().parents[2] / "shared" / "weights")
TRAINED = {
    "realesrgan-x4plus": "RealESRGAN_x4plus.fp16.safetensors",
    "realesrgan-x4plus-anime": "RealESRGAN_x4plus_anime_6B.fp16.safetensors",
    "realesr-animevideov3": "realesr-animevideov3.fp16.safetensors",
}


def full_size_network(model_id: str) -> torch.nn.Module:
    from spandrel.architectures.Compact import Compact
    from spandrel.architectures.ESRGAN import ESRGAN

    return {
        "realesrgan-x4plus": lambda: ESRGAN(num_filters=64, num_blocks=23, scale=4),
        "realesrgan-x2plus": lambda: ESRGAN(in_nc=12, num_filters=64, num_blocks=23, scale=4, shuffle_factor=2),
        "realesrgan-x4plus-anime": lambda: ESRGAN(num_filters=64, num_blocks=6, scale=4),
        "realesr-general-x4v3": lambda: Compact(num_feat=64, num_conv=32, upscale=4),
        "realesr-animevideov3": lambda: Compact(num_feat=64, num_conv=16, upscale=4),
    }[model_id]()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--scale", type=float, default=4)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    # Random RRDB weights drive activations into subnormal floats, which x86 CPUs handle ~100x
    # slower; trained weights do not. Flushing them keeps random-weight timings representative.
    torch.set_flush_denormal(True)
    folder = Path(tempfile.mkdtemp())
    os.environ["RESTORATION_MODELS_DIR"] = str(folder)
    rows = []
    for spec in list_models("super-resolution"):
        if spec.id in TRAINED and (SHARED / TRAINED[spec.id]).is_file():
            (folder / f"{spec.id}.safetensors").symlink_to(SHARED / TRAINED[spec.id])
            weights = "trained"
        else:
            from safetensors.torch import save_file

            net = full_size_network(spec.id)
            save_file({k: v.contiguous() for k, v in net.state_dict().items()},
                      str(folder / f"{spec.id}.safetensors"))
            weights = "random"
        opts = RestoreOptions(upscale=args.scale, model=spec.id, colorize="off", device=args.device)
        x = torch.rand(1, 3, args.size, args.size)
        t0 = time.perf_counter()
        restore_tensor(x, opts)  # first call: load + warm-up
        first = time.perf_counter() - t0
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            restore_tensor(x, opts)
            times.append(time.perf_counter() - t0)
        times.sort()
        rows.append({"model": spec.id, "weights": weights, "input": f"{args.size}x{args.size}",
                     "scale": args.scale, "first_call_s": round(first, 2),
                     "median_s": round(times[len(times) // 2], 2)})
        print(f"{spec.id:26s} {weights:8s} first {first:7.2f} s   median {rows[-1]['median_s']:7.2f} s",
              flush=True)
    meta = {"device": args.device, "threads": torch.get_num_threads(), "cpu": platform.processor(),
            "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
