"""The fast CPU path: bf16 and channels-last where the processor computes bf16 natively, fp32 where it
does not or when asked, a first-load check against fp32 (and a fall-back at run time), metrics only
when read, and an honest estimate of the time from this machine's own measured speed."""

from __future__ import annotations

import logging
import re

import numpy as np
import pytest
import torch

from restoration import accel, build_options, models, precision, progress, restore_image
from restoration.cost import measured
from restoration.models import clear_cache, load_model

FAST = dict(colorize="off", denoise=0, sharpen=0, device="cpu")


@pytest.fixture(autouse=True)
def _fresh_models():
    clear_cache()
    yield
    clear_cache()


def test_bf16_and_channels_last_on_a_cpu_that_computes_bf16(monkeypatch, photo):
    monkeypatch.setattr(models, "cpu_bf16", lambda: True)
    m = load_model("realesr-general-x4v3", "cpu")
    assert m.dtype == torch.bfloat16
    conv = next(p for p in m.descriptor.model.parameters() if p.dim() == 4)
    assert conv.is_contiguous(memory_format=torch.channels_last)
    fast = restore_image(photo, build_options(upscale=4, model="realesr-general-x4v3", **FAST)).image.pixels
    exact = restore_image(photo, build_options(upscale=4, model="realesr-general-x4v3", precision="fp32",
                                               **FAST)).image.pixels
    psnr = 10 * np.log10(1 / np.mean((fast - exact) ** 2))
    assert psnr >= 45, psnr
    assert load_model("drunet-color", "cpu").dtype == torch.bfloat16  # a neural denoiser too
    assert load_model("ddcolor-tiny", "cpu").dtype == torch.float32  # DDColor keeps fp32 tensors of its own


def test_fp32_when_forced_or_when_the_cpu_has_no_bf16(monkeypatch):
    monkeypatch.setattr(models, "cpu_bf16", lambda: True)
    assert load_model("realesr-general-x4v3", "cpu", "fp32").dtype == torch.float32
    clear_cache()
    monkeypatch.setattr(models, "cpu_bf16", lambda: False)
    m = load_model("realesr-general-x4v3", "cpu")
    conv = next(p for p in m.descriptor.model.parameters() if p.dim() == 4)
    assert m.dtype == torch.float32 and conv.is_contiguous()  # no bf16, no channels-last: as before


def test_a_network_below_45_db_in_bf16_runs_in_fp32(monkeypatch, caplog):
    monkeypatch.setattr(models, "cpu_bf16", lambda: True)
    monkeypatch.setattr(precision, "precision_psnr", lambda low, ref, x: 30.0)  # a network bf16 damages
    with caplog.at_level(logging.WARNING, logger="restoration.models"):
        m = load_model("realesr-general-x4v3", "cpu")
    assert m.dtype == torch.float32
    assert "realesr-general-x4v3 in bfloat16 differs from fp32 (30.0 dB, below 45): running it in fp32" in caplog.text


def test_a_network_that_fails_in_bf16_at_run_time_goes_on_in_fp32(monkeypatch, caplog):
    monkeypatch.setattr(models, "cpu_bf16", lambda: True)
    m = load_model("realesr-general-x4v3", "cpu")
    real = m.descriptor.model.forward

    def picky(x):  # an operation that mixes in an fp32 tensor, as some architectures do at some sizes
        if x.dtype == torch.bfloat16:
            raise RuntimeError("expected m1 and m2 to have the same dtype")
        return real(x)

    m.descriptor.model.forward = picky
    with caplog.at_level(logging.WARNING, logger="restoration.models"):
        out = m(torch.rand(1, 3, 16, 16))
    assert out.shape == (1, 3, 64, 64) and m.dtype == torch.float32
    assert "failed in bf16 (expected m1 and m2 to have the same dtype); running it in float32" in caplog.text


def test_the_processors_own_flags_decide():
    from pathlib import Path

    accel.cpu_bf16.cache_clear()
    info = Path("/proc/cpuinfo")
    flags = info.read_text().split() if info.exists() else []
    assert accel.cpu_bf16() == ("avx512_bf16" in flags or "amx_bf16" in flags)


def test_metrics_are_computed_only_when_read(monkeypatch, photo):
    from restoration import metrics

    calls = []
    real = metrics.compute
    monkeypatch.setattr(metrics, "compute", lambda *a, **k: calls.append(1) or real(*a, **k))
    res = restore_image(photo, build_options(upscale=2, model="realesr-general-x4v3", **FAST))
    assert calls == []
    assert res.metrics["size_out"] == [128, 96] and res.metrics is res.metrics and calls == [1]


