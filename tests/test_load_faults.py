"""Heavy load, injected faults and the app's security boundaries.

The load test runs ``python app.py`` in its own process (so its memory is the server's alone) and sends
many concurrent requests from several gradio_client clients over loopback. Fault tests inject what a
real deployment meets: CUDA out-of-memory inside the super-resolution stage, a corrupt weight file,
the Hub unreachable, a client that disconnects mid-job, a video job killed with SIGKILL.
"""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import app
from client import ClientError, RestorationClient
from restoration import RestoreOptions, restore_image
from restoration.models import LoadedModel

from .conftest import _free_port
from .test_video import frames_of, make_clip

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(preset="none", model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0)


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture()
def app_process(tiny_models_dir, tmp_path):
    """``python app.py`` on a loopback port, queue of 8, one job at a time; yields (url, pid)."""
    port = _free_port()
    env = {**os.environ, "RESTORATION_MODELS_DIR": str(tiny_models_dir), "HF_HUB_OFFLINE": "1",
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "RESTORATION_QUEUE_SIZE": "8",
           "RESTORATION_CONCURRENCY": "1", "RESTORATION_OUTPUT_DIR": str(tmp_path / "outputs"),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the app did not start in 120 s"
                time.sleep(0.3)
        yield url, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _request_image(folder: Path, i: int) -> tuple[Path, tuple[int, int], int]:
    """A flat picture whose size and grey level are unique to request ``i``."""
    w, h, level = 8 + i % 40, 6 + i % 7, (i * 37) % 251
    p = folder / f"req{i}.png"
    Image.fromarray(np.full((h, w, 3), level, np.uint8)).save(p)
    return p, (w, h), level


def test_load_many_clients_queue_full_and_memory_returns(app_process, tmp_path):
    from gradio_client import Client, handle_file

    from client.endpoints import OPTION_PARAMS

    url, pid = app_process
    clients = [Client(url, verbose=False) for _ in range(6)]

    def submit(c, i: int):
        path, size, level = _request_image(tmp_path, i)
        up = 0 if i % 2 else 2  # odd requests: no stage runs, so the pixels must come back exactly
        opts = {**dict.fromkeys(OPTION_PARAMS), **FAST, "upscale": up}
        job = c.submit(handle_file(str(path)), *[opts.get(k) for k in OPTION_PARAMS], api_name="/restore_image")
        return i, size, level, up, job

    def settle(jobs) -> tuple[int, int]:
        ok = full = 0
        for i, (w, h), level, up, job in jobs:
            try:
                _, out, metrics, _ = job.result(timeout=120)
            except Exception as e:  # noqa: BLE001 - only "queue full" is acceptable
                assert re.search(r"queue is full", str(e), re.I), f"request {i}: {e}"
                full += 1
                continue
            got = np.asarray(Image.open(out))
            expect = (2 * w, 2 * h) if up else (w, h)
            assert (got.shape[1], got.shape[0]) == expect, f"request {i} got another request's result"
            assert metrics["size_in"] == [w, h]
            if not up:
                assert (got == level).all(), f"request {i} got other pixels"
            ok += 1
        return ok, full

    try:
        # 1. a burst bigger than the queue: 24 requests at once into a queue of 8
        burst = [submit(c, k * 6 + n) for k in range(4) for n, c in enumerate(clients)]
        ok, full = settle(burst)
        assert ok + full == 24 and ok >= 8 and full >= 1, (ok, full)

        # 2. sustained: six clients, each sending 4 requests one after the other
        def sustained(first: int) -> tuple[int, int]:
            totals: list[tuple[int, int]] = []

            def one_client(n: int, c) -> None:
                for k in range(4):
                    totals.append(settle([submit(c, first + n * 4 + k)]))

            threads = [threading.Thread(target=one_client, args=(n, c)) for n, c in enumerate(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=300)
            return sum(t[0] for t in totals), sum(t[1] for t in totals)

        assert sustained(1000) == (24, 0)
        start = _rss_mb(pid)
        for r in range(3):
            assert sustained(2000 + 100 * r) == (24, 0)
        end = _rss_mb(pid)
        print(f"server RSS after warm-up {start:.0f} MB, after 72 more requests {end:.0f} MB")
        assert end - start < 64, f"server memory grew by {end - start:.0f} MB over 72 requests"
    finally:
        for c in clients:
            c.close()


# ------------------------------------------------------------------------------------------ faults
def _inject_oom(monkeypatch, limit: int, seen: list[int]) -> None:
    """The super-resolution network raises CUDA's out-of-memory error for inputs wider than ``limit``."""
    real = LoadedModel.__call__

    def picky(self, x):
        seen.append(x.shape[-1])
        if x.shape[-1] > limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected)")
        return real(self, x)

    monkeypatch.setattr(LoadedModel, "__call__", picky)


def test_out_of_memory_inside_the_stage_falls_back_to_smaller_tiles(monkeypatch, photo):
    opts = RestoreOptions(upscale=2, model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0)
    clean = restore_image(photo, opts).image.pixels
    seen: list[int] = []
    _inject_oom(monkeypatch, 40, seen)
    res = restore_image(photo, opts)
    assert seen[0] == 64 and min(seen) <= 40  # the whole image failed, then tiles that fit
    assert res.metrics["size_out"] == [128, 96]
    mse = float(np.mean((res.image.pixels - clean) ** 2))
    assert mse < 1e-6, "the tiled fallback changed the picture"


def test_out_of_memory_through_the_app_still_answers(server, monkeypatch, photo, tmp_path):
    real_call = LoadedModel.__call__
    seen: list[int] = []
    _inject_oom(monkeypatch, 40, seen)
    p = tmp_path / "p.png"
    Image.fromarray(photo).save(p)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(p, upscale=2, **FAST)
        assert Image.open(r.path).size == (128, 96) and min(seen) <= 40
        monkeypatch.setattr(LoadedModel, "__call__", real_call)
        _inject_oom(monkeypatch, 0, seen)  # now nothing fits, not even the smallest tile
        with pytest.raises(ClientError, match="out of GPU memory on a 64x48 image even with 32px tiles"):
            c.restore_image(p, upscale=2, **FAST)
        monkeypatch.setattr(LoadedModel, "__call__", real_call)
        assert Image.open(c.restore_image(p, upscale=2, **FAST).path).size == (128, 96)


def test_corrupt_weights_and_unreachable_hub_through_the_app(server, monkeypatch, photo, tmp_path,
                                                             tiny_models_dir):
    bad = tmp_path / "models"
    bad.mkdir()
    for f in tiny_models_dir.iterdir():
        (bad / f.name).symlink_to(f.resolve())
    (bad / "realesr-animevideov3.safetensors").unlink()
    (bad / "realesr-animevideov3.safetensors").write_bytes(b"\x00" * 64 + b"definitely not weights")
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(bad))
    p = tmp_path / "p.png"
    Image.fromarray(photo).save(p)
    with RestorationClient(server) as c:
        with pytest.raises(ClientError, match=r"realesr-animevideov3\.safetensors could not be loaded.*"
                                              r"Replace the file"):
            c.restore_image(p, upscale=2, **{**FAST, "model": "realesr-animevideov3"})
        (bad / "ddcolor-artistic.safetensors").unlink(missing_ok=True)
        with pytest.raises(ClientError, match=r"The colorizer ddcolor-artistic is not available on this server: set "
                                              "Colorize to off"):
            c.restore_image(p, upscale=0, **{**FAST, "colorize": "on", "color_model": "ddcolor-artistic"})
        assert Image.open(c.restore_image(p, upscale=2, **FAST).path).size == (128, 96)


