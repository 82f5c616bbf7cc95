"""Many visitors, one server: two ``RestorationClient``s (two sessions) against the real app, in each
``RESTORATION_USER_MODELS`` mode: what each sees, uses and may remove, what is refused, the room
visitors' files have, and what a restart keeps."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from client import ClientError, RestorationClient
from restoration import uploads

FAST = dict(preset="none", colorize="off", denoise=0, sharpen=0)


def _model(path: Path, feat: int = 8, seed: int = 0) -> Path:
    from spandrel.architectures.Compact import Compact

    from .conftest import _save

    torch.manual_seed(seed)
    _save(Compact(num_in_ch=3, num_out_ch=3, num_feat=feat, num_conv=4, upscale=4), path)
    return path


@pytest.fixture()
def visitors(server, tmp_path, monkeypatch, photo, tiny_models_dir):
    """Two visitors of the app, a models folder with an empty store of added models, and a photo."""
    folder = tmp_path / "models"
    folder.mkdir()
    for f in tiny_models_dir.iterdir():  # the weight files only: a store another test left there is not ours
        if f.is_file():
            (folder / f.name).symlink_to(f.resolve())
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))
    Image.fromarray(photo).save(tmp_path / "p.png")
    a = RestorationClient(server, download_dir=tmp_path / "a")
    b = RestorationClient(server, download_dir=tmp_path / "b")
    yield a, b
    a.close()
    b.close()


def _text(x: object) -> str:
    return json.dumps(x, default=str)


def _stored(file: str) -> str:
    """The name under which the server stores the added model a visitor knows as ``file`` (never shown)."""
    return {i["file"]: i["name"] for i in uploads.list_added()}[file]


def test_own_a_visitors_models_are_theirs_alone(visitors, tmp_path):
    a, b = visitors
    added = a.add_model(_model(tmp_path / "visitor_a_model.safetensors"))
    name, stored = added["name"], _stored("visitor_a_model.safetensors")
    assert name == added["file"] == "visitor_a_model.safetensors" and stored not in _text(added)  # no hash shown
    assert name in {m["id"] for m in a.list_models()} and stored not in _text(a.list_models())
    seen_by_b = b.list_models()
    assert name not in _text(seen_by_b) and "visitor_a_model" not in _text(seen_by_b)  # nor its name, nor its hash
    r = a.restore_image(tmp_path / "p.png", model=name, upscale=4, **FAST)
    assert r.metrics["size_out"] == [256, 192]
    with pytest.raises(ClientError) as used:  # B cannot use it: as unknown to B as a name that does not exist
        b.restore_image(tmp_path / "p.png", model=name, upscale=4, **FAST)
    with pytest.raises(ClientError) as nothing:
        b.restore_image(tmp_path / "p.png", model="0123456789abcdef.safetensors", upscale=4, **FAST)
    assert str(used.value).replace(name, "X") == str(nothing.value).replace("0123456789abcdef.safetensors", "X")
    with pytest.raises(ClientError, match="no added model of that name"):
        b.remove_model(name)
    assert name in {m["id"] for m in a.list_models()}  # still A's
    assert a.remove_model(name) == []
    assert not (uploads.store_dir() / stored).exists()


def test_own_the_same_file_added_by_two_visitors_is_each_ones_under_their_own_name(visitors, tmp_path):
    a, b = visitors
    path = _model(tmp_path / "mine.safetensors")
    (tmp_path / "other").mkdir()
    copy = tmp_path / "other" / "secret-name.safetensors"
    copy.write_bytes(path.read_bytes())
    name = a.add_model(path)["name"]
    assert b.add_model(copy)["name"] == "secret-name.safetensors" and name == "mine.safetensors"
    assert len(list(uploads.store_dir().glob("*.safetensors"))) == 1  # one file on disk
    stored = _stored("mine.safetensors")
    assert "secret-name" not in _text(a.list_models()) and "mine.safetensors" not in _text(b.list_models())
    b.remove_model("secret-name.safetensors")
    assert (uploads.store_dir() / stored).exists() and name in _text(a.list_models())  # A still has it


def test_off_adding_and_hub_files_are_refused(visitors, tmp_path, monkeypatch):
    a, _ = visitors
    monkeypatch.setenv("RESTORATION_USER_MODELS", "off")
    with pytest.raises(ClientError, match="Adding models is turned off on this server"):
        a.add_model(_model(tmp_path / "m.safetensors"))
    with pytest.raises(ClientError, match="models from the Hub are turned off on this server"):
        a.restore_image(tmp_path / "p.png", model="hf:someone/models/x4.safetensors", upscale=4, **FAST)
    assert uploads.list_added() == [] and uploads.total_bytes() == 0  # nothing was stored nor fetched


def test_shared_everyone_sees_uses_and_may_remove(visitors, tmp_path, monkeypatch):
    a, b = visitors
    monkeypatch.setenv("RESTORATION_USER_MODELS", "shared")
    name = a.add_model(_model(tmp_path / "team_model.safetensors"))["name"]
    assert "team_model.safetensors" in _text(b.list_models())
    assert b.restore_image(tmp_path / "p.png", model=name, upscale=4, **FAST).metrics["size_out"] == [256, 192]
    b.remove_model(name)
    assert name not in _text(a.list_models())


def test_the_room_is_kept_by_evicting_the_least_recently_used_never_one_in_use(visitors, server, tmp_path,
                                                                              monkeypatch):
    from gradio_client import Client, handle_file

    from client.endpoints import OPTION_PARAMS

    from .test_video import make_clip

    a, b = visitors
    monkeypatch.setenv("RESTORATION_USER_MODELS_MB", "1")
    files = [_model(tmp_path / f"m{i}.safetensors", feat=48, seed=i) for i in range(3)]
    assert 300_000 < files[0].stat().st_size < 500_000  # two fit in 1 MB, three do not
    raw = Client(server, verbose=False)  # a third visitor, whose job runs with the oldest file
    first_name = raw.predict(handle_file(str(files[0])), api_name="/add_model")["name"]
    first = _stored(first_name)
    second = _stored(b.add_model(files[1])["name"])
    opts = {**dict.fromkeys(OPTION_PARAMS), "preset": "none", "model": first_name, "upscale": 2, "colorize": "off",
            "denoise": 0, "sharpen": 0}
    job = raw.submit(handle_file(str(make_clip(tmp_path / "long.mp4", w=96, h=64, n=240, audio=False))),
                     *[opts[k] for k in OPTION_PARAMS], "h264", 18, api_name="/restore_video")
    deadline = time.monotonic() + 60
    while first not in uploads._in_use:  # the job has started with it
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    b.add_model(files[2])  # over the room: the oldest free file goes, not the one in use
    third = _stored("m2.safetensors")
    kept = {p.name for p in uploads.store_dir().glob("*.safetensors")}
    assert first in kept and third in kept and second not in kept, kept
    assert uploads.total_bytes() <= 1 << 20
    job.cancel()
    big = tmp_path / "big.safetensors"
    big.write_bytes(b"\0" * (2 << 20))
    with pytest.raises(ClientError, match="more than this server keeps for the models visitors bring"):
        a.add_model(big)


def test_a_hub_file_larger_than_the_room_is_refused_before_it_is_fetched(visitors, tmp_path, monkeypatch):
    import huggingface_hub

    a, _ = visitors
    fetched = []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("RESTORATION_USER_MODELS_MB", "1")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: fetched.append(a) or "/nowhere")
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata",
                        lambda url, token: type("M", (), {"size": 5 << 20})())
    with pytest.raises(ClientError, match=r"5 MB, more than this server keeps for the models visitors bring \(1 MB\); "
                                          "nothing was downloaded"):
        a.restore_image(tmp_path / "p.png", model="hf:someone/models/x4.safetensors", upscale=4, **FAST)
    assert fetched == []


def test_a_visitors_files_go_when_their_time_is_up(visitors, tmp_path, monkeypatch):
    a, _ = visitors
    monkeypatch.setenv("RESTORATION_OUTPUT_TTL", "1")
    name = a.add_model(_model(tmp_path / "short.safetensors"))["name"]
    stored = _stored(name)
    time.sleep(1.2)
    assert name not in _text(a.list_models())
    assert not (uploads.store_dir() / stored).exists()


@pytest.mark.parametrize("mode,kept", [("own", False), ("shared", True)])
def test_a_restart_keeps_shared_models_and_forgets_sessions_ones(visitors, tmp_path, monkeypatch, mode, kept):
    import app

    a, _ = visitors
    monkeypatch.setenv("RESTORATION_USER_MODELS", mode)
    stored = _stored(a.add_model(_model(tmp_path / "kept.safetensors"))["name"])
    app.build_app()  # what a restarted server does first
    assert (uploads.store_dir() / stored).exists() is kept
