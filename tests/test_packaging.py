"""What ships: Space front matter, pinned requirements, pyproject entry points, Dockerfile lint."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from restoration.catalog import list_models

ROOT = Path(__file__).resolve().parents[1]


def _front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "README.md must start with the Space front matter"
    block = text[4:text.index("\n---\n", 4)]
    return yaml.safe_load(block)


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: {line!r} is not pinned with =="
            pins[re.sub(r"\[.*\]", "", name).lower().replace("_", "-")] = version
    return pins


def _zerogpu() -> dict:
    return tomllib.loads((ROOT / "docs" / "zerogpu-versions.toml").read_text())


def test_space_front_matter_is_valid_and_points_at_real_things():
    fm = _front_matter()
    assert fm["sdk"] == "gradio"
    assert fm["sdk_version"] == _pins()["gradio"]
    assert (ROOT / fm["app_file"]).is_file()
    assert set(fm["models"]) == {m.hub_repo for m in list_models()}
    for key in ("title", "emoji", "license", "suggested_hardware"):
        assert fm.get(key), key


def test_the_space_builds_on_zerogpu_and_every_target_runs_the_same_versions():
    """README's Python and requirements' torch are versions ZeroGPU runs (else the Space fails to build:
    "No candidate PyTorch version found for ZeroGPU"); Docker, pyenv (.python-version, what CI's
    python3 is) and pyproject name the same Python; the installed torch is the pinned one."""
    import sys

    import torch
    import torchvision

    platform, pins = _zerogpu(), _pins()
    python = str(_front_matter()["python_version"])
    assert python in platform["python"], f"README python_version {python} is not one ZeroGPU runs"
    assert pins["torch"] in platform["torch"], f"torch=={pins['torch']} is not one ZeroGPU runs"
    assert pins["torchvision"] == platform["torchvision"][pins["torch"]], "torchvision does not match torch"
    minor = ".".join(python.split(".")[:2])
    docker = re.search(r"^ARG PYTHON_VERSION=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M)
    assert docker and docker[1] == python
    assert (ROOT / ".python-version").read_text().strip() == minor
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert re.fullmatch(r">=3\.(\d+)", requires) and int(requires.split(".")[1]) <= int(minor.split(".")[1])
    assert torch.__version__.split("+")[0] == pins["torch"], "the tests do not run the pinned torch"
    assert torchvision.__version__.split("+")[0] == pins["torchvision"]
    assert sys.version_info >= (3, 11)


def test_the_versions_table_says_where_it_comes_from():
    platform = _zerogpu()
    assert platform["source"].startswith("https://huggingface.co/docs/hub/spaces-zerogpu")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", platform["as_of"])
    assert set(platform["torchvision"]) == set(platform["torch"])
    assert [s for s, v in platform["sizes"].items() if v["default"]] == ["large"]


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", text, re.M)}


def test_every_relative_link_in_readme_and_docs_leads_somewhere():
    """Files and pictures exist, and a link to #a-heading finds that heading in its page."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    checked = 0
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"^[a-z]+:", target):  # http(s):, mailto:
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            assert dest.exists(), f"{page.name}: {target}"
            if anchor:
                assert anchor in _anchors(dest), f"{page.name}: {target} (no such heading)"
            checked += 1
    assert checked > 30
    assert "PLACEHOLDER" not in (ROOT / "README.md").read_text()


def test_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    for page in ("app", "api", "agents", "cli", "video", "models", "deployment", "performance", "safety"):
        assert f"](docs/{page}.md)" in text, page
    assert "python app.py" in text and "python -m pytest -q" in text


def test_pyproject_gives_both_packages_and_the_command():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["scripts"]["restoration"] == "restoration.cli:main"
    packages = meta["tool"]["setuptools"]["packages"]
    found = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
             for p in ROOT.glob("*/**/__init__.py") if p.parts[len(ROOT.parts)] in ("restoration", "client")}
    assert found == set(packages)
    assert meta["tool"]["setuptools"]["dynamic"]["dependencies"]["file"] == ["requirements.txt"]


