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


def _browser():
    """A started Playwright and the system Chromium, or a skip (a failure under RESTORATION_REQUIRE_BROWSER=1)."""
    _need(importlib.util.find_spec("playwright") is not None, "playwright is not installed")
    shot = _load_screenshot_script()
    chromium = shot.find_chromium()
    _need(chromium is not None, "no system Chromium")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=chromium, headless=True, args=shot.CHROMIUM_ARGS)


def _visible(page, label: str):
    return page.get_by_label(label, exact=True).filter(visible=True).first


def _menu(page, label: str) -> list[str]:
    """The choices the dropdown ``label`` lists when clicked."""
    _visible(page, label).click()
    options = page.locator("[role=listbox]:visible [role=option]")
    options.first.wait_for(timeout=10_000)
    names = [o.get_attribute("aria-label") for o in options.all()]
    page.keyboard.press("Escape")
    page.wait_for_timeout(200)
    return names


def _open(page, accordion: str) -> None:
    page.get_by_text(accordion, exact=True).filter(visible=True).first.click()
    page.wait_for_timeout(300)


def _type(page, label: str, value: str) -> None:
    """Type a value into a dropdown that takes typed values."""
    menu = _visible(page, label)
    menu.fill(value)
    menu.press("Enter")
    page.wait_for_timeout(200)


def test_each_model_menu_lists_its_own_models_in_the_page(server):
    """Opened in Chromium after the page has loaded (the load event refreshes the menus): Faces lists
    off and the face models, Denoiser nlm and the denoisers, Upscaler the upscalers, in every tab."""
    from restoration.server import catalogue

    want = {label: [name for name, _ in catalogue.menu_choices(task)]
            for label, task in (("Faces", "face-restoration"), ("Denoiser", "restoration"),
                                ("Upscaler", "super-resolution"))}
    assert want["Faces"][0] == "off" and want["Denoiser"][0] == "nlm"
    pw, browser = _browser()
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(server, wait_until="networkidle")
        for tab in ("Image", "Video", "Batch"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
            _open(page, "Faces")
            assert _menu(page, "Faces") == want["Faces"], tab
            _open(page, "Advanced settings")
            assert _menu(page, "Denoiser") == want["Denoiser"], tab
            assert _menu(page, "Upscaler") == want["Upscaler"], tab
            assert (_visible(page, "Format").count() == 1) == (tab != "Video")  # no image format for a video
    finally:
        browser.close()
        pw.stop()


def test_a_failure_stays_readable_in_every_tab(server, photo, tmp_path):
    """The corner's message closes by itself after 10 s; the tab's status line keeps the reason until
    the next run, in the Image, Video and Batch tabs."""
    from .test_video import make_clip

    Image.fromarray(photo).save(tmp_path / "a.png")
    clip = make_clip(tmp_path / "clip.mp4")
    pw, browser = _browser()
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(server, wait_until="networkidle")
        for tab, upload, button in (("Image", "#photo-in input[type=file]", "#restore"),
                                    ("Video", "#video-in input[type=file]", "#restore-video"),
                                    ("Batch", "#batch-in input[type=file]", "#restore-batch")):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
            page.locator(upload).set_input_files(str(clip if tab == "Video" else tmp_path / "a.png"))
            page.wait_for_timeout(1000)
            _open(page, "Advanced settings")
            _type(page, "Upscaler", "nope")
            page.locator(button).click()
            status = page.locator(f"#status-{tab.lower()}")
            status.get_by_text("The last run failed").wait_for(timeout=60_000)
            if tab == "Image":  # after the corner's message has gone, the reason is still there
                page.locator(".toast-body").first.wait_for(state="detached", timeout=20_000)
            text = status.inner_text()
            assert "Upscaler: model: unknown model 'nope'; known super-resolution models" in text, (tab, text)
            _type(page, "Upscaler", "realesr-general-x4v3")
            page.locator(button).click()  # the next run clears it
            status.get_by_text("The last run failed").wait_for(state="detached", timeout=10_000)
    finally:
        browser.close()
        pw.stop()


def _three_upscalers(tmp_path, tiny_models_dir, monkeypatch) -> None:
    """This server, from now on: three upscalers and nothing else (as offline with an operator's choice)."""
    folder = tmp_path / "three"
    folder.mkdir()
    for name in ("realesrgan-x4plus.safetensors", "realesr-animevideov3.safetensors", "RealESRGAN_x4plus_anime_6B.pth"):
        (folder / name).symlink_to((tiny_models_dir / name).resolve())
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))


