"""What a newcomer meets first: the model menus, a missing model said before any work (in the
visitor's words in the app, the operator's elsewhere), progress that moves, honest metrics, a batch
that delivers what it finished, and plain REST calls that say what is wrong."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app
from client import ClientError, RestorationClient
from restoration import (
    OptionError,
    WeightsUnavailableError,
    build_options,
    build_video_options,
    restore_folder,
    restore_image,
    restore_video,
)
from restoration.metrics import resize_to, sharpness
from restoration.server import words

FAST = dict(preset="none", model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def without(tmp_path, tiny_models_dir, monkeypatch):
    """``without(*names)``: a models folder like the tests' own, less the files ``names``, made the
    one the library (and the app in this process) uses."""

    def make(*names: str) -> Path:
        folder = tmp_path / "models-less"
        folder.mkdir()
        for f in tiny_models_dir.iterdir():
            if f.name not in names:
                (folder / f.name).symlink_to(f.resolve())
        monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))
        return folder

    return make


def _stages_started(events: list[tuple[float, str]]) -> list[str]:
    return [m for _, m in events if not m.startswith("done")]


# --- the model menus -----------------------------------------------------------------------------
def test_each_model_menu_lists_its_own_kind_of_model():
    """The menus refreshed at every page load get the choices of the option they show (the lists of
    Faces and Denoiser were swapped)."""
    updates = app._refresh_menus(["model", "face", "denoise_model"], None)
    values = [[v for _, v in u["choices"]] for u in updates[:3]]
    assert values[0] == ["realesr-animevideov3", "realesr-general-x4v3", "realesrgan-x2plus", "realesrgan-x4plus",
                         "realesrgan-x4plus-anime"]
    assert values[1][0] == "off" and {"gfpgan-v1.4", "codeformer", "restoreformer"} <= set(values[1])
    assert values[2][0] == "nlm" and {"drunet-color", "scunet-real"} <= set(values[2])


def test_the_video_tab_shows_no_image_format_menu():
    demo = app.build_app()
    formats = [c for c in demo.blocks.values() if getattr(c, "label", None) == "Format"]
    assert [c.visible for c in formats] == [True, False, True]  # Image, Video, Batch


def test_an_unknown_upscaler_lists_only_upscalers():
    with pytest.raises(OptionError) as e:
        build_options(model="nope")
    assert "realesrgan-x4plus" in str(e.value) and "codeformer" not in str(e.value) and "ddcolor" not in str(e.value)
    with pytest.raises(OptionError, match="known face-restoration models: codeformer, gfpgan-v1.4, restoreformer"):
        build_options(face="nope")


# --- a missing model is said before any work -------------------------------------------------------
def test_a_missing_face_model_fails_before_any_stage(without, photo):
    without("gfpgan-v1.4.safetensors")
    events: list[tuple[float, str]] = []
    with pytest.raises(WeightsUnavailableError, match="gfpgan-v1.4 is not cached") as e:
        restore_image(photo, build_options("old-photo"), progress=lambda f, m: events.append((f, m)))
    assert (e.value.option, e.value.model) == ("face", "gfpgan-v1.4")
    assert _stages_started(events) == []  # not even the denoiser ran


@pytest.mark.parametrize("missing,option,given", [
    ("realesr-general-x4v3.safetensors", "model", dict(model="realesr-general-x4v3", upscale=2)),
    ("scunet-real.safetensors", "denoise_model", dict(upscale=0, denoise=10, denoise_model="scunet-real")),
    ("ddcolor.safetensors", "color_model", dict(upscale=0, colorize="on")),
    ("face_detection_yunet_2026may.onnx", "face", dict(upscale=0, face="restoreformer")),
])
def test_every_missing_model_is_named_with_its_option(without, photo, missing, option, given):
    without(missing)
    with pytest.raises(WeightsUnavailableError) as e:
        restore_image(photo, build_options(**{**FAST, "preset": None, **given}))
    assert e.value.option == option


def test_the_face_parser_is_checked_only_when_parse_masks_are_asked_for(without, photo):
    without("face-parsing")
    restore_image(photo, build_options(**{**FAST, "preset": None, "upscale": 0, "face": "restoreformer"}))
    with pytest.raises(WeightsUnavailableError) as e:
        restore_image(photo, build_options(**{**FAST, "preset": None, "upscale": 0, "face": "restoreformer",
                                              "face_mask": "parse"}))
    assert e.value.option == "face_mask"


def test_a_colour_picture_does_not_need_the_colorizer(without, photo, gray_photo):
    without("ddcolor.safetensors")
    opts = build_options(**{**FAST, "preset": None, "upscale": 0, "colorize": "auto", "sharpen": 0.5})
    assert restore_image(photo, opts).metrics["stages"] == ["sharpen"]
    with pytest.raises(WeightsUnavailableError):
        restore_image(gray_photo, opts)


def test_a_batch_with_a_missing_model_fails_before_the_first_file(without, photo, tmp_path):
    without("gfpgan-v1.4.safetensors")
    (tmp_path / "in").mkdir()
    for i in range(3):
        Image.fromarray(photo).save(tmp_path / "in" / f"{i}.png")
    seen: list = []
    with pytest.raises(WeightsUnavailableError):
        restore_folder(tmp_path / "in", tmp_path / "out", build_options("old-photo"), on_item=lambda *a: seen.append(a))
    assert seen == [] and not list((tmp_path / "out").rglob("*.png"))


def test_a_video_with_a_missing_model_fails_before_the_first_frame(without, tmp_path):
    from .test_video import make_clip

    without("gfpgan-v1.4.safetensors")
    src = make_clip(tmp_path / "clip.mp4")
    events: list[tuple[float, str]] = []
    with pytest.raises(WeightsUnavailableError) as e:
        restore_video(src, tmp_path / "out.mp4", build_options("old-photo"), build_video_options(),
                      progress=lambda f, m: events.append((f, m)))
    assert e.value.option == "face" and events == []
    assert not (tmp_path / ".out.mp4.parts").exists() and not (tmp_path / "out.mp4").exists()


def test_the_app_tells_the_visitor_what_to_do_and_the_log_tells_the_operator(server, without, photo, tmp_path,
                                                                              caplog):
    without("gfpgan-v1.4.safetensors", "restoreformer.safetensors")
    Image.fromarray(photo).save(tmp_path / "a.png")
    with caplog.at_level(logging.WARNING, logger="restoration"), RestorationClient(server) as c:
        with pytest.raises(ClientError) as e:  # named by the visitor: refused, with what to do
            c.restore_image(tmp_path / "a.png", preset="old-photo", face="gfpgan-v1.4")
        preset_only = c.restore_image(tmp_path / "a.png", preset="old-photo")  # the preset's: a stand-in, said
    assert str(e.value) == ("The face model gfpgan-v1.4 is not available on this server: set Faces to off to "
                            "restore without it.")
    assert "HF_HUB_OFFLINE" not in str(e.value)
    assert any("RESTORATION_MODELS_DIR" in r.getMessage() for r in caplog.records)  # the operator's detail
    assert "the face model gfpgan-v1.4 is not on this server: faces off" in preset_only.metrics["warnings"]
    assert "faces" not in preset_only.metrics["stages"]


def test_a_job_names_every_model_it_lacks_at_once(server, without, photo, tmp_path):
    without("gfpgan-v1.4.safetensors", "realesrgan-x2plus.pth")
    Image.fromarray(photo).save(tmp_path / "a.png")
    with RestorationClient(server) as c, pytest.raises(ClientError) as e:
        c.restore_image(tmp_path / "a.png", **{**FAST, "model": "realesrgan-x2plus", "face": "gfpgan-v1.4"})
    assert "The upscaler realesrgan-x2plus is not available" in str(e.value)
    assert "The face model gfpgan-v1.4 is not available" in str(e.value)


def test_the_command_line_keeps_the_operators_message(without, photo, tmp_path):
    folder = without("gfpgan-v1.4.safetensors")
    Image.fromarray(photo).save(tmp_path / "a.png")
    env = {**os.environ, "RESTORATION_MODELS_DIR": str(folder)}
    r = subprocess.run([sys.executable, "-m", "restoration", "image", str(tmp_path / "a.png"), "--preset",
                        "old-photo"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert r.returncode == 1
    assert "gfpgan-v1.4 is not cached" in r.stderr and "RESTORATION_MODELS_DIR" in r.stderr
    assert not (tmp_path / "a_restored.png").exists()


# --- progress, metrics, the record -----------------------------------------------------------------
def test_progress_moves_inside_one_network_call(photo):
    """A picture that is one tile: the bar moves with the network's own blocks, not only at the end."""
    events: list[tuple[float, str]] = []
    restore_image(photo, build_options(**{**FAST, "preset": None, "model": "realesrgan-x4plus", "upscale": 4}),
                  progress=lambda f, m: events.append((f, m)))
    inside = {f for f, m in events if m.startswith("superres") and 0 < f < 1}
    assert len(inside) >= 3, events


