"""Peak activation memory per input pixel of each super-resolution network (the figures behind
``restoration.arches.TRAITS``, from which the GPU tile size and frames per call are planned).

On the CPU: fp32, the rise of the process's peak resident memory (VmHWM, reset before each call)
during one call, each network in its own process. On CUDA: fp16 channels-last, the rise of
``torch.cuda.max_memory_allocated`` during one call; compare it with the planned figure, which is
half the fp32 table value plus 30 %.

    python benchmarks/activation_memory.py                  # CPU, 128x128 inputs
    python benchmarks/activation_memory.py --device cuda --size 512 --json mem.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_cpu import full_size_network  # noqa: E402

from restoration.tiling import bytes_per_pixel  # noqa: E402

MODELS = {"realesrgan-x4plus": ("ESRGAN", 4), "realesrgan-x2plus": ("ESRGAN", 2),
          "realesrgan-x4plus-anime": ("ESRGAN", 4), "realesr-general-x4v3": ("Compact", 4),
          "realesr-animevideov3": ("Compact", 4)}


def _vm(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def measure(model_id: str, size: int, device: str) -> dict:
    torch.set_flush_denormal(True)
    net = full_size_network(model_id).eval()
    x = torch.rand(1, 3, size, size)
    dev = torch.device(device)
    with torch.inference_mode():
        if dev.type == "cuda":
            net = net.half().to(dev, memory_format=torch.channels_last)
            x = x.half().to(dev).contiguous(memory_format=torch.channels_last)
            net(x[..., :64, :64])  # cuDNN initialised outside the measurement
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
            net(x)
            torch.cuda.synchronize(dev)
            peak = torch.cuda.max_memory_allocated(dev) - base
            dtype_bytes = 2
        else:
            base = _vm("VmRSS")
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current resident size
            net(x)
            peak = _vm("VmHWM") - base
            dtype_bytes = 4
    arch, scale = MODELS[model_id]
    return {"model": model_id, "device": device, "size": size, "dtype_bytes": dtype_bytes,
            "bytes_per_px": round(peak / (size * size)),
            "planned_bytes_per_px": round(bytes_per_pixel(arch, scale, dtype_bytes))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--json", type=Path)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure one model in this process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.size, args.device)))
        return
    rows = []
    for mid in args.models.split(","):
        # A fresh process per network: the allocator's pools from one do not hide the next one's peak.
        run = subprocess.run([sys.executable, __file__, "--one", mid, "--size", str(args.size),
                              "--device", args.device], capture_output=True, text=True, check=True)
        rows.append(json.loads(run.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{mid:26s} {r['bytes_per_px']:>7} B/px measured, {r['planned_bytes_per_px']:>7} planned "
              f"({args.device}, {args.size}x{args.size}, {r['dtype_bytes'] * 8}-bit)", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
