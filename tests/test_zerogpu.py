"""The app on a ZeroGPU Space, against a stand-in of the platform's ``spaces`` package
(tests/fixtures/spaces: it evaluates each declared duration with the call's own arguments, refuses
above its maximum and the visitor's quota with the platform's words, and records every call)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from client import ClientError, RestorationClient
from restoration import RestoreOptions, build_options, restore_folder, restore_video, zerogpu
from restoration.cost import reference as estimate
from restoration.media import read_image
from restoration.video import VideoOptions

from .test_video import audio_payload, frames_of, make_clip

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FAST = dict(preset="none", model="realesr-general-x4v3", colorize="off", denoise=0, sharpen=0)


@pytest.fixture(scope="module")
def standin():
    """The stand-in ``spaces`` on the path, and ``restoration.zerogpu`` decorated with it (as on a
    Space, where the package is there before the app is imported); undone afterwards."""
    sys.path.insert(0, str(FIXTURES))
    sys.modules.pop("spaces", None)
    spaces = importlib.import_module("spaces")
    importlib.reload(zerogpu)
    yield spaces
    sys.path.remove(str(FIXTURES))
    sys.modules.pop("spaces", None)
    sys.modules.pop("spaces.config", None)
    importlib.reload(zerogpu)


@pytest.fixture()
def zero(standin, monkeypatch):
    """This process on ZeroGPU, a new visitor, calls of at most 30 s."""
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setenv("RESTORATION_GPU_MAX_S", "30")
    standin.reset()
    return standin


def _calls(spaces, name: str) -> list[tuple[str, float, float, str]]:
    return [c for c in spaces.CALLS if c[0] == name]


# --- the estimate --------------------------------------------------------------------------------
def test_the_time_scale_defaults_to_the_reference_gpu_and_errs_long_on_zerogpu(monkeypatch):
    monkeypatch.delenv("RESTORATION_GPU_TIME_SCALE", raising=False)
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert estimate.time_scale() == 1.0
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert estimate.time_scale() == estimate.ZEROGPU_SCALE == 3.0
    monkeypatch.setenv("RESTORATION_GPU_TIME_SCALE", "1.5")
    assert estimate.time_scale() == 1.5


def test_the_estimate_grows_with_the_work_and_never_falls_below_its_floor(monkeypatch):
    opts = build_options(upscale=4, model="realesrgan-x4plus", colorize="off")
    small = sum(estimate.frame_ms(opts, 96, 96).values())
    big = sum(estimate.frame_ms(opts, 1024, 1024).values())
    assert big > 50 * small
    assert estimate.estimate(small).seconds == estimate.FLOOR_S
    # x4plus on 1024² on the reference GPU: 300 ms per megapixel, 15 % more for tile context
    assert estimate.frame_ms(opts, 1024, 1024)["superres"] == pytest.approx(300 * 1.048576 * 1.15)
    base = estimate.estimate(big, 10).seconds
    monkeypatch.setenv("RESTORATION_GPU_TIME_SCALE", "3")
    assert estimate.estimate(big, 10).work == pytest.approx(3 * big * 10 / 1000)
    assert estimate.estimate(big, 10).seconds > base
    assert estimate.frames_per_call(big, 0, 30) == int((30 / estimate.MARGIN - estimate.CALL_S) // (3 * big / 1000))


def test_a_model_file_is_costed_from_its_own_arithmetic(tiny_models_dir):
    from restoration.models import load_model

    path = str(tiny_models_dir / "realesr-animevideov3.safetensors")
    model = load_model(path, "cpu")
    flops = estimate.flops_per_pixel(model.descriptor.model, model.scale)
    assert flops > 0
    ms = estimate.model_ms_per_mp(path, model)
    halves = 2 if model.dtype == torch.float32 else 1  # fp32 runs at half the reference's half-precision rate
    assert ms == pytest.approx(flops * 1e6 / (estimate.REFERENCE_TFLOPS / halves * 1e12) * 1e3)


def test_torch_compile_is_never_used_on_zerogpu(monkeypatch):
    from restoration.accel import compile_requested

    monkeypatch.setenv("RESTORATION_COMPILE", "1")
    assert compile_requested()
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert not compile_requested()


# --- through the app -----------------------------------------------------------------------------
def test_a_small_image_declares_a_short_call(server, zero, tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "a.png")
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(tmp_path / "a.png", preset="old-photo", upscale=2)
    assert r.metrics["size_out"] == [128, 96]
    (call,) = _calls(zero, "_image_call")
    assert call[3] == "ok" and call[1] <= 30


def test_a_video_longer_than_one_call_runs_as_several_with_the_same_frames_and_audio(server, zero, tmp_path,
                                                                                       monkeypatch):
    src = make_clip(tmp_path / "clip.mp4", n=24, fps=12)
    opts, video = RestoreOptions(**{k: v for k, v in FAST.items() if k != "preset"}, upscale=2), VideoOptions(
        codec="ffv1")
    local = restore_video(src, tmp_path / "local.mkv", opts, video)  # the same job, in this process
    monkeypatch.setenv("RESTORATION_GPU_TIME_SCALE", "30000")  # a frame: 2-3 s of "GPU time"
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_video(src, codec="ffv1", upscale=2, **FAST)
    calls = _calls(zero, "_piece_call")
    assert len(calls) >= 2 and all(declared <= 30 and outcome == "ok" for _, declared, _, outcome in calls), calls
    assert r.metrics["gpu_calls"] == len(calls) and r.metrics["frames"] == 24
    (fl, tl), (fr, tr) = frames_of(local.path), frames_of(r.path)
    assert len(fr) == 24 and tr == tl
    assert max(float(np.abs(a.astype(int) - b).max()) for a, b in zip(fl, fr)) <= 2
    assert audio_payload(r.path) == audio_payload(src)


def test_a_batch_longer_than_one_call_runs_as_several_with_the_same_pictures(server, zero, tmp_path, photo,
                                                                              monkeypatch):
    (tmp_path / "in").mkdir()
    for i in range(3):
        Image.fromarray(np.roll(photo, 7 * i, axis=1)).save(tmp_path / "in" / f"{i}.png")
    opts = build_options(None, **{k: v for k, v in FAST.items() if k != "preset"}, upscale=2, output_format="png")
    restore_folder(tmp_path / "in", tmp_path / "local", opts)
    ms = sum(estimate.frame_ms(opts, 64, 48).values())
    monkeypatch.setenv("RESTORATION_GPU_TIME_SCALE", str(12 / (ms / 1000)))  # 12 s a picture: one a call
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_batch(sorted((tmp_path / "in").iterdir()), upscale=2, **FAST)
    calls = _calls(zero, "_files_call")
    assert len(calls) == 3 and all(c[1] <= 30 for c in calls), calls
    import zipfile

    with zipfile.ZipFile(r.archive) as zf:
        zf.extractall(tmp_path / "got")
    for i in range(3):
        a, b = read_image(tmp_path / "local" / f"{i}.png").pixels, read_image(tmp_path / "got" / f"{i}.png").pixels
        assert np.array_equal(a, b)


def test_a_visitor_out_of_quota_is_told_so_and_the_server_serves_the_next_call(server, zero, tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "a.png")
    zero.reset(quota=3.0)  # below the shortest call
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        with pytest.raises(ClientError, match=r"GPU quota: You have exceeded your GPU quota \(3s left vs\. \d+s "
                                              r"requested\).*Wait for the quota to refill, sign in"):
            c.restore_image(tmp_path / "a.png", upscale=2, **FAST)
        zero.reset()  # another visitor, or the quota refilled
        assert c.restore_image(tmp_path / "a.png", upscale=2, **FAST).metrics["size_out"] == [128, 96]


def test_a_video_stopped_by_the_quota_keeps_its_pieces_and_resumes(server, zero, tmp_path, monkeypatch):
    src = make_clip(tmp_path / "clip.mp4", n=24, fps=12)
    monkeypatch.setenv("RESTORATION_GPU_TIME_SCALE", "30000")
    zero.reset(calls=1)  # one call, then the quota is spent
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        with pytest.raises(ClientError, match="GPU quota.*The work already done is kept: asking again resumes it"):
            c.restore_video(src, codec="ffv1", upscale=2, **FAST)
        first = len(_calls(zero, "_piece_call"))
        zero.reset()
        r = c.restore_video(src, codec="ffv1", upscale=2, **FAST)
    assert r.metrics["resumed_from_frame"] > 0 and r.metrics["frames"] == 24 and first == 2  # ok, then refused
    assert len(frames_of(r.path)[0]) == 24


def test_a_frame_that_cannot_fit_one_call_is_refused_before_any_call(server, zero, tmp_path, photo, monkeypatch):
    Image.fromarray(photo).save(tmp_path / "a.png")
    src = make_clip(tmp_path / "clip.mp4", n=6, fps=12)
    monkeypatch.setenv("RESTORATION_GPU_TIME_SCALE", "1e9")
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        for run in (lambda: c.restore_image(tmp_path / "a.png", upscale=2, **FAST),
                    lambda: c.restore_video(src, upscale=2, **FAST),
                    lambda: c.restore_batch([tmp_path / "a.png"], upscale=2, **FAST)):
            too_long = (r"needs about [\d.]+ (s|min|h) of GPU time, more than one GPU call on this Space may "
                        r"last \(30 s\); use a smaller upscale or a lighter model")
            with pytest.raises(ClientError, match=too_long):
                run()
    assert zero.CALLS == []


def test_weights_are_fetched_before_the_call_never_inside_it(server, zero, tmp_path, photo, monkeypatch,
                                                             tiny_models_dir):
    """A Hub model that is not here yet is downloaded in the main process, before the GPU call."""
    import huggingface_hub

    payload = (tiny_models_dir / "realesr-animevideov3.safetensors").read_bytes()
    fetched: list[int] = []

    def fake(repo_id, filename, *, revision, cache_dir, token, force_download):
        fetched.append(zero.INSIDE["depth"])
        folder = Path(cache_dir) / f"models--{repo_id.replace('/', '--')}"
        (folder / "refs").mkdir(parents=True, exist_ok=True)
        (folder / "refs" / "main").write_text("0" * 40)
        blob = folder / "snapshots" / ("0" * 40) / filename
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(payload)
        return str(blob)

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, token: type("M", (), {"size": 1})())
    Image.fromarray(photo).save(tmp_path / "a.png")
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(tmp_path / "a.png", **{**FAST, "upscale": 4, "model": "hf:someone/models/x4.safetensors"})
    assert r.metrics["size_out"] == [256, 192]
    assert fetched == [0] and len(_calls(zero, "_image_call")) == 1


def test_golden_video_and_batch_in_zerogpu_calls(tmp_path, zero, monkeypatch):
    """ZeroGPU calls give what the local path gave before the video code became frames and passes
    (tests/golden.py); the video runs as several calls."""
    from . import golden

    monkeypatch.setenv("RESTORATION_GPU_TIME_SCALE", "30")  # a few frames a call, beside the 8 warm-up frames
    out = tmp_path / "out.mkv"
    res = restore_video(golden.make_video(tmp_path / "in.mkv"), out, golden.OPTIONS, golden.VIDEO,
                        executor=zerogpu.Calls())
    assert res.metrics["gpu_calls"] >= 2
    restore_folder(golden.make_pictures(tmp_path / "pics"), tmp_path / "done", golden.PICTURES,
                   executor=zerogpu.Calls())
    golden.check(golden.video_frames(out), golden.batch_pixels(tmp_path / "done"))


def test_frame_interpolation_in_calls_gives_the_local_frames_and_is_costed(tmp_path, zero, monkeypatch):
    """Pieces in several calls, each with its look-ahead frame for its last gap: the frames of one local
    run; the declared time counts the frames made."""
    from dataclasses import replace

    from . import golden
    from .test_interpolation import PLAIN

    weights = tmp_path / "flownet.pkl"
    torch.manual_seed(0)
    from restoration.interpolation.ifnet import IFNet

    torch.save(IFNet().state_dict(), weights)
    src = golden.make_video(tmp_path / "in.mkv")
    video = VideoOptions(codec="ffv1", segment_seconds=0.5, interpolate=2, interpolation_model=str(weights))
    local = frames_of(restore_video(src, tmp_path / "local.mkv", PLAIN, video).path)
    monkeypatch.setenv("RESTORATION_GPU_TIME_SCALE", "600")
    res = restore_video(src, tmp_path / "zero.mkv", PLAIN, video, executor=zerogpu.Calls())
    calls = _calls(zero, "_piece_call")
    assert res.metrics["gpu_calls"] == len(calls) >= 2
    out = frames_of(res.path)
    assert out[1] == local[1] and all(np.array_equal(a, b) for a, b in zip(out[0], local[0]))
    plain = restore_video(src, tmp_path / "plain.mkv", PLAIN, replace(video, interpolate=1),
                          executor=zerogpu.Calls())
    assert plain.metrics["gpu_calls"] <= res.metrics["gpu_calls"]  # the frames made cost time too
