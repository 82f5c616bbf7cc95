"""Every CUDA path on a real GPU (marked ``cuda``; skipped where there is none, as on the project's
own machines: ``benchmarks/gpu_check.sh`` runs them on a lent GPU). Elsewhere these paths are tested
with simulated counters only."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from restoration import build_options, restore_image

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU (CUDA)")]
FAST = dict(colorize="off", denoise=0, sharpen=0)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


@pytest.mark.parametrize("model", ["realesrgan-x4plus", "realesr-general-x4v3"])
def test_fp16_on_the_gpu_matches_fp32_on_the_cpu(photo, model):
    gpu = restore_image(photo, build_options(upscale=4, model=model, device="cuda", **FAST))
    cpu = restore_image(photo, build_options(upscale=4, model=model, device="cpu", **FAST))
    assert gpu.metrics["device"].startswith("cuda")
    assert _psnr(gpu.image.pixels, cpu.image.pixels) >= 45


def test_an_fp16_overflow_falls_back_to_bf16_and_stays_there(tiny_models_dir, tmp_path):
    from restoration.models import load_model

    from .conftest import _save, make_compact

    net = make_compact(4, seed=3)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(400.0)  # activations past fp16's 65504
    _save(net, tmp_path / "loud.safetensors")
    m = load_model(str(tmp_path / "loud.safetensors"), "cuda", "fp16")
    out = m(torch.rand(1, 3, 32, 32, device="cuda"))
    assert bool(torch.isfinite(out).all()) and m.dtype in (torch.bfloat16, torch.float32)


def test_a_model_file_is_checked_in_half_precision_at_its_first_load(tiny_models_dir):
    from restoration.models import load_model

    m = load_model(str(tiny_models_dir / "realesr-animevideov3.safetensors"), "cuda")
    assert m.dtype in (torch.float16, torch.float32)  # fp16 when it stays within 40 dB of fp32, else fp32


def test_the_memory_probe_and_the_tile_plan(tiny_models_dir):
    from restoration import tiling
    from restoration.models import load_model

    m = load_model(str(tiny_models_dir / "realesr-animevideov3.safetensors"), "cuda")
    per_px = tiling.measure(m, "CompactTest", 4, 2, torch.device("cuda"))
    assert per_px > 0 and tiling.known("CompactTest", 4, 2)
    tile, pieces = tiling.plan_tiles("Compact", 4, torch.device("cuda"), (720, 1280), default=512)
    assert tile >= tiling.MIN_TILE and pieces >= 1
    assert torch.backends.cudnn.benchmark  # RESTORATION_CUDNN_BENCHMARK's default, set at load


def test_torch_compile_gives_the_eager_output(tiny_models_dir, tmp_path, monkeypatch):
    from restoration.models import clear_cache, load_model

    monkeypatch.setenv("RESTORATION_COMPILE_CACHE", str(tmp_path / "cache"))
    x = torch.rand(1, 3, 48, 64, device="cuda")
    eager = load_model("realesr-general-x4v3", "cuda", compile=False)(x)
    compiled = load_model("realesr-general-x4v3", "cuda", compile=True)
    assert compiled.compiled or compiled.net.failed
    assert torch.allclose(compiled(x), eager, atol=2e-2)
    clear_cache()


def test_a_video_on_the_gpu_matches_the_cpu(tmp_path):
    from restoration import restore_video
    from restoration.video import VideoOptions

    from .test_video import frames_of, make_clip

    src = make_clip(tmp_path / "in.mp4", n=12)
    video = VideoOptions(codec="ffv1")
    a = restore_video(src, tmp_path / "gpu.mkv", build_options(upscale=2, model="realesr-general-x4v3",
                                                                device="cuda", denoise=10, colorize="off"), video)
    b = restore_video(src, tmp_path / "cpu.mkv", build_options(upscale=2, model="realesr-general-x4v3",
                                                                device="cpu", denoise=10, colorize="off"), video)
    (fa, ta), (fb, tb) = frames_of(a.path), frames_of(b.path)
    assert ta == tb and min(_psnr(x / 255, y / 255) for x, y in zip(fa, fb)) >= 35


def test_the_gpu_non_local_means_matches_opencv(photo):
    from restoration.stages.denoise import denoise

    rng = np.random.default_rng(0)
    noisy = np.clip(photo / 255 + rng.normal(0, 0.06, photo.shape), 0, 1).astype(np.float32)
    x = torch.from_numpy(noisy).permute(2, 0, 1)[None]
    on_gpu = denoise(x.cuda(), 15).cpu()[0].permute(1, 2, 0).numpy()
    on_cpu = denoise(x, 15)[0].permute(1, 2, 0).numpy()
    clean = photo / 255
    assert _psnr(on_gpu, clean) >= _psnr(on_cpu, clean) - 0.5


def test_ddcolor_in_batches_gives_each_frame_its_own_colours(gray_photo):
    from restoration.models import load_model
    from restoration.stages import colorize

    m = load_model("ddcolor-tiny", "cuda")
    frames = torch.from_numpy(np.stack([np.roll(gray_photo, 5 * i, 1) for i in range(8)])).float().div(255)
    x = frames[:, None].expand(-1, 3, -1, -1).cuda()
    batched = colorize(x, m, 64)
    single = torch.cat([colorize(x[i : i + 1], m, 64) for i in range(8)])
    assert torch.allclose(batched, single, atol=1e-2)


def test_faces_on_the_gpu_match_the_cpu():
    from skimage import data

    portrait = np.ascontiguousarray(data.astronaut()[::2, ::2])
    opts = dict(upscale=0, face="restoreformer", **FAST)
    gpu = restore_image(portrait, build_options(device="cuda", **opts))
    cpu = restore_image(portrait, build_options(device="cpu", **opts))
    assert gpu.metrics["faces"]["restored"] == cpu.metrics["faces"]["restored"] == 1
    assert _psnr(gpu.image.pixels, cpu.image.pixels) >= 35
