"""Docker and compose as people run them, checked without a container engine: the app stops cleanly on
SIGTERM, results are served from any output folder, no secret goes into the image, the health check
follows the port, compose needs no .env for the plain app, and the layers are ordered so an extra
Debian package costs only itself. (The image itself is built and run with podman by hand: README.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import yaml

from restoration import ConfigError, config

ROOT = Path(__file__).resolve().parents[1]
FAST = ["none", 2, "realesr-general-x4v3", 0, "off"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={**os.environ, **env, "GRADIO_SERVER_PORT": str(port)})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the app did not start:\n{proc.stdout.read()}")
            time.sleep(0.3)


def test_sigterm_stops_the_app_within_seconds_with_exit_0_and_no_half_written_result(tmp_path, tiny_models_dir):
    """As ``docker stop`` does: SIGTERM while a video job runs. The job stops, its parts are removed
    (a new request cannot resume them), no file is left under a final name, the visitor is told the
    server is shutting down, and the process exits 0."""
    from gradio_client import Client, handle_file

    from client.endpoints import OPTION_PARAMS

    from .test_video import make_clip

    out = tmp_path / "outputs"
    proc, url = _start_app({"RESTORATION_MODELS_DIR": str(tiny_models_dir), "HF_HUB_OFFLINE": "1",
                            "RESTORATION_OUTPUT_DIR": str(out)})
    try:
        src = make_clip(tmp_path / "long.mp4", w=96, h=64, n=480, audio=False)
        values = dict(zip(OPTION_PARAMS, FAST))
        job = Client(url, verbose=False).submit(handle_file(str(src)), *[values.get(k) for k in OPTION_PARAMS],
                                                "h264", 18, api_name="/restore_video")
        deadline = time.monotonic() + 60
        while not list(out.glob("*/.long_restored.mp4.parts/seg_*")):  # frames are being written
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.1)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stdout.read()
    assert code == 0, log
    assert took < 10, took
    assert "SIGTERM: stopped 1 running job(s)" in log
    assert not list(out.rglob("long_restored.mp4")) and not list(out.rglob("*.parts")), list(out.rglob("*"))
    with pytest.raises(Exception, match="the server is shutting down .*send it again in a minute"):
        job.result(timeout=10)  # the visitor is told why, and what to do


def test_results_are_served_from_an_output_folder_outside_tmp_and_the_app(tmp_path, tiny_models_dir, photo):
    """The cluster profile keeps results in /shared/outputs: Gradio must serve them from there."""
    from PIL import Image

    from client import RestorationClient

    out = Path.home() / ".cache" / f"restoration-test-outputs-{uuid.uuid4().hex[:8]}"
    Image.fromarray(photo).save(tmp_path / "a.png")
    proc, url = _start_app({"RESTORATION_MODELS_DIR": str(tiny_models_dir), "HF_HUB_OFFLINE": "1",
                            "RESTORATION_OUTPUT_DIR": str(out)})
    try:
        with RestorationClient(url, download_dir=tmp_path / "dl") as c:
            r = c.restore_image(tmp_path / "a.png", preset="none", upscale=2, model="realesr-general-x4v3",
                                colorize="off", denoise=0, sharpen=0)
        assert Image.open(r.path).size == (128, 96)
        assert list(out.glob("*/a_restored.png"))  # it was written there, and served from there
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        shutil.rmtree(out, ignore_errors=True)


def _dockerignore() -> list[str]:
    return [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def _docker_pattern(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: matched against the whole path from the context's
    root (a leading "/" changes nothing), "**" any number of folders, "*" and "?" within one name."""
    out, i, pat = "", 0, pattern.strip().lstrip("/")
    while i < len(pat):
        if pat.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pat.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out, i = out + {"*": "[^/]*", "?": "[^/]"}.get(pat[i], re.escape(pat[i])), i + 1
    return re.compile(out + r"\Z")


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context (its patterns, without exceptions): the
    path itself or a folder above it matches."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(_docker_pattern(pat).match(p) for pat in patterns for p in prefixes)


def test_the_pattern_reader_matches_as_docker_does():
    assert _ignored(".env", [".env"]) and not _ignored("examples/.env", [".env"])  # only at the top
    assert _ignored("examples/.env", ["**/.env"]) and _ignored(".env", ["**/.env"])
    assert _ignored("tests/fixtures/x.py", ["tests"]) and not _ignored("my-tests/x.py", ["tests"])
    assert _ignored("a/b/w.pth", ["**/*.pth"]) and not _ignored("a/b/w.pth", ["*.pth"])


def test_dockerignore_keeps_secrets_and_what_the_image_does_not_need_out():
    patterns = _dockerignore()
    for secret in (".env", ".env.local", ".env.cluster", "cluster.env", "examples/.env", "deploy/prod/.env.local",
                   "deploy/cluster.env"):
        assert _ignored(secret, patterns), secret
    for weights in ("weights/x.safetensors", "examples/models/net.pth", "a/b/c.ckpt", "restoration/x.onnx"):
        assert _ignored(weights, patterns), weights
    for unneeded in ("tests/test_app.py", "docs/app_screenshot.png", "benchmarks/run.py", ".git/HEAD", ".venv/x"):
        assert _ignored(unneeded, patterns), unneeded
    for needed in ("app.py", "restoration/pipeline.py", "client/api.py", "examples/astronaut_small.jpg",
                   "requirements.txt", "requirements-cluster.txt", "packages.txt", "README.md"):
        assert not _ignored(needed, patterns), needed


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _probes() -> dict[str, list[str]]:
    """The health check commands of the Dockerfile and of every compose service that has one."""
    docker = (ROOT / "Dockerfile").read_text()
    found = {"Dockerfile": json.loads(re.search(r"^\s*CMD (\[.*\])\s*$", docker.split("HEALTHCHECK", 1)[1],
                                                re.M).group(1))}
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name, svc in compose["services"].items():
        if "healthcheck" in svc and "python" in svc["healthcheck"]["test"]:
            found[name] = svc["healthcheck"]["test"][1:]  # after "CMD"
    return found