def test_a_batch_reports_progress_inside_its_first_file(photo, tmp_path):
    (tmp_path / "in").mkdir()
    for i in range(2):
        Image.fromarray(photo).save(tmp_path / "in" / f"{i}.png")
    events: list[tuple[float, str]] = []
    done: list[int] = []
    restore_folder(tmp_path / "in", tmp_path / "out", build_options(**{**FAST, "preset": None}),
                   on_item=lambda item, i, n: done.append(len(events)),
                   progress=lambda f, m: events.append((f, m)))
    before_first = events[: done[0]]
    assert any(m.startswith("1/2 0.png: superres") and 0 < f < 0.5 for f, m in before_first), before_first
    assert events[-1] == (1.0, "2/2 files")


def test_sharpness_compares_pictures_of_one_size(photo):
    res = restore_image(photo, build_options(**{**FAST, "preset": None, "upscale": 4}))
    big = resize_to(photo.astype(np.float32) / 255, (256, 192))
    assert res.metrics["sharpness_in"] == pytest.approx(sharpness(big))
    assert "resized to the result's size" in app.metrics_table(res.metrics)[1][0]


def test_an_added_models_file_name_is_in_the_output_files_record(server, tmp_path, tiny_models_dir, photo):
    import shutil

    shutil.copy(tiny_models_dir / "realesr-animevideov3.safetensors", tmp_path / "my-upscaler.safetensors")
    Image.fromarray(photo).save(tmp_path / "a.png")
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        name = c.add_model(tmp_path / "my-upscaler.safetensors")["name"]
        try:
            out = c.restore_image(tmp_path / "a.png", **{**FAST, "model": name, "upscale": 4})
        finally:
            c.remove_model(name)
    record = json.loads(Image.open(out.path).info["restoration"])
    assert name == "my-upscaler.safetensors" and record["models"] == {"superres": "my-upscaler.safetensors"}
    assert out.metrics["models"] == {"superres": "my-upscaler.safetensors"}  # the name it was added by, no hash


