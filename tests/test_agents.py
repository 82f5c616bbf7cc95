"""The app as AI agents call it: the real ``mcp`` client SDK over streamable HTTP against the running
app (its MCP server at /gradio_api/mcp/), and the fetching of what agents name by URL."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from restoration import OptionError
from restoration.server import fetch

from .conftest import _free_port

ROOT = Path(__file__).resolve().parents[1]


def _mcp(url: str, *calls: tuple[str, dict]) -> tuple[list, list]:
    """(the tools listed, the result of each call), through the mcp SDK's streamable HTTP client."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def go():
        async with streamable_http_client(url) as (read, write, _), ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            return tools, [await session.call_tool(name, args) for name, args in calls]

    return asyncio.run(go())


def _png_data_url(w: int = 64, h: int = 64, seed: int = 0) -> str:
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _images(result) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(c.data))) for c in result.content if c.type == "image"]


def _text(result) -> str:
    return " ".join(c.text for c in result.content if c.type == "text")


@pytest.fixture(scope="module")
def mcp_url(server):
    return server.rstrip("/") + "/gradio_api/mcp/"


def test_agents_see_three_tools_described_for_them(mcp_url):
    tools, _ = _mcp(mcp_url)
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"restore_image", "restore_video", "list_models"}  # no batch, no UI events
    image = by_name["restore_image"]
    assert "super-resolution" in image.description and "Returns" in image.description
    props = image.inputSchema["properties"]
    assert list(props) == ["image", "upscale", "model", "denoise", "colorize", "face", "sharpen", "preset"]
    assert image.inputSchema["required"] == ["image"]
    assert all(len(p.get("description", "")) > 30 for p in props.values()), props  # every argument explained
    assert props["model"]["default"] == "auto" and props["face"]["default"] == "off"
    assert "base64" in props["image"]["description"] and "URL" in props["image"]["description"]
    assert set(by_name["restore_video"].inputSchema["properties"]) >= {"video", "upscale", "codec", "interpolate"}


def test_restore_image_gives_the_picture_back_as_an_image(mcp_url, tmp_path):
    _, [r] = _mcp(mcp_url, ("restore_image", {"image": _png_data_url(), "upscale": 4, "model": "realesrgan-x4plus",
                                               "face": "off", "preset": "none"}))
    assert not r.isError, _text(r)
    [img] = _images(r)
    assert img.size == (256, 256)
    text = _text(r)
    assert "64x64 -> 256x256" in text and "realesrgan-x4plus" in text
    assert "/tmp" not in text and "gradio_api/file=" not in text  # no server path, ever
    link = re.search(r"http://\S+/results/\S+\.png", text)[0]
    with urllib.request.urlopen(link) as got:  # the full-resolution file, by its request, not a path
        assert Image.open(io.BytesIO(got.read())).size == (256, 256)


def test_the_defaults_work_on_any_server(mcp_url):
    """Only the image given: the upscaler is the best this server has, faces and colour off."""
    gray = Image.fromarray(np.full((40, 40), 128, np.uint8))
    buf = io.BytesIO()
    gray.save(buf, "PNG")
    _, [r] = _mcp(mcp_url, ("restore_image", {"image": base64.b64encode(buf.getvalue()).decode()}))  # bare base64
    assert not r.isError, _text(r)
    assert _images(r)[0].size == (160, 160) and "x4 with realesrgan-x4plus" in _text(r)


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x.png", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::1]/x.png", "http://localhost/x.png", "http://10.0.0.1/x.png",
                                 "file:///etc/passwd"])
def test_urls_to_this_servers_own_network_are_refused(mcp_url, url):
    _, [r] = _mcp(mcp_url, ("restore_image", {"image": url}))
    assert r.isError
    assert re.search(r"refused|only http\(s\)", _text(r)), _text(r)


def test_an_agent_restores_a_short_video_and_gets_a_link(mcp_url, tmp_path):
    import av

    from .test_video import make_clip

    clip = make_clip(tmp_path / "c.mp4", n=12, fps=12)
    data = "data:video/mp4;base64," + base64.b64encode(clip.read_bytes()).decode()
    _, [r] = _mcp(mcp_url, ("restore_video", {"video": data, "upscale": 2, "model": "realesr-general-x4v3",
                                               "interpolate": 2}))
    assert not r.isError, _text(r)
    text = _text(r)
    assert "12 frames, 48x32 -> 96x64" in text and "24 frames at 24 fps (frame interpolation)" in text
    assert "/tmp" not in text
    link = re.search(r"http://\S+/results/\S+\.mp4", text)[0]
    (tmp_path / "out.mp4").write_bytes(urllib.request.urlopen(link).read())
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (96, 64) and c.streams.audio
        assert len(list(c.decode(video=0))) == 24