def test_the_healthcheck_probes_the_port_the_app_serves():
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port, dead = server.server_address[1], _free_port()
    try:
        probes = _probes()
        assert {"Dockerfile", "app", "app-cpu", "app-cluster"} <= set(probes)
        for where, cmd in probes.items():
            argv = [sys.executable, *cmd[1:]]
            ok = subprocess.run(argv, env={**os.environ, "GRADIO_SERVER_PORT": str(port)}, timeout=30)
            assert ok.returncode == 0, where
            down = subprocess.run(argv, env={**os.environ, "GRADIO_SERVER_PORT": str(dead)}, timeout=30,
                                  capture_output=True)
            assert down.returncode != 0, where  # nothing listens there: unhealthy, whatever 7860 holds
    finally:
        server.shutdown()


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation (``$VAR``, ``${VAR}``, ``${VAR:-x}``, ``${VAR-x}``,
    ``${VAR:?msg}``, ``${VAR?msg}``, ``$$`` for a dollar); a required variable that is missing raises."""

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group("braced") or m.group("plain"), m.group("op"), m.group("arg") or ""
        value = env.get(name)
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise ValueError(f"required variable {name} is missing: {arg}")
        if op in (":-", "-") and (value is None or (op == ":-" and value == "")):
            return arg
        return value or ""

    return re.sub(r"\$\$|\$\{(?P<braced>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<plain>\w+)", one, text)


def test_compose_needs_no_dotenv_and_only_cluster_services_ask_for_the_token():
    text = (ROOT / "docker-compose.yml").read_text()
    compose = yaml.safe_load(_interpolate(text, {}))  # no .env, no environment: it still reads
    services = compose["services"]
    assert services["app"]["environment"].get("RAY_AUTH_TOKEN") is None
    for name in ("ray-head", "ray-worker", "app-cluster"):
        svc = services[name]
        assert svc["environment"]["RAY_AUTH_TOKEN"] in (None, ""), name  # unset: the entrypoint refuses
        script = svc["entrypoint"][2]
        # the node refuses to start without the token, saying where it goes
        run = subprocess.run(["bash", "-c", script, "node", "true"], env={"PATH": os.environ["PATH"]},
                             capture_output=True, text=True)
        assert run.returncode == 2 and "RAY_AUTH_TOKEN" in run.stderr and ".env" in run.stderr, name
        run = subprocess.run(["bash", "-c", script, "node", "echo", "started"],
                             env={"PATH": os.environ["PATH"], "RAY_AUTH_TOKEN": "x"}, capture_output=True, text=True)
        assert run.returncode == 0 and run.stdout.strip() == "started", name
    # the cluster's app joins as a node of its own (no CPU, no GPU), then serves as PID 1's successor
    assert "ray start --address=ray-head:6379 --num-cpus=0 --num-gpus=0 && exec python app.py" in \
        services["app-cluster"]["command"][-1]


def test_the_documented_commands_start_what_they_say():
    docker = (ROOT / "Dockerfile").read_text()
    compose_text = (ROOT / "docker-compose.yml").read_text()
    for text in (docker, compose_text):
        for line in re.findall(r"docker compose --profile cluster up -d[^\n#]*", text):
            assert line.split("up -d", 1)[1].split() == ["ray-head", "ray-worker", "app-cluster"], line


def test_an_extra_debian_package_rebuilds_only_its_own_layer():
    docker = (ROOT / "Dockerfile").read_text()
    pip_layer = docker.index("pip install --no-cache-dir -r requirements.txt")
    assert docker.index("ARG EXTRA_PACKAGES") > pip_layer
    assert "$EXTRA_PACKAGES" not in docker[:pip_layer]
    assert re.search(r"NVIDIA driver, 5\d\d or newer", docker)  # what the pinned torch wheels need


@pytest.mark.parametrize("address", ["local", "auto", "ray-head:6379", "10.0.0.5:6379", "ray://head:10001",
                                     "ray://ray-head"])
def test_the_app_takes_every_ray_address_form(monkeypatch, address):
    monkeypatch.setenv("RESTORATION_RAY_ADDRESS", address)
    assert config.get("RESTORATION_RAY_ADDRESS") == address


@pytest.mark.parametrize("address", ["http://head:6379", "head", "ray://", "head:port"])
def test_a_ray_address_of_no_known_form_stops_the_app_at_its_start(monkeypatch, address):
    monkeypatch.setenv("RESTORATION_RAY_ADDRESS", address)
    with pytest.raises(ConfigError, match=r"RESTORATION_RAY_ADDRESS=.* expected local, auto, HEAD:6379 .* "
                                          r"ray://HEAD:10001"):
        config.check_all()


def test_ray_client_addresses_can_be_used_where_ray_is_installed():
    """``ray://`` needs Ray Client (grpcio): the cluster extra brings it."""
    pytest.importorskip("ray")
    import importlib

    importlib.import_module("ray.util.client.worker")
    assert "client" in (ROOT / "requirements-cluster.txt").read_text()
