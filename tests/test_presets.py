"""One rule on every surface: a preset first, then only the values the caller gave.

Through the real app on loopback (typed client, raw gradio_client, the client's command line) and the
library's command line: each preset gives its own scale, stages and model; an explicit value beats it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from client import RestorationClient
from restoration.options import PRESETS, RestoreOptions, build_options

from .test_video import make_clip

# What each preset runs on a colour picture (colorize "auto" leaves colour alone).
# On the clean test photo: the presets' denoise is "auto", which a clean picture does not need.
STAGES = {"old-photo": ["superres", "faces", "sharpen"], "digital": ["superres", "sharpen"],
          "video": ["superres", "sharpen"], "anime": ["superres"]}


@pytest.fixture()
def png(tmp_path: Path, photo) -> Path:
    p = tmp_path / "photo.png"
    Image.fromarray(photo).save(p)  # 64x48, colour
    return p


def test_the_builder_applies_only_the_values_given():
    digital = PRESETS["digital"]
    assert build_options("digital") == digital
    assert build_options("digital", upscale=None, sharpen=None) == digital  # None = not given
    mixed = build_options("digital", upscale=3, sharpen=0)
    assert (mixed.upscale, mixed.sharpen, mixed.denoise, mixed.model) == (3.0, 0.0, digital.denoise, digital.model)
    assert build_options(None, denoise=5) == RestoreOptions(denoise=5)
    assert build_options("none") == build_options("") == RestoreOptions()
    assert build_options("anime", upscale=2) == PRESETS["anime"].with_(upscale=2)


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_through_the_typed_client(server, png, tmp_path, preset):
    p = PRESETS[preset]
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(png, preset=preset)
    assert r.metrics["size_out"] == [round(64 * p.upscale), round(48 * p.upscale)]
    assert Image.open(r.path).size == (round(64 * p.upscale), round(48 * p.upscale))
    assert r.metrics["stages"] == STAGES[preset]
    assert r.metrics["models"]["superres"] == p.model


def test_an_explicit_value_beats_the_preset_through_the_client(server, png, tmp_path):
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(png, preset="digital", upscale=3, sharpen=0, model="realesr-general-x4v3")
    assert r.metrics["size_out"] == [192, 144]
    assert r.metrics["stages"] == ["superres"] and r.metrics["denoise_strength"] == 0  # auto: a clean photo
    assert r.metrics["models"]["superres"] == "realesr-general-x4v3"


def test_the_presets_denoise_what_is_noisy(server, photo, tmp_path):
    noisy = np.clip(photo + np.random.default_rng(0).normal(0, 20, photo.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(tmp_path / "noisy.png", preset="digital", sharpen=0)
    assert r.metrics["stages"] == ["denoise", "superres"] and 8 <= r.metrics["denoise_strength"] <= 20


def test_raw_gradio_client_leaving_options_out_gets_the_preset(server, png):
    from gradio_client import Client, handle_file

    c = Client(server, verbose=False)
    _, out, metrics, _ = c.predict(handle_file(str(png)), preset="digital", api_name="/restore_image")
    assert metrics["size_out"] == [128, 96] and metrics["models"]["superres"] == "realesrgan-x2plus"
    assert Image.open(out).format == "PNG"  # the app writes PNG when no format is given
    params = {p["parameter_name"]: p for p in
              c.view_api(return_format="dict", print_info=False)["named_endpoints"]["/restore_image"]["parameters"]}
    for name in ("upscale", "model", "denoise", "colorize", "color_model", "sharpen"):
        assert params[name]["parameter_has_default"] and params[name]["parameter_default"] is None, name


@pytest.mark.parametrize("preset", list(PRESETS))
def test_each_preset_through_the_video_endpoint(server, tmp_path, preset):
    p = PRESETS[preset]
    src = make_clip(tmp_path / "clip.mp4", w=48, h=32, n=4, audio=False)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_video(src, preset=preset)
    assert r.metrics["size_out"] == [round(48 * p.upscale), round(32 * p.upscale)]
    assert sorted(r.metrics["seconds"]) == sorted(STAGES[preset]) and r.metrics["frames"] == 4


def test_video_explicit_values_beat_the_preset(server, tmp_path):
    src = make_clip(tmp_path / "clip.mp4", w=48, h=32, n=4, audio=False)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_video(src, preset="video", upscale=1, denoise=0, codec="vp9")
    assert r.metrics["size_out"] == [48, 32] and r.path.suffix == ".webm"
    assert "denoise" not in r.metrics["seconds"] and "sharpen" in r.metrics["seconds"]


def test_client_command_line_sends_only_what_was_given(server, png, tmp_path, capsys):
    from client.__main__ import main as client_main

    out = tmp_path / "out.png"
    assert client_main([server, "image", str(png), "-o", str(out), "--preset", "digital", "--json"]) == 0
    import json

    metrics = json.loads(capsys.readouterr().out)
    assert metrics["size_out"] == [128, 96] and metrics["stages"] == STAGES["digital"]
    assert client_main([server, "image", str(png), "-o", str(out), "--preset", "anime", "--upscale", "2"]) == 0
    assert Image.open(out).size == (128, 96)


def test_library_command_line_preset_and_override(png, tmp_path, capsys):
    import json

    from restoration.cli import main

    out = tmp_path / "out.png"
    assert main(["image", str(png), "-o", str(out), "--preset", "digital", "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["size_out"] == [128, 96] and m["stages"] == STAGES["digital"]
    assert main(["image", str(png), "-o", str(out), "--preset", "digital", "--upscale", "1", "--denoise", "0",
                 "--json"]) == 0
    m = json.loads(capsys.readouterr().out)
    assert m["size_out"] == [64, 48] and m["stages"] == ["superres", "sharpen"]


def test_importing_the_client_leaves_torch_out(tmp_path):
    import subprocess
    import sys

    code = ("import sys, client, restoration, restoration.options, restoration.config\n"
            "heavy = [m for m in ('torch', 'numpy', 'spandrel', 'cv2', 'gradio') if m in sys.modules]\n"
            "assert not heavy, heavy\n"
            "assert restoration.__version__ and restoration.options.FIELDS['upscale'].hi == 8\n")
    root = Path(__file__).resolve().parents[1]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=120)


def _smooth_photo(h: int = 96, w: int = 128) -> np.ndarray:
    """Gradients, a wave and two flat shapes: a picture with no noise of its own."""
    import cv2

    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin(xx / 9) * np.cos(yy / 7)], -1).astype(np.float32)
    cv2.circle(img, (40, 50), 20, (0.9, 0.2, 0.1), -1)
    cv2.rectangle(img, (80, 20), (115, 70), (0.1, 0.3, 0.8), -1)
    return (img * 255).astype(np.uint8)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def test_auto_denoise_keeps_a_clean_photo_and_cleans_a_noisy_one(server, tmp_path):
    clean = _smooth_photo()
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 20, clean.shape), 0, 255).astype(np.uint8)
    Image.fromarray(clean).save(tmp_path / "clean.png")
    Image.fromarray(noisy).save(tmp_path / "noisy.png")
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        kept = c.restore_image(tmp_path / "clean.png", preset="none", denoise="auto", upscale=0)
        cleaned = c.restore_image(tmp_path / "noisy.png", preset="none", denoise="auto", upscale=0)
    assert kept.metrics["denoise_strength"] == 0 and _psnr(np.asarray(Image.open(kept.path)), clean) >= 40
    assert cleaned.metrics["denoise_strength"] > 0 and cleaned.metrics["stages"] == ["denoise"]
    before, after = _psnr(noisy, clean), _psnr(np.asarray(Image.open(cleaned.path).convert("RGB")), clean)
    assert after >= before + 3, (before, after)
