import numpy as np
import pytest
import torch

from restoration import stages
from restoration.color import lab_to_rgb, rgb_to_lab
from restoration.models import load_model
from restoration.stages.superres import plan_passes


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float32) / 255).permute(2, 0, 1)[None]


def _psnr(a, b):
    return 10 * np.log10(1 / np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))


def test_lab_round_trip_matches_opencv():
    import cv2

    rgb = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    ours = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2Lab)
    assert np.abs(ours - ref).max() < 0.5
    back = lab_to_rgb(torch.from_numpy(ours).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert np.abs(back - rgb).max() < 1e-3


def test_denoise_removes_noise():
    import cv2
    from skimage import data

    clean = _t(cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA))
    rng = np.random.default_rng(1)
    noisy = (clean + torch.from_numpy(rng.normal(0, 20 / 255, clean.shape).astype(np.float32))).clamp(0, 1)
    out = stages.denoise(noisy, 10)
    assert out.shape == noisy.shape
    assert _psnr(out, clean) > _psnr(noisy, clean) + 2
    assert stages.denoise(noisy, 0) is noisy


def test_gpu_denoiser_matches_or_beats_opencv_quality():
    """The PyTorch non-local means (used on CUDA) against OpenCV's on sigma=20 noise, same strength."""
    from skimage import data

    from restoration.stages.denoise import nlm_torch

    clean = _t(data.astronaut()[100:196, 180:276])  # a face and hair: detail and flat skin
    rng = np.random.default_rng(0)
    noisy = (clean + torch.from_numpy(rng.normal(0, 20 / 255, clean.shape).astype(np.float32))).clamp(0, 1)
    for strength in (10, 15):
        ref = stages.denoise(noisy, strength, method="opencv")
        ours = nlm_torch(noisy, strength)
        assert ours.shape == noisy.shape and ours.dtype == noisy.dtype
        assert _psnr(ours, clean) >= _psnr(ref, clean) - 0.3, strength
    assert torch.equal(stages.denoise(noisy, 10), stages.denoise(noisy, 10, method="opencv"))  # CPU: OpenCV


def test_sharpen_raises_detail_without_moving_colour(photo):
    import cv2

    soft = _t(cv2.GaussianBlur(photo, (5, 5), 1.2))
    out = stages.sharpen(soft, 1.5)
    lap = lambda t: cv2.Laplacian(t[0].mean(0).numpy(), cv2.CV_32F).var()  # noqa: E731
    assert lap(out) > 1.3 * lap(soft)
    chroma_in = rgb_to_lab(soft)[:, 1:]
    chroma_out = rgb_to_lab(out)[:, 1:]
    assert (chroma_out - chroma_in).abs().mean() < 1.0  # luminance detail only


@pytest.mark.parametrize(
    ("native", "target", "passes"),
    [(4, 1, 1), (4, 1.5, 1), (4, 4, 1), (4, 6.5, 1), (4, 8, 1), (2, 2, 1), (2, 3, 1), (2, 4, 2), (2, 8, 3)],
)
def test_pass_plan(native, target, passes):
    assert plan_passes(native, target) == passes


@pytest.mark.parametrize(
    ("model_id", "target"), [("realesr-general-x4v3", 1), ("realesr-general-x4v3", 1.5),
                             ("realesr-general-x4v3", 6.5), ("realesrgan-x2plus", 3), ("realesrgan-x2plus", 4)]
)
def test_superres_reaches_any_scale(model_id, target):
    m = load_model(model_id, "cpu")
    x = torch.rand(1, 3, 15, 21)
    out = stages.superres(x, m, m.scale, target, tile=0, pad=8)
    assert out.shape == (1, 3, round(15 * target), round(21 * target))
    assert 0 <= out.min() and out.max() <= 1


def test_monochrome_detection(photo, gray_photo):
    gray = _t(np.repeat(gray_photo[..., None], 3, axis=2))
    assert stages.is_monochrome(gray)
    sepia = (gray * torch.tensor([1.0, 0.85, 0.65]).view(1, 3, 1, 1)).clamp(0, 1)
    assert stages.is_monochrome(sepia)
    assert not stages.is_monochrome(_t(photo))


def test_colorize_changes_chroma_only(gray_photo):
    model = load_model("ddcolor-tiny", "cpu")
    x = _t(np.repeat(gray_photo[..., None], 3, axis=2))
    out = stages.colorize(x, model, 512)
    assert out.shape == x.shape
    L_in, L_out = rgb_to_lab(x)[:, 0], rgb_to_lab(out)[:, 0]
    assert (L_in - L_out).abs().max() < 0.5  # Lab lightness kept (0..100 scale)
    assert rgb_to_lab(out)[:, 1:].abs().mean() > 0.5  # and colour was added
