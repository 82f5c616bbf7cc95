"""The GPU check stays runnable: its dry run (every part at small sizes, on the CPU) ends, writes each
part's results and prints the summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHON": sys.executable}  # this interpreter, not whatever python3 PATH finds


def test_the_gpu_check_dry_run_runs_every_part_and_sums_up(tmp_path):
    out = tmp_path / "out"
    run = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT, env=ENV)
    assert run.returncode == 0, run.stdout + run.stderr
    parts = {line.split("\t")[0]: line.split("\t")[1] for line in (out / "parts.tsv").read_text().splitlines()}
    assert {"env", "harness", "cuda-tests", "precision", "memory"} <= set(parts)
    assert all(v == "ok" for k, v in parts.items() if k != "peer"), parts
    assert json.loads((out / "run.json").read_text())["rows"][0]["psnr_ok"]
    networks = {r["network"] for r in json.loads((out / "precision.json").read_text())["rows"]}
    assert networks >= {"scunet", "restoreformer"}
    assert "cuda tests: tests 10" in run.stdout and "| how it ended |" in (out / "summary.txt").read_text()


def test_a_part_past_the_deadline_is_recorded_not_run(tmp_path):
    out = tmp_path / "out"
    subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(out), "--deadline",
                    "3"], capture_output=True, text=True, timeout=300, cwd=ROOT, env=ENV)
    lines = (out / "parts.tsv").read_text().splitlines()
    assert lines and all("not run (deadline)" in line for line in lines), lines
