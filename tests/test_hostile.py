"""The hostile-input catalogue (tests/hostile.py) through all three surfaces: the library, the command
line and the running app (through the typed client, i.e. gradio_client over HTTP).

Each input gets a correct result or a one-line error naming the input and the problem; nothing is left
behind (no partial output, no unpacked temporary files, no job folder on the server for a refused
request); and the app answers a normal request right after each hostile one.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app
from client import ClientError, RestorationClient
from restoration import RestorationError, RestoreOptions, restore_archive, restore_file, restore_video
from restoration.cli import main as cli_main

from .hostile import BAD_OPTIONS, IMAGE_CASES, VIDEO_CASES, ZIP_CASES, Case, ZipCase

BASE = dict(model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0, upscale=2)
FLAGS = {"upscale": "--upscale", "model": "--model", "denoise": "--denoise", "colorize": "--colorize",
         "sharpen": "--sharpen", "color_model": "--color-model", "output_format": "--format"}


def _opts(case: Case | None = None) -> dict:
    return {**BASE, **(case.options if case else {})}


def _cli_flags(opts: dict) -> list[str]:
    return [a for k, v in opts.items() for a in (FLAGS[k], str(v))]


def _one_line_error(message: str, pattern: str) -> None:
    assert re.search(pattern, message), f"{message!r} does not match {pattern!r}"
    assert "\n" not in message.strip() and "Traceback" not in message, message


def _unpack_dirs() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(".restoration-unpack-*"))


def _job_dirs() -> set[Path]:
    return set(app.settings().output_root.iterdir()) if app.settings().output_root.exists() else set()


@pytest.fixture(autouse=True)
def _small_archive_cap(monkeypatch):
    monkeypatch.setenv("RESTORATION_MAX_ARCHIVE_MB", "16")  # the zip bomb expands to 64 MiB


@pytest.fixture()
def folders(tmp_path):
    src, out = tmp_path / "in", tmp_path / "deep" / "er" / "out"
    src.mkdir()
    out.mkdir(parents=True)
    return src, out


def _leftovers(out: Path, expected: set[str]) -> None:
    found = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert found == expected, f"files left in the output folder: {sorted(found)}"


# ------------------------------------------------------------------------------------------ images
def _through_library(case: Case, folders: tuple[Path, Path], run, filename: str) -> None:
    """``run(src, dst, options)`` on the case: the right result or error, and nothing else left."""
    src_dir, out = folders
    src, dst = case.build(src_dir), out / filename
    opts = RestoreOptions(**_opts(case))
    if case.error:
        with pytest.raises(RestorationError) as e:
            run(src, dst, opts)
        _one_line_error(str(e.value), case.error)
        _leftovers(out, set())
    else:
        case.check(dst, run(src, dst, opts).metrics)
        _leftovers(out, {filename})


def _through_command_line(case: Case, folders: tuple[Path, Path], capsys, command: str, filename: str):
    """``python -m restoration COMMAND`` on the case; returns (metrics, stderr) when it must work."""
    src_dir, out = folders
    src, dst = case.build(src_dir), out / filename
    code = cli_main([command, str(src), "-o", str(dst), "--json", *_cli_flags(_opts(case))])
    captured = capsys.readouterr()
    if case.error:
        assert code == 1
        _one_line_error(captured.err.strip().splitlines()[-1], "^error: " + case.error)
        _leftovers(out, set())
        return None, captured.err
    assert code == 0, captured.err
    metrics = json.loads(captured.out.strip().splitlines()[-1])
    case.check(dst, metrics)
    _leftovers(out, {filename})
    return metrics, captured.err


@pytest.mark.parametrize("case", IMAGE_CASES, ids=repr)
def test_image_library(case, folders):
    _through_library(case, folders, restore_file, "result.png")


@pytest.mark.parametrize("case", IMAGE_CASES, ids=repr)
def test_image_command_line(case, folders, capsys):
    metrics, err = _through_command_line(case, folders, capsys, "image", "result.png")
    for w in (metrics or {}).get("warnings", []):
        assert f"warning: {w}" in err


def _normal_request_works(c: RestorationClient, tmp_path: Path) -> None:
    p = tmp_path / "normal.png"
    Image.fromarray(np.full((12, 16, 3), 90, np.uint8)).save(p)
    r = c.restore_image(p, output_format="png", **BASE)
    assert Image.open(r.path).size == (32, 24)


@pytest.mark.parametrize("case", IMAGE_CASES, ids=repr)
def test_image_app(case, server, tmp_path):
    src = case.build(tmp_path)
    before = _job_dirs()
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        if case.error:
            with pytest.raises(ClientError) as e:
                c.restore_image(src, output_format="png", **_opts(case))
            _one_line_error(str(e.value), case.error)
            assert _job_dirs() == before, "a refused request left a folder on the server"
        else:
            r = c.restore_image(src, output_format="png", **_opts(case))
            case.check(r.path, r.metrics)
            assert len(_job_dirs() - before) == 1
        _normal_request_works(c, tmp_path)


# ----------------------------------------------------------------------------------------- options
def test_bad_options_library():
    for name, value, word in BAD_OPTIONS:
        with pytest.raises(RestorationError) as e:
            RestoreOptions(**{**BASE, name: value})
        _one_line_error(str(e.value), re.escape(word))


def test_bad_options_command_line(tmp_path, photo, capsys):
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    for name, value, word in BAD_OPTIONS:
        if isinstance(value, list):
            continue  # a shell argument is always a string
        argv = ["image", str(src), "-o", str(tmp_path / "o.png"), *_cli_flags({**BASE, name: value})]
        try:
            code = cli_main(argv)
        except SystemExit as e:  # argparse refuses what is not a number or not a choice
            code = e.code
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert code == 2, (name, value, err)
        assert word in err or FLAGS[name] in err, (name, value, err)
    assert not (tmp_path / "o.png").exists()


def _raw_call(http, server: str, endpoint: str, data: list) -> tuple[str, str]:
    """One call through gradio's plain HTTP API (JSON may carry NaN and Infinity, which
    gradio_client refuses to send): returns (event, message) of the last server-sent event."""
    r = http.post(f"{server}gradio_api/call{endpoint}", content=json.dumps({"data": data}),
                  headers={"content-type": "application/json"})
    r.raise_for_status()
    text = http.get(f"{server}gradio_api/call{endpoint}/{r.json()['event_id']}").text
    events = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("event: ")]
    datas = [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("data: ")]
    return events[-1], datas[-1]


def test_bad_options_app(server, png_file):
    import httpx

    from client.endpoints import OPTION_PARAMS

    labels = {"upscale": "Upscale", "denoise": "Denoise", "sharpen": "Sharpen", "model": "Upscaler",
              "color_model": "Colorizer", "colorize": "Colorize", "output_format": "Format"}
    with httpx.Client(timeout=60) as http:
        upload = http.post(f"{server}gradio_api/upload",
                           files={"files": (png_file.name, png_file.read_bytes(), "image/png")}).json()[0]
        image = {"path": upload, "meta": {"_type": "gradio.FileData"}}
        for name, value, _word in BAD_OPTIONS:
            opts = {"preset": "none", **BASE, "color_model": "ddcolor", "output_format": "png", name: value}
            event, data = _raw_call(http, server, "/restore_image", [image, *[opts.get(k) for k in OPTION_PARAMS]])
            assert event == "error", (name, value, event, data)
            message = json.loads(data)["error"]
            assert message.startswith(labels[name] + " ") or message.startswith(labels[name] + ":"), message
            assert "Traceback" not in message and "\n" not in message.strip(), message
        opts = {"preset": "none", **BASE, "color_model": "ddcolor", "output_format": "png"}
        event, data = _raw_call(http, server, "/restore_image", [image, *[opts.get(k) for k in OPTION_PARAMS]])
        assert event == "complete" and json.loads(data)[2]["size_out"] == [128, 96]


@pytest.fixture()
def png_file(tmp_path, photo) -> Path:
    p = tmp_path / "photo.png"
    Image.fromarray(photo).save(p)
    return p


# ------------------------------------------------------------------------------------------ videos
@pytest.mark.parametrize("case", VIDEO_CASES, ids=repr)
def test_video_library(case, folders):
    _through_library(case, folders, restore_video, "result.mp4")


@pytest.mark.parametrize("case", VIDEO_CASES, ids=repr)
def test_video_command_line(case, folders, capsys):
    metrics, err = _through_command_line(case, folders, capsys, "video", "result.mp4")
    for w in (metrics or {}).get("warnings", []):
        assert f"warning: {w}" in err


@pytest.mark.parametrize("case", VIDEO_CASES, ids=repr)
def test_video_app(case, server, tmp_path):
    src = case.build(tmp_path)
    before = _job_dirs()
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        if case.error:
            with pytest.raises(ClientError) as e:
                c.restore_video(src, **_opts(case))
            _one_line_error(str(e.value), case.error)
            assert _job_dirs() == before, "a refused request left a folder on the server"
        else:
            r = c.restore_video(src, **_opts(case))
            case.check(r.path, r.metrics)
        _normal_request_works(c, tmp_path)


# -------------------------------------------------------------------------------------------- zips
def _nothing_escaped(case: ZipCase, root: Path, inside: Path) -> None:
    for name in case.outside:
        if name.startswith("/"):
            assert not Path(name).exists(), f"{name} was written outside"
        else:
            stray = [p for p in root.rglob(name) if inside not in p.parents]
            assert not stray, f"written outside the output folder: {stray}"


@pytest.mark.parametrize("case", ZIP_CASES, ids=repr)
def test_zip_library(case, folders, tmp_path):
    src_dir, out = folders
    archive = case.build(src_dir)
    before = _unpack_dirs()
    opts = RestoreOptions(**BASE)
    if case.error:
        with pytest.raises(RestorationError) as e:
            restore_archive(archive, out, opts)
        _one_line_error(str(e.value), case.error)
        _leftovers(out, set())
    else:
        summary = restore_archive(archive, out, opts)
        done = sorted(Path(str(i.src).split(":", 1)[1]).as_posix() for i in summary.items if i.status == "done")
        assert done == sorted(case.restored) and summary.ok
        _leftovers(out, set(case.restored))
        assert all(str(i.src).startswith(archive.name + ":") for i in summary.items)
    _nothing_escaped(case, tmp_path, out)
    assert _unpack_dirs() == before, "unpacked files were left in the temporary folder"


@pytest.mark.parametrize("case", ZIP_CASES, ids=repr)
def test_zip_command_line(case, folders, tmp_path, capsys):
    src_dir, out = folders
    archive = case.build(src_dir)
    before = _unpack_dirs()
    code = cli_main(["batch", str(archive), "-o", str(out), *_cli_flags(BASE)])
    captured = capsys.readouterr()
    if case.error:
        assert code == 1
        _one_line_error(captured.err.strip().splitlines()[-1], "^error: " + case.error)
        _leftovers(out, set())
    else:
        assert code == 0, captured.err
        n = len(case.restored)
        assert captured.out.strip() == f"{n} files: {n} restored, 0 already done, 0 failed"
        _leftovers(out, set(case.restored))
    _nothing_escaped(case, tmp_path, out)
    assert _unpack_dirs() == before


@pytest.mark.parametrize("case", ZIP_CASES, ids=repr)
def test_zip_app(case, server, tmp_path):
    archive = case.build(tmp_path)
    before = _job_dirs()
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_batch([archive], output_format="png", **BASE)
        stem = archive.stem
        if case.error:
            assert r.archive is None and not r.report["restored"]
            [failed] = r.report["failed"]
            assert failed["file"] == archive.name
            _one_line_error(failed["error"], case.error)
            assert _job_dirs() == before, "a refused batch left a folder on the server"
        else:
            assert sorted(i["file"] for i in r.report["restored"]) == sorted(f"{stem}/{p}" for p in case.restored)
            assert not r.report["failed"]
        for name in case.outside:  # outputs live in OUTPUT_ROOT/<job>/restored/ and nowhere else
            if name.startswith("/"):
                assert not Path(name).exists()
            else:
                assert not (app.settings().output_root.parent / name).exists()
                assert all("restored" in p.relative_to(app.settings().output_root).parts
                           for p in app.settings().output_root.rglob(name))
        _normal_request_works(c, tmp_path)