def test_on_a_server_with_three_upscalers_every_menu_says_what_can_be_had_and_the_first_click_works(
        server, photo, tmp_path, tiny_models_dir, monkeypatch):
    """The page as a first visitor finds it on a server with only three upscalers: the Upscaler menu marks
    realesrgan-x2plus as not available here, the old-photo preset says what it does without (faces, colour)
    and the first Restore works."""
    _three_upscalers(tmp_path, tiny_models_dir, monkeypatch)
    Image.fromarray(photo).save(tmp_path / "a.png")
    pw, browser = _browser()
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(server, wait_until="networkidle")
        note = page.locator("#preset-note-image")
        note.get_by_text("faces off").wait_for(timeout=10_000)
        _open(page, "Advanced settings")
        menu = _menu(page, "Upscaler")
        assert "realesrgan-x2plus · not available here" in menu and "realesrgan-x4plus · on this server" in menu
        assert "ddcolor · not available here" in _menu(page, "Colorizer")
        page.locator("#photo-in input[type=file]").set_input_files(str(tmp_path / "a.png"))
        page.wait_for_timeout(800)
        page.locator("#restore").click()
        page.locator("#result img").first.wait_for(timeout=120_000)
        assert "failed" not in page.locator("#status-image").inner_text()
        page.screenshot(path=str(tmp_path / "first-click.png"), full_page=True)
    finally:
        browser.close()
        pw.stop()


def test_adding_and_removing_a_model_leaves_no_ghost_in_any_menu(server, tmp_path):
    """Add a model in the Models tab, see it by its file name in the menus, remove it: it is gone from every
    menu, and no stored (hash) name ever shows."""
    import re

    import torch
    from spandrel.architectures.Compact import Compact

    from .conftest import _save

    torch.manual_seed(3)
    _save(Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=4), tmp_path / "my-upscaler.safetensors")
    hashlike = re.compile(r"\b[0-9a-f]{16}\b")
    pw, browser = _browser()
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(server, wait_until="networkidle")
        page.get_by_role("tab", name="Models & About").click()
        page.locator("#model-in input[type=file]").set_input_files(str(tmp_path / "my-upscaler.safetensors"))
        page.wait_for_timeout(1000)
        page.locator("#add-model").click()
        page.locator("#models-said").get_by_text("Added my-upscaler.safetensors").wait_for(timeout=30_000)
        said = page.locator("#models-said").inner_text()
        assert "Upscaler" in said and "commercial use: unknown" in said and not hashlike.search(said)
        added = _menu(page, "Your added models")
        assert added == ["my-upscaler.safetensors"]
        page.get_by_role("tab", name="Image").click()
        page.wait_for_timeout(300)
        _open(page, "Advanced settings")
        upscalers = _menu(page, "Upscaler")
        assert any(u.startswith("my-upscaler.safetensors") for u in upscalers) and not hashlike.search(str(upscalers))
        page.get_by_role("tab", name="Models & About").click()
        _type(page, "Your added models", "my-upscaler.safetensors")
        page.locator("#remove-model").click()
        page.locator("#models-said").get_by_text("Removed my-upscaler.safetensors").wait_for(timeout=30_000)
        page.wait_for_timeout(800)
        for tab in ("Image", "Video", "Batch"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
            if tab != "Image":  # the Image tab's is still open
                _open(page, "Advanced settings")
            upscalers = _menu(page, "Upscaler")
            assert not any("my-upscaler" in u for u in upscalers) and not hashlike.search(str(upscalers)), tab
        page.get_by_role("tab", name="Models & About").click()
        page.locator("#added-models").click()
        page.wait_for_timeout(300)
        assert page.locator("[role=listbox]:visible [role=option]").count() == 0
        assert not hashlike.search(page.locator("#catalogue").inner_text())
    finally:
        browser.close()
        pw.stop()


def test_stop_says_stopped_and_leaves_no_result_on_show(server, tmp_path):
    """A video restored once, then a long one stopped half-way: the status line says it stopped and how far
    it got (not "failed"), and the first video is no longer on show as if it were this run's."""
    from .test_video import make_clip

    short = make_clip(tmp_path / "short.mp4", n=6)
    long = make_clip(tmp_path / "long.mp4", w=96, h=64, n=600, audio=False)
    pw, browser = _browser()
    try:
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.goto(server, wait_until="networkidle")
        page.get_by_role("tab", name="Video").click()
        _open(page, "Advanced settings")
        _type(page, "Upscaler", "realesr-general-x4v3")
        page.locator("#video-in input[type=file]").set_input_files(str(short))
        page.wait_for_timeout(1500)
        page.locator("#restore-video").click()
        page.locator("#video-out video").first.wait_for(timeout=120_000)
        page.locator("#video-summary").get_by_text("frames").wait_for(timeout=30_000)
        page.locator("#video-in button[aria-label='Clear']").first.click()
        page.locator("#video-in input[type=file]").set_input_files(str(long))
        page.wait_for_timeout(1500)
        page.locator("#restore-video").click()
        page.get_by_text("frame ").first.wait_for(timeout=60_000)  # it runs: frames are counted
        page.wait_for_timeout(1500)
        page.locator("#stop-video").click()
        status = page.locator("#status-video")
        status.get_by_text("Stopped").wait_for(timeout=30_000)
        page.wait_for_timeout(1500)
        text = status.inner_text()
        assert "Stopped at frame" in text and "failed" not in text, text
        assert page.locator("#video-out video").count() == 0  # the earlier run's video is gone
        assert "frames" not in page.locator("#video-summary").inner_text()
        page.screenshot(path=str(tmp_path / "stopped.png"), full_page=True)
    finally:
        browser.close()
        pw.stop()