def test_the_catalogue_says_which_models_are_on_this_server(server):
    with RestorationClient(server) as c:
        available = {m["id"]: m["available"] for m in c.list_models()}
    assert available["realesrgan-x4plus"] == "on this server (models folder)"
    assert available["ddcolor-artistic"] == "not available on this server"  # offline, not in the folder


# --- batches ---------------------------------------------------------------------------------------
def test_a_batch_goes_on_past_a_picture_it_cannot_do(server, without, photo, gray_photo, tmp_path):
    """The colorizer is missing and only the second of three pictures is gray: the colour ones come back,
    the gray one is named in the report (on the page and in the zip) with why, and the batch goes on."""
    without("ddcolor.safetensors")
    for name, pic in (("a.png", photo), ("b.png", gray_photo), ("c.png", photo[::-1].copy())):
        Image.fromarray(pic).save(tmp_path / name)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_batch([tmp_path / n for n in ("a.png", "b.png", "c.png")],
                            **{**FAST, "colorize": "auto", "upscale": 1})
    assert [i["file"] for i in r.report["restored"]] == ["a.png", "c.png"] and "stopped" not in r.report
    [gray] = r.report["failed"]
    assert gray["file"] == "b.png" and "colorizer ddcolor is not available" in gray["error"]
    names = zipfile.ZipFile(r.archive).namelist()
    assert {"a.png", "c.png", "report.md", "report.csv"} <= set(names) and "b.png" not in names
    csv = zipfile.ZipFile(r.archive).read("report.csv").decode()
    assert "b.png,not done" in csv and words.batch_table(r.report)[2][:2] == ["b.png", "not done"]


