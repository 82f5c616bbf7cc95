"""The real Gradio app on loopback, called through gradio_client and through client/ (no mocks)."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app
from client import ClientError, RestorationClient

FAST = dict(preset="none", model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0)


@pytest.fixture()
def png(tmp_path, photo) -> Path:
    p = tmp_path / "photo.png"
    Image.fromarray(photo).save(p)
    return p


def test_restore_image_through_gradio_client(server, png):
    from gradio_client import Client, handle_file

    c = Client(server, verbose=False)
    slider, out, metrics, faces = c.predict(handle_file(str(png)), "none", 2, "realesr-general-x4v3", 0, "off",
                                     "ddcolor", 0, "webp", api_name="/restore_image")
    assert Image.open(out).size == (128, 96) and Image.open(out).format == "WEBP"
    assert metrics["size_out"] == [128, 96] and metrics["stages"] == ["superres"]
    assert len(slider) == 2


def test_restore_image_through_the_typed_client(server, png, tmp_path):
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(png, upscale=3, output_format="png", **FAST)
        assert Image.open(r.path).size == (192, 144)
        assert r.metrics["models"] == {"superres": "realesr-general-x4v3"} and r.metrics["psnr"] > 0
        ids = [m["id"] for m in c.list_models()]
        assert "realesrgan-x4plus" in ids and "ddcolor" in ids


def test_errors_come_back_as_the_library_message(server, png, tmp_path):
    bad = tmp_path / "text.png"
    bad.write_text("not an image")
    with RestorationClient(server) as c:
        # Out-of-range widgets are refused by gradio's own checks, before the library sees them.
        with pytest.raises(ClientError, match="Denoise: denoise=99 is out of range: allowed 0 to 30"):
            c.restore_image(png, **{**FAST, "denoise": 99})
        with pytest.raises(ClientError, match="nope"):
            c.restore_image(png, **{**FAST, "model": "nope"})
        with pytest.raises(ClientError, match="text.png: not a readable image"):
            c.restore_image(bad, **FAST)
        with pytest.raises(ClientError, match="upscale=0.5 is not allowed"):
            c.restore_image(png, **{**FAST, "upscale": 0.5})
        # and the server still answers normally
        assert c.restore_image(png, upscale=1, **FAST).metrics["size_out"] == [64, 48]


def test_batch_with_images_and_a_zip(server, photo, tmp_path):
    Image.fromarray(photo).save(tmp_path / "a.png")
    Image.fromarray(photo[..., 0]).save(tmp_path / "b.jpg")
    with zipfile.ZipFile(tmp_path / "set.zip", "w") as zf:
        zf.write(tmp_path / "a.png", "inner/c.png")
        zf.writestr("inner/broken.png", b"nope")
        zf.writestr("../escape.png", (tmp_path / "a.png").read_bytes())
        zf.writestr("readme.txt", b"hello")
    with RestorationClient(server) as c:
        r = c.restore_batch([tmp_path / "a.png", tmp_path / "b.jpg", tmp_path / "set.zip"],
                            upscale=2, output_format="png", **FAST)
    restored = sorted(i["file"] for i in r.report["restored"])
    assert restored == ["a.png", "b.jpg", "set/escape.png", "set/inner/c.png"]
    assert [f["file"] for f in r.report["failed"]] == ["set/inner/broken.png"]
    assert any("readme.txt" in s for s in r.report["skipped"])
    with zipfile.ZipFile(r.archive) as zf:
        assert sorted(zf.namelist()) == ["a.png", "b.png", "report.csv", "report.json", "report.md", "set/escape.png",
                                         "set/inner/c.png"]
        table = zf.read("report.md").decode()  # a report people read, beside the pictures
        assert "4 restored, 1 not done, 1 skipped" in table and "| set/inner/broken.png | not done |" in table
    assert len(r.files) == 4


def test_concurrent_clients_each_get_their_own_result(server, photo, tmp_path):
    sizes = [(20 + 4 * i, 16 + 2 * i) for i in range(4)]
    results: dict[int, tuple[int, int]] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        w, h = sizes[i]
        p = tmp_path / f"in{i}.png"
        Image.fromarray(np.ascontiguousarray(photo[:h, :w])).save(p)
        try:
            with RestorationClient(server) as c:
                results[i] = Image.open(c.restore_image(p, upscale=2, **FAST).path).size
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert results == {i: (2 * w, 2 * h) for i, (w, h) in enumerate(sizes)}


def test_api_lists_only_the_public_endpoints(server):
    from gradio_client import Client

    info = Client(server, verbose=False).view_api(return_format="dict", print_info=False)
    names = set(info["named_endpoints"])
    assert {"/restore_image", "/restore_batch", "/list_models"} <= names
    assert not info.get("unnamed_endpoints")
    agents = {"/agent_restore_image", "/agent_restore_video", "/agent_list_models"}  # the MCP tools, also REST
    assert names == {"/restore_image", "/restore_batch", "/list_models", "/restore_video", "/add_model",
                     "/remove_model", "/compare_upscalers", "/preview_video", *agents}


@pytest.mark.parametrize("target", ["/etc/passwd", str(Path(app.__file__).resolve())])
def test_files_outside_the_outputs_are_not_served(server, target):
    url = f"{server}gradio_api/file={target}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            status, body = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, body = e.code, b""
    assert status in (403, 404) and b"root:" not in body and b"import gradio" not in body


def test_client_command_line(server, png, tmp_path, capsys):
    from client.__main__ import main as client_main

    out = tmp_path / "cli.png"
    code = client_main([server, "image", str(png), "-o", str(out), "--upscale", "2", "--preset", "none",
                        "--model", "realesr-general-x4v3", "--colorize", "off", "--denoise", "0",
                        "--sharpen", "0"])
    assert code == 0 and Image.open(out).size == (128, 96)
    assert "PSNR" in capsys.readouterr().out
    assert client_main([server, "image", str(tmp_path / "nope.png"), "-o", str(out)]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert client_main(["http://127.0.0.1:9/", "models"]) == 1
    assert "cannot connect" in capsys.readouterr().err


def test_restore_video_through_both_clients(server, tmp_path):
    from gradio_client import Client, handle_file

    from client.endpoints import OPTION_PARAMS

    from .test_video import audio_payload, make_clip

    src = make_clip(tmp_path / "clip.mp4", n=8)
    opts = {**dict.fromkeys(OPTION_PARAMS), **FAST, "upscale": 2}
    raw = Client(server, verbose=False).predict(
        handle_file(str(src)), *[opts.get(k) for k in OPTION_PARAMS], "h264", 20,
        api_name="/restore_video",
    )
    playable, download, metrics = raw
    assert metrics["frames"] == 8 and metrics["size_out"] == [96, 64]
    assert Path(download if isinstance(download, str) else download["path"]).suffix == ".mp4"

    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_video(src, **FAST, upscale=2, codec="ffv1")
        assert r.path.suffix == ".mkv" and r.path.is_file()
        assert r.metrics["frames"] == 8 and r.metrics["audio_copied"] == 1
        r2 = c.restore_video(src, **FAST, upscale=2)
        assert audio_payload(r2.path) == audio_payload(src)
        with pytest.raises(ClientError, match="CRF.*51"):
            c.restore_video(src, **FAST, crf=99)
        bad = tmp_path / "bad.mp4"
        bad.write_text("not a video")
        with pytest.raises(ClientError, match="bad.mp4"):
            c.restore_video(bad, **FAST)


def test_cancelled_video_job_stops_and_cleans_up(server, tmp_path):
    import threading
    import time

    from gradio_client import Client, handle_file

    from client.endpoints import OPTION_PARAMS

    from .test_video import make_clip

    src = make_clip(tmp_path / "long.mp4", w=96, h=64, n=240, audio=False)
    opts = {**dict.fromkeys(OPTION_PARAMS), **FAST, "upscale": 4, "denoise": 10}
    job = Client(server, verbose=False).submit(
        handle_file(str(src)), *[opts.get(k) for k in OPTION_PARAMS], "h264", 18,
        api_name="/restore_video",
    )
    deadline = time.monotonic() + 60
    while not any(t.name == "video-job" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    time.sleep(1.0)
    job.cancel()
    deadline = time.monotonic() + 60
    while any(t.name == "video-job" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the video work kept running after the cancel"
        time.sleep(0.2)
    assert not list(app.settings().output_root.glob("*/.long_restored.mp4.parts"))
    assert not list(app.settings().output_root.glob("*/long_restored.mp4"))


def test_batch_stops_with_one_message_on_a_corrupt_model_and_keeps_going_past_a_bad_image(
        server, monkeypatch, photo, tmp_path, tiny_models_dir):
    """The app's batch is the library's ``restore_folder``: a model that cannot load fails the whole
    request with one message (and leaves no job folder); a bad image is listed, the others come back."""
    Image.fromarray(photo).save(tmp_path / "a.png")
    Image.fromarray(photo).save(tmp_path / "b.png")
    (tmp_path / "bad.png").write_bytes(b"not an image")
    before = set(app.settings().output_root.iterdir())
    bad = tmp_path / "models"
    bad.mkdir()
    for f in tiny_models_dir.iterdir():
        (bad / f.name).symlink_to(f.resolve())
    (bad / "realesr-general-x4v3.safetensors").unlink()
    (bad / "realesr-general-x4v3.safetensors").write_bytes(b"\x00" * 64)
    files = [tmp_path / "a.png", tmp_path / "bad.png", tmp_path / "b.png"]
    with RestorationClient(server) as c:
        monkeypatch.setenv("RESTORATION_MODELS_DIR", str(bad))
        with pytest.raises(ClientError, match=r"realesr-general-x4v3\.safetensors could not be loaded"):
            c.restore_batch(files, upscale=2, **FAST)
        assert set(app.settings().output_root.iterdir()) == before  # nothing of the request is left
        monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tiny_models_dir))
        r = c.restore_batch(files, upscale=2, **FAST)
    assert sorted(i["file"] for i in r.report["restored"]) == ["a.png", "b.png"]
    assert [f["file"] for f in r.report["failed"]] == ["bad.png"] and "bad.png" in r.report["failed"][0]["error"]


def test_batch_keeps_two_uploads_with_the_same_name(server, photo, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    Image.fromarray(photo).save(tmp_path / "x" / "scan.png")
    Image.fromarray(photo[:32, :32]).save(tmp_path / "y" / "scan.png")
    with RestorationClient(server) as c:
        r = c.restore_batch([tmp_path / "x" / "scan.png", tmp_path / "y" / "scan.png"], upscale=1, **FAST)
    sizes = {i["file"]: i["size_out"] for i in r.report["restored"]}
    assert sizes == {"scan.png": [64, 48], "scan (2).png": [32, 32]}