def test_the_time_left_comes_from_this_machines_measured_speed(monkeypatch, photo):
    opts = build_options(upscale=4, model="realesr-general-x4v3", **FAST)
    restore_image(photo, opts)  # the first run: loads, warms up, measures
    restore_image(photo, opts)
    seen: list[str] = []
    restore_image(photo, opts, progress=lambda f, m: seen.append(m))
    assert "about" in seen[0] and seen[0].endswith("left"), seen[0]  # before any work: the estimate
    from restoration.pipeline import prepare  # the estimate itself, for a picture four times as large

    job = prepare(opts)
    one = measured.expected_seconds(job, 48, 64)
    four = measured.expected_seconds(job, 96, 128)
    assert one and four and 2.5 < four / one < 6


def test_a_long_cpu_job_names_the_faster_choice(monkeypatch, photo):
    monkeypatch.setattr(measured, "LONG_S", 0.0)  # every job is "long" here
    seen: list[str] = []
    opts = build_options(upscale=4, model="realesr-general-x4v3", **FAST)
    restore_image(photo, opts)
    restore_image(photo, opts, progress=lambda f, m: seen.append(m))
    assert "on this CPU: the compact realesr-animevideov3 or a smaller upscale is faster" in seen[0]
    assert progress.about(40) == "about 40 s" and progress.about(200) == "about 3 min"


def test_the_time_left_follows_each_stage_not_the_share_of_a_quick_one(monkeypatch):
    """A first job: the upscaler measured (40 s), the classical denoiser never: once the denoiser is
    done in a second, the time left is the upscaler's, not the denoiser's pace stretched over the bar
    (which said "about 4 s" for a 40 s job)."""
    now = [0.0]
    monkeypatch.setattr(progress.time, "perf_counter", lambda: now[0])
    seen: list[tuple[float, str]] = []
    bar = progress.StageProgress(lambda f, m: seen.append((f, m)), ["denoise", "superres", "sharpen"],
                              {"superres": 40.0})
    assert bar.expected is not None and 40 < bar.expected < 55  # the unmeasured stages get their usual share
    step = bar.stage("denoise")
    now[0] = 1.0
    step(1, 1)
    step = bar.stage("superres")
    assert seen[-1][1] == "superres 0% · about 42 s left"  # 40 s, and sharpening's usual share (2 s)
    now[0] = 21.0  # the machine is slower than measured: half the tiles in 20 s
    step(2, 4)
    assert seen[-1][1] == "superres 2/4 · about 22 s left" and 0.4 < seen[-1][0] < 0.7, seen[-1]
    nothing = progress.StageProgress(lambda f, m: seen.append((f, m)), ["denoise"])
    nothing.stage("denoise")
    assert seen[-1][1] == "denoise 0%"  # nothing measured, nothing done: no figure rather than a guess


def test_what_a_stage_took_predicts_the_same_job_whatever_its_tiles(tiny_models_dir, monkeypatch):
    """The upscaler's figure is per megapixel it computes (every pass, with its tiles' context), so a
    tiled job that took 5 s is expected to take 5 s again, and a picture after the upscaler is counted
    at its upscaled size."""
    from restoration.pipeline import prepare

    monkeypatch.setattr(measured, "_seen", {})  # this test's figures only
    monkeypatch.setattr(measured, "_calibrated", set())
    job = prepare(build_options(upscale=4, model="realesr-general-x4v3", tile=32, **FAST))
    measured.observe("superres", job, 64, 96, 1, 5.0)
    assert measured.stage_seconds(job, ["superres"], 64, 96)["superres"] == pytest.approx(5.0)
    measured._seen[("sharpen", "", "cpu", "")] = 0.1  # s per megapixel of what the sharpener is given
    after = measured.stage_seconds(job, ["superres", "sharpen"], 64, 96)["sharpen"]
    assert after == pytest.approx(0.1 * 256 * 384 / 1e6)


def test_a_video_says_how_long_before_its_first_frame(tmp_path):
    from restoration import restore_video

    from .test_video import make_clip

    clip = make_clip(tmp_path / "in.mp4", n=12)
    opts = build_options(upscale=2, model="realesr-general-x4v3", **FAST)
    seen: list[str] = []
    restore_video(clip, tmp_path / "a.mp4", opts)  # measures this machine
    restore_video(clip, tmp_path / "b.mp4", opts, progress=lambda f, m: seen.append(m))
    assert re.fullmatch(r"frame 0/12 · about \d+ s left", seen[0]), seen[0]
    assert any(re.fullmatch(r"frame \d+/12 · [\d.]+ fps · about \d+ s left", m) for m in seen), seen