def test_list_models_says_what_this_server_has(mcp_url):
    _, [r] = _mcp(mcp_url, ("list_models", {}))
    text = _text(r)
    assert "| realesrgan-x4plus |" in text and "on this server" in text and "Apache-2.0" in text


def test_results_are_served_by_request_never_by_path(server):
    for bad in ("results/..%2F..%2Fetc/passwd", "results/abc/x.png", "results/" + "0" * 32 + "/x.png",
                "results/" + "0" * 32 + "/..%2Fx"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(server + bad)
        assert e.value.code == 404, bad


# --- fetching what agents name ------------------------------------------------------------------
def test_addresses_that_are_not_public_are_recognised():
    for private in ("127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                    "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1", "240.0.0.1"):
        assert not fetch.is_public(private), private
    for public in ("8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"):
        assert fetch.is_public(public), public


def test_base64_inputs_are_checked():
    png = base64.b64decode(_png_data_url(8, 8).split(",", 1)[1])
    got = fetch.read_input(_png_data_url(8, 8), "image", 1 << 20)
    assert got.data == png and got.name == "image.png"
    assert fetch.read_input(base64.b64encode(png).decode(), "image", 1 << 20).name == "image.png"
    for bad, why in (("", "give the image"), ("data:image/png;base64,!!!", "not valid base64"),
                     ("ftp://example.com/x.png", "only http"), ("data:image/png;base64,", "empty")):
        with pytest.raises(OptionError, match=why):
            fetch.read_input(bad, "image", 1 << 20)
    with pytest.raises(OptionError, match="more than 0 MB"):
        fetch.read_input(base64.b64encode(b"x" * 5000).decode(), "image", 4096)


class _Files(BaseHTTPRequestHandler):
    body = b""
    jump_to = ""

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/jump":
            self.send_response(302)
            self.send_header("Location", self.jump_to)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_url_is_fetched_and_each_redirect_is_checked_again(monkeypatch):
    """127.0.0.2 plays a public host (the check is told so); its redirect to 127.0.0.1 is refused
    before any connection, as a redirect to an intranet address would be."""
    _Files.body = base64.b64decode(_png_data_url(8, 8).split(",", 1)[1])
    srv, inner = HTTPServer(("127.0.0.2", 0), _Files), HTTPServer(("127.0.0.1", 0), _Files)
    for s in (srv, inner):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    _Files.jump_to = f"http://127.0.0.1:{inner.server_address[1]}/photo.png"
    monkeypatch.setattr(fetch, "is_public", lambda a: a == "127.0.0.2")
    try:
        port = srv.server_address[1]
        got = fetch.read_input(f"http://127.0.0.2:{port}/photo.png", "image", 1 << 20)
        assert got.data == _Files.body and got.name == "photo.png"
        with pytest.raises(OptionError, match="refused: 127.0.0.1"):
            fetch.read_input(f"http://127.0.0.2:{port}/jump", "image", 1 << 20)
        with pytest.raises(OptionError, match="more than this server's limit"):
            fetch.read_input(f"http://127.0.0.2:{port}/photo.png", "image", 16)
        monkeypatch.setenv("RESTORATION_FETCH_PRIVATE", "1")  # an intranet server's operator allows them
        assert fetch.read_input(f"http://127.0.0.2:{port}/jump", "image", 1 << 20).data == _Files.body
    finally:
        srv.shutdown()
        inner.shutdown()


# --- python app.py, as it starts by default -------------------------------------------------------
def _start(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env={**env, "GRADIO_SERVER_PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise AssertionError("the app did not start")


def test_python_app_py_serves_the_tools_by_default_and_a_setting_turns_them_off(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RESTORATION_MCP", "GRADIO_MCP"))}
    proc, url = _start(env)
    try:
        tools, [r] = _mcp(url + "/gradio_api/mcp/", ("restore_image", {
            "image": _png_data_url(), "upscale": 4, "model": "realesrgan-x4plus", "face": "off", "preset": "none"}))
        assert "restore_image" in {t.name for t in tools}
        assert [i.size for i in _images(r)] == [(256, 256)]
    finally:
        proc.terminate()
        proc.wait(30)
    proc, url = _start({**env, "RESTORATION_MCP": "0"})
    try:
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(url + "/gradio_api/mcp/schema")
        info = json.loads(urllib.request.urlopen(url + "/gradio_api/info").read())
        assert "/agent_restore_image" in info["named_endpoints"]  # still an endpoint for REST callers
    finally:
        proc.terminate()
        proc.wait(30)