def _video_job_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "video-job"]


@pytest.mark.parametrize("route", ["call", "queue"])
def test_client_that_disconnects_mid_job_stops_the_work(server, tmp_path, route):
    """Close the connection (no cancel message) while a long video job runs: the work stops (at once on the
    browser's route; on the plain HTTP route when gradio next looks at the connection, within about 10 s,
    as the job shows only its progress, which that route does not send)."""
    import httpx

    from client.endpoints import OPTION_PARAMS

    src = make_clip(tmp_path / "long.mp4", w=96, h=64, n=960, audio=False)
    api = server + "gradio_api"
    with httpx.Client(timeout=60) as http:
        up = http.post(f"{api}/upload", files={"files": ("long.mp4", src.read_bytes(), "video/mp4")}).json()[0]
        opts = {**dict.fromkeys(OPTION_PARAMS), "preset": "none", "upscale": 4, "model": "realesr-general-x4v3",
                "denoise": 10, "colorize": "off", "sharpen": 0}
        data = [{"path": up, "meta": {"_type": "gradio.FileData"}}, *[opts[k] for k in OPTION_PARAMS], "h264", 18]
        if route == "call":  # the plain HTTP API
            event = http.post(f"{api}/call/restore_video", json={"data": data}).json()["event_id"]
            stream = http.stream("GET", f"{api}/call/restore_video/{event}")
        else:  # the browser's route: join the queue, then listen
            config = http.get(f"{server}config").json()
            fn = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "restore_video")
            http.post(f"{api}/queue/join", json={"data": data, "fn_index": fn, "session_hash": "gone1234",
                                                 "event_data": None, "trigger_id": None}).raise_for_status()
            stream = http.stream("GET", f"{api}/queue/data?session_hash=gone1234")
        with stream as r:  # listen (on a thread: the stream may say nothing for a while), until the job runs
            threading.Thread(target=lambda: [None for _ in r.iter_lines()], daemon=True).start()
            deadline = time.monotonic() + 60
            while not _video_job_threads() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _video_job_threads(), "the job never started"
            time.sleep(0.5)
    # the connection is closed here
    deadline = time.monotonic() + 30
    while _video_job_threads():
        assert time.monotonic() < deadline, "the video work kept running after the client left"
        time.sleep(0.2)
    assert not list(app.settings().output_root.glob("*/long_restored.mp4"))
    assert not list(app.settings().output_root.glob("*/.long_restored.mp4.*"))


