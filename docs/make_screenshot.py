"""Drive the app in headless Chromium: upload a photo, press Restore, wait for the result, screenshot.

The browser test (tests/test_browser.py) runs ``capture`` against the app with tiny random models;
the README's screenshot comes from this script with the real weights:

    RESTORATION_MODELS_DIR=/path/to/weights python docs/make_screenshot.py examples/astronaut_small.jpg

Uses the system Chromium (Debian package ``chromium``) through Playwright; no browser download.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--disable-extensions"]


def find_chromium() -> str | None:
    """The system Chromium: $CHROMIUM, else chromium / chromium-browser / google-chrome on PATH."""
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


def capture(url: str, image: str | Path, output: str | Path, *, timeout_s: float = 180, faces: bool = True) -> dict:
    """Upload ``image`` on the Image tab, restore it with the default preset, save a screenshot.

    ``faces=False`` turns the preset's face restoration off first (for machines without face weights).

    Returns what the page showed: the result's image sources and the metrics table's text.
    Raises if the result does not appear within ``timeout_s`` or the page shows an error.
    """
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("no Chromium found: install the Debian package 'chromium' or set $CHROMIUM")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(url, wait_until="networkidle")
            page.locator("#photo-in input[type=file]").set_input_files(str(image))
            page.locator("#photo-in img").first.wait_for(timeout=30_000)
            if not faces:
                page.get_by_text("Faces", exact=True).first.click()  # open the accordion
                menu = page.get_by_label("Faces").first  # the menu takes typed values: type the choice
                menu.fill("off")
                menu.press("Enter")
                page.get_by_text("Faces", exact=True).first.click()  # and close it again
                page.wait_for_timeout(300)
            page.locator("#restore").click()
            result = page.locator("#result img")
            try:
                result.first.wait_for(timeout=timeout_s * 1000)
            except Exception:  # noqa: BLE001 - any wait failure: keep what the page showed
                page.screenshot(path=str(output), full_page=True)
                toast = page.locator(".toast-body").all_inner_texts()
                raise RuntimeError(f"no result within {timeout_s:.0f} s; page says: {toast}") from None
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(500)  # let the slider images paint
            sources = [img.get_attribute("src") for img in result.all()]
            table = page.locator("#metrics").inner_text()
            page.screenshot(path=str(output), full_page=True)
            return {"result_images": sources, "metrics_text": table}
        finally:
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?", default=str(ROOT / "examples" / "astronaut_small.jpg"))
    parser.add_argument("-o", "--output", default=str(Path(__file__).with_name("app_screenshot.png")))
    parser.add_argument("--no-faces", dest="faces", action="store_false",
                        help="turn the preset's face restoration off (no face weights on this machine)")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = app.build_app()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        shown = capture(f"http://127.0.0.1:{port}/", args.image, args.output, faces=args.faces)
    finally:
        demo.close()
    print(shown["metrics_text"])
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
