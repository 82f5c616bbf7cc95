"""The speed harness stays alive on the CPU: a quick run of two workloads, checked for its fields."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_harness_quick_cpu_run_reports_every_field(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop("run", None)
    import run

    out = tmp_path / "bench.json"
    result = run.main(["--quick", "--device", "cpu", "--only", "sr,denoise", "--models", "realesr-general-x4v3",
                       "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["meta"]["device"].startswith("CPU") and result["meta"]["quick"] is True
    sr, *den = result["rows"]
    assert sr["model"] == "realesr-general-x4v3" and sr["output"] == "384x256"
    assert sr["ms"] > 0 and sr["ref_fp32_ms"] > 0 and sr["tflops"] > 0 and sr["psnr_ok"]
    assert sr["ref_fp16_ms"] is None  # the fp16 reference runs on CUDA only
    assert [d["model"] for d in den] == ["nlm h=10", "nlm h=15"]
    for d in den:
        assert d["psnr_torch"] > d["psnr_noisy"] + 1 and d["psnr_torch"] >= d["psnr_opencv"] - 0.3
    assert "| sr | realesr-general-x4v3 | 96x64 |" in run.table(result["rows"])


def test_activation_memory_measures_under_the_planned_figure(tmp_path):
    import subprocess

    out = tmp_path / "mem.json"
    subprocess.run([sys.executable, str(BENCH / "activation_memory.py"), "--models", "realesr-animevideov3",
                    "--size", "96", "--json", str(out)], check=True, capture_output=True, timeout=120)
    (row,) = json.loads(out.read_text())["rows"]
    assert row["model"] == "realesr-animevideov3" and row["dtype_bytes"] == 4
    # The 64-channel feature maps of a 96x96 input are megabytes: the rise is real and measurable,
    # and the planner's figure (with its margin) covers it.
    assert 500 < row["bytes_per_px"] < row["planned_bytes_per_px"]