# --- gradio's REST protocol ------------------------------------------------------------------------
def _rest(server: str, endpoint: str, data: list) -> tuple[str, object]:
    import httpx

    with httpx.Client(base_url=server, timeout=120) as h:
        event = h.post(f"gradio_api/call/{endpoint}", json={"data": data}).json()["event_id"]
        lines = h.get(f"gradio_api/call/{endpoint}/{event}").text.strip().splitlines()
    kind = next(line.split(": ", 1)[1] for line in reversed(lines) if line.startswith("event: "))
    payload = json.loads(next(line.split(": ", 1)[1] for line in reversed(lines) if line.startswith("data: ")))
    return kind, payload


def test_rest_calls_may_leave_options_out_and_get_reasons(server, tmp_path, photo):
    import httpx

    Image.fromarray(photo).save(tmp_path / "a.png")
    with httpx.Client(base_url=server, timeout=60) as h:
        uploaded = h.post("gradio_api/upload", files={"files": open(tmp_path / "a.png", "rb")}).json()[0]
    image = {"path": uploaded, "meta": {"_type": "gradio.FileData"}}
    kind, out = _rest(server, "restore_image", [image, "none", 2, "realesr-general-x4v3"])  # the rest left out
    assert kind == "complete" and out[2]["size_out"] == [128, 96]
    elsewhere = {"path": str(tmp_path / "a.png"), "meta": {"_type": "gradio.FileData"}}
    kind, out = _rest(server, "restore_image", [elsewhere])
    assert kind == "error" and "a.png: not a file uploaded to this server; upload it first" in out["error"]
    kind, out = _rest(server, "restore_image", [])
    assert kind == "error" and out["error"] == "No image given: upload one first."
    kind, out = _rest(server, "restore_image", [image, "none", "big"])
    assert kind == "error" and "expected a number from 0 to 8, got 'big'" in out["error"]


# --- comparing two upscalers -----------------------------------------------------------------------
def test_two_upscalers_compared_on_the_same_crop_through_the_client(server, without, photo, tmp_path):
    without("realesrgan-x2plus.pth")
    Image.fromarray(photo).save(tmp_path / "a.png")
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        cmp = c.compare_upscalers(tmp_path / "a.png", "realesrgan-x4plus", "realesr-general-x4v3", upscale=2)
        with pytest.raises(ClientError, match="choose an upscaler on each side"):
            c.compare_upscalers(tmp_path / "a.png", "realesrgan-x4plus", "")
        with pytest.raises(ClientError, match="not available on this server"):
            c.compare_upscalers(tmp_path / "a.png", "realesrgan-x4plus", "realesrgan-x2plus")
    left, right = Image.open(cmp.left), Image.open(cmp.right)
    assert left.size == right.size == (128, 96)  # the whole small photo, x2 on both sides
    assert np.abs(np.asarray(left, np.int16) - np.asarray(right, np.int16)).max() > 0  # two different models
    assert cmp.said.startswith("Left: realesrgan-x4plus: ") and " · right: realesr-general-x4v3: " in cmp.said