def test_video_job_killed_mid_way_resumes_and_never_leaves_a_truncated_file(tmp_path, tiny_models_dir):
    src = make_clip(tmp_path / "clip.mp4", w=64, h=48, n=96, fps=12)
    out = tmp_path / "clip_out.mp4"
    parts = tmp_path / ".clip_out.mp4.parts"
    args = ["video", str(src), "-o", str(out), "--upscale", "2", "--model", "realesr-general-x4v3",
            "--colorize", "off", "--denoise", "0", "--sharpen", "0", "--segment-seconds", "1", "--json"]
    env = {**os.environ, "RESTORATION_MODELS_DIR": str(tiny_models_dir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "restoration", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len([p for p in parts.glob("seg_*") if ".tmp" not in p.name]) < 2:
            assert proc.poll() is None, "the job ended before it could be killed; make the clip longer"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # no cleanup, no handler: like a crash or a power cut
    finally:
        proc.wait(timeout=30)
    assert not out.exists(), "a truncated file was left under the final name"
    done = sorted(p.name for p in parts.glob("seg_*") if ".tmp" not in p.name)
    assert len(done) >= 2

    import contextlib

    from restoration.cli import main as cli_main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli_main(args) == 0
    metrics = json.loads(buf.getvalue().strip().splitlines()[-1])
    assert metrics["resumed_from_frame"] >= 24 and metrics["frames"] == 96
    frames, times = frames_of(out)
    _, times_in = frames_of(src)
    assert len(frames) == 96 and times == pytest.approx(times_in, abs=1e-3)
    assert not parts.exists()


# ---------------------------------------------------------------------------------------- security
def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, b""


def test_file_routes_serve_only_the_apps_outputs(server, tmp_path, photo):
    secret = tmp_path / "secret.png"
    Image.fromarray(photo).save(secret)
    source = str(Path(app.__file__).resolve())
    targets = ["/etc/passwd", source, str(secret), f"{app.settings().output_root}/../{secret.name}",
               f"{app.settings().output_root}/../../etc/passwd", "../../../../etc/passwd"]
    for t in targets:
        for route in (f"gradio_api/file={t}", f"gradio_api/file={urllib.parse.quote(t, safe='')}",
                      f"file={t}"):
            status, body = _get(server + route)
            assert status in (403, 404), (route, status)
            assert b"root:" not in body and b"import gradio" not in body and b"\x89PNG" not in body
    # what a request produced is served (gradio hands it out from its own cache)
    import httpx

    from client.endpoints import OPTION_PARAMS

    from .test_hostile import _raw_call

    with httpx.Client(timeout=60) as http:
        up = http.post(f"{server}gradio_api/upload", files={"files": ("mine.png", secret.read_bytes())}).json()[0]
        opts = {**dict.fromkeys(OPTION_PARAMS), **FAST, "upscale": 2}
        event, data = _raw_call(http, server, "/restore_image",
                                [{"path": up, "meta": {"_type": "gradio.FileData"}},
                                 *[opts.get(k) for k in OPTION_PARAMS]])
        assert event == "complete"
        produced = json.loads(data)[1]
        status, body = _get(produced["url"])
        assert status == 200 and body.startswith(b"\x89PNG")
        assert Image.open(io.BytesIO(body)).size == (128, 96)


def test_upload_and_pixel_limits_hold(server, tmp_path, monkeypatch, photo):
    big = tmp_path / "big.png"  # over the test server's 5 MB upload cap: noise does not compress
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (1400, 1400, 3), np.uint8)).save(big)
    assert big.stat().st_size > 5 << 20
    with RestorationClient(server) as c:
        with pytest.raises(ClientError, match=r"big\.png exceeds the maximum file size of 5242880 bytes"):
            c.restore_image(big, upscale=2, **FAST)
        monkeypatch.setenv("RESTORATION_MAX_PIXELS", "2000")
        p = tmp_path / "p.png"
        Image.fromarray(photo).save(p)
        with pytest.raises(ClientError, match=r"p\.png: 64x48 is 3,072 pixels, over the limit of 2,000"):
            c.restore_image(p, upscale=2, **FAST)
        monkeypatch.setenv("RESTORATION_MAX_PIXELS", "10000")  # the input fits, the output would not
        with pytest.raises(ClientError, match=r"p\.png: 64x48 at x4 would be 256x192 = 49,152 pixels, over"):
            c.restore_image(p, upscale=4, **FAST)
        monkeypatch.delenv("RESTORATION_MAX_PIXELS")
        assert Image.open(c.restore_image(p, upscale=2, **FAST).path).size == (128, 96)


def test_no_shell_command_is_ever_built():
    """Nothing in the product runs a shell or a subprocess; user input can only reach libraries."""
    pattern = re.compile(r"\b(subprocess|os\.system|os\.popen|os\.exec\w*|os\.spawn\w*|shell\s*=\s*True|"
                         r"pickle\.loads?|(?<![.\w])eval\(|(?<![.\w])exec\()")
    sources = [ROOT / "app.py", *(ROOT / "restoration").rglob("*.py"), *(ROOT / "client").rglob("*.py")]
    hits = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in sources
            for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, hits
