"""The app in headless Chromium: upload, press Restore, see the result (Playwright + system browser).

Skips where Playwright or Chromium is missing, unless RESTORATION_REQUIRE_BROWSER=1 (set by .ci/run,
which installs both), where their absence fails the test instead.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _load_screenshot_script():
    spec = importlib.util.spec_from_file_location("make_screenshot", ROOT / "docs" / "make_screenshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("RESTORATION_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{why} (RESTORATION_REQUIRE_BROWSER=1)")
        pytest.skip(why)


def test_upload_restore_and_see_the_result(server, photo, tmp_path):
    _need(importlib.util.find_spec("playwright") is not None, "playwright is not installed")
    shot = _load_screenshot_script()
    _need(shot.find_chromium() is not None, "no system Chromium")

    src = tmp_path / "upload.png"
    Image.fromarray(photo).save(src)
    out = tmp_path / "screenshot.png"
    shown = shot.capture(server, src, out, timeout_s=120)

    # The before/after slider shows two images served by the app, and the metrics table is filled in.
    assert len(shown["result_images"]) == 2
    assert all(s and "/file=" in s for s in shown["result_images"]), shown["result_images"]
    h, w = photo.shape[:2]
    assert f"{w}×{h}" in shown["metrics_text"] and f"{4 * w}×{4 * h}" in shown["metrics_text"]
    # The screenshot is a real, non-blank page capture.
    page = np.asarray(Image.open(out).convert("L"), dtype=np.float32)
    assert page.shape[0] >= 800 and page.shape[1] == 1440
    assert page.std() > 10
