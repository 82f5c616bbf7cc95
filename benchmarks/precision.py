"""Half precision against fp32 for every face, denoise and colorization network, on one device.

Each network (full size, random weights: no trained file of these can be fetched on the project's
machines, and precision loss depends on the arithmetic as much as on the weights) runs once in fp32
and once in each half precision the device computes (fp16 and bf16 on CUDA; bf16 on a CPU), on the
same input (weights cast; DDColor, whose own code keeps fp32 tensors, under autocast); the row gives
the PSNR against fp32 (dB; -inf when the half-precision output is not finite, which is what the
library's fp16 fall-back catches) and the ms of each.

    python benchmarks/precision.py --json precision.json          # on the GPU: the real sizes
    python benchmarks/precision.py --dry-run --json p.json        # tiny networks on the CPU, seconds
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _networks(dry: bool) -> dict[str, tuple[torch.nn.Module, tuple[int, ...], dict]]:
    """name -> (network, input shape, keyword arguments of its call)."""
    sys.path.insert(0, str(ROOT))
    from tests import conftest as nets

    side = 64 if dry else 512
    found: dict[str, tuple[torch.nn.Module, tuple[int, ...], dict]] = {
        "restoreformer": (nets.make_restoreformer(), (1, 3, side, side), {}),
        "drunet (noise plane)": (nets.make_drunet(), (1, 4, side, side), {}),
        "scunet": (nets.make_scunet(), (1, 3, side, side), {}),
    }
    if dry:
        found["ddcolor (tiny)"] = (nets.make_ddcolor(), (1, 3, 64, 64), {})
    else:
        from spandrel.architectures.DRUNet import DRUNet
        from spandrel_extra_arches.architectures.DDColor import DDColor

        found["drunet (noise plane)"] = (DRUNet(in_nc=4, out_nc=3, nc=[64, 128, 256, 512], nb=4), (1, 4, 512, 512), {})
        found["ddcolor convnext-l"] = (DDColor(encoder_name="convnext-l", input_size=(512, 512)), (1, 3, 512, 512), {})
        found["gfpgan v1.4"] = (nets.make_gfpgan(), (1, 3, 512, 512), {"return_rgb": False, "randomize_noise": False})
        found["codeformer"] = (nets.make_codeformer(), (1, 3, 512, 512), {"weight": 0.5})
    return found


def _first(out: object) -> torch.Tensor:
    return out[0] if isinstance(out, (tuple, list)) else out  # GFPGAN and CodeFormer return (image, ...)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    if not bool(torch.isfinite(a).all()):
        return float("-inf")
    a, b = a.float().clamp(-1, 1), b.float().clamp(-1, 1)  # the networks' range is [0, 1] or [-1, 1]
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(4 / mse)  # peak-to-peak 2


def _timed(fn, device: torch.device) -> tuple[torch.Tensor, float]:
    with torch.inference_mode():
        fn()  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        out = _first(fn())
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    return out, (time.perf_counter() - t0) * 1000


def _compare(name: str, net: torch.nn.Module, shape: tuple[int, ...], kw: dict, device: torch.device,
             halves: list[torch.dtype]) -> list[dict]:
    x = torch.rand(*shape, generator=torch.Generator().manual_seed(0)).to(device)
    ref, ms32 = _timed(lambda: net(x, **kw), device)
    rows = []
    for dtype in halves:
        if name.startswith("ddcolor"):
            def run(dtype: torch.dtype = dtype) -> object:
                with torch.autocast(device.type, dtype=dtype):
                    return net(x, **kw)
        else:
            half = net.to(dtype)
            run = lambda half=half, dtype=dtype: half(x.to(dtype), **kw)  # noqa: E731
        out, ms = _timed(run, device)
        psnr = _psnr(out, ref)
        rows.append({"network": name, "dtype": str(dtype).replace("torch.", ""), "psnr_vs_fp32": psnr,
                     "ms": round(ms, 2), "ms_fp32": round(ms32, 2), "ok": psnr >= 45})
        print(rows[-1], flush=True)
    net.float()
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dry-run", action="store_true", help="tiny networks on the CPU (the test suite's check)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    device = torch.device("cpu" if args.dry_run else ("cuda" if args.device == "auto" and torch.cuda.is_available()
                                                      else args.device if args.device != "auto" else "cpu"))
    halves = [torch.float16, torch.bfloat16] if device.type == "cuda" else [torch.bfloat16]
    rows = []
    for name, (net, shape, kw) in _networks(args.dry_run).items():
        rows += _compare(name, net.to(device).eval(), shape, kw, device, halves)
    result = {"meta": {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
                       "torch": torch.__version__, "dry_run": args.dry_run}, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
