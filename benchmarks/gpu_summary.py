"""The short summary at the end of ``benchmarks/gpu_check.sh``: how each part ended, and the figures
the GPU issue is held to, read from the part's own JSON and test report in the output folder.

    python benchmarks/gpu_summary.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def summary(out: Path) -> list[str]:
    lines = ["part | how it ended | seconds", "---|---|---"]
    status = out / "parts.tsv"
    for row in status.read_text().splitlines() if status.is_file() else []:
        lines.append(" | ".join(row.split("\t")))
    run = _json(out / "run.json") or {}
    device = (run.get("meta") or {}).get("device", "?")
    lines.append(f"\ndevice: {device}")
    for r in run.get("rows", []):
        if r.get("workload") == "sr":
            lines.append(f"sr {r.get('model')} {r.get('input')}->{r.get('output')}: {r.get('ms')} ms "
                         f"(fp32 reference {r.get('ref_fp32_ms')} ms), PSNR vs fp32 {r.get('psnr_vs_fp32')} dB, "
                         f"{'ok' if r.get('psnr_ok') else 'BELOW 45 dB'}")
        elif r.get("workload") == "video":
            lines.append(f"video {r.get('model')} {r.get('input')}->{r.get('output')}: {r.get('per_s')} fps end to end")
    for name in ("compile-cold", "compile-warm"):
        for r in (_json(out / f"{name}.json") or {}).get("rows", []):
            lines.append(f"{name} {r.get('model')}: first call {r.get('first_call_s')} s, then {r.get('ms')} ms")
    precision = (_json(out / "precision.json") or {}).get("rows", [])
    if precision:
        worst = min(precision, key=lambda r: r["psnr_vs_fp32"])
        lines.append(f"precision: {len(precision)} rows, lowest {worst['psnr_vs_fp32']:.1f} dB ({worst['network']} "
                     f"{worst['dtype']}); below 45 dB: {sum(1 for r in precision if not r['ok'])}")
    tests = out / "cuda-tests.xml"
    if tests.is_file():
        suite = ET.parse(tests).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        lines.append("cuda tests: " + ", ".join(f"{k} {suite.get(k)}" for k in ("tests", "failures", "errors",
                                                                                "skipped")))
    return lines


if __name__ == "__main__":
    print("\n".join(summary(Path(sys.argv[1]))))