def test_every_runtime_dependency_is_imported_somewhere():
    import_names = {"opencv-python-headless": "cv2", "pillow": "PIL", "scikit-image": "skimage",
                    "huggingface-hub": "huggingface_hub", "gradio-client": "gradio_client",
                    "spandrel-extra-arches": "spandrel_extra_arches"}
    sources = "\n".join(p.read_text(encoding="utf-8") for p in
                        [*ROOT.glob("restoration/**/*.py"), *ROOT.glob("client/*.py"), ROOT / "app.py"])
    # pinned although only dependencies of spandrel: torchvision (must match torch)
    # and safetensors, which spandrel uses to read .safetensors weights
    transitive = {"torchvision", "safetensors"}
    for name in set(_pins()) - transitive:
        module = import_names.get(name, name.replace("-", "_"))
        assert re.search(rf"^\s*(import|from)\s+{module}\b", sources, re.M), f"{name} is never imported"


def test_dockerfile_passes_hadolint():
    exe = shutil.which("hadolint")
    if exe is None:
        pytest.skip("hadolint is not installed (pip install -r requirements-dev.txt)")
    run = subprocess.run([exe, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


def test_compose_file_matches_the_dockerfile():
    """docker-compose.yml serves the port the image exposes, keeps the model cache (the image's volume)
    on a named volume, reserves the GPU, and checks health like the image does; its cluster profile
    runs a Ray head, GPU workers and an app from the same image, sharing the models and job volumes."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    docker = (ROOT / "Dockerfile").read_text()
    exposed = re.search(r"^EXPOSE (\d+)", docker, re.M).group(1)
    volume = re.search(r'^VOLUME \["([^"]+)"\]', docker, re.M).group(1)
    assert re.search(rf"GRADIO_SERVER_PORT={exposed}\b", docker)
    services = compose["services"]
    apps = {"app", "app-cpu", "app-cluster"}
    assert set(services) == apps | {"ray-head", "ray-worker"} and services["app-cpu"]["profiles"] == ["cpu"]
    for name in apps:
        svc = services[name]
        assert svc["build"] == "." and f"7860:{exposed}" in svc["ports"], name
        assert "GRADIO_SERVER_PORT" in " ".join(svc["healthcheck"]["test"]), name  # the port the app serves
    for name, svc in services.items():
        assert svc["image"] == "restoration:latest", name  # one image for every role
        mounts = dict(v.split(":", 1) for v in svc["volumes"])
        assert volume in mounts.values(), name
        assert set(mounts) <= set(compose["volumes"]), f"{name}: volumes must be named, not host folders"
    for name in ("app", "ray-worker"):
        gpu = services[name]["deploy"]["resources"]["reservations"]["devices"][0]
        assert gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"], name
    assert "deploy" not in services["app-cpu"]
    # the cluster: the app joins the head; workers and app share the job folders it writes into
    head, worker, app = services["ray-head"], services["ray-worker"], services["app-cluster"]
    assert {head["profiles"][0], worker["profiles"][0], app["profiles"][0]} == {"cluster"}
    assert head["command"][:3] == ["ray", "start", "--head"] and "--port=6379" in head["command"]
    assert "--address=ray-head:6379" in worker["command"]
    env = app["environment"]
    assert env["RESTORATION_RAY_ADDRESS"] == "ray-head:6379"
    shared = [v.split(":", 1)[1] for v in worker["volumes"]]
    assert any(env["RESTORATION_OUTPUT_DIR"].startswith(m + "/") for m in shared)
    assert any(env["RESTORATION_MODELS_DIR"].startswith(m + "/") for m in shared)
    assert set(app["volumes"]) == set(worker["volumes"])
    # every environment variable set there is a real setting (or Ray's own)
    from restoration import config

    for svc in services.values():
        assert {k for k in svc.get("environment", {}) if not k.startswith("RAY_")} <= set(config.SETTINGS)
