import numpy as np
import pytest
from PIL import Image

from restoration import RestoreOptions, read_image, restore_file, restore_image
from restoration.color import rgb_to_lab
from restoration.media import read_record

FAST = dict(model="realesr-general-x4v3", colorize="off")


def test_restore_image_returns_pixels_and_every_metric(photo):
    steps = []
    res = restore_image(photo, RestoreOptions(upscale=2, denoise=5, sharpen=1, **FAST),
                        progress=lambda f, msg: steps.append((f, msg)))
    assert res.image.pixels.shape == (96, 128, 3)
    m = res.metrics
    for key in ("psnr", "ssim", "mse", "sharpness_in", "sharpness_out", "colorfulness_in",
                "colorfulness_out", "size_in", "size_out", "seconds", "stages", "models"):
        assert key in m, key
    assert m["size_in"] == [64, 48] and m["size_out"] == [128, 96]
    assert m["stages"] == ["denoise", "superres", "sharpen"]
    assert set(m["seconds"]) == {"denoise", "superres", "sharpen", "total"}
    assert m["compared_with"] == "input resized" and 0 < m["ssim"] <= 1 and m["psnr"] > 0
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_reference_metrics(photo):
    res = restore_image(photo, RestoreOptions(upscale=0, colorize="off"), reference=photo)
    assert res.metrics["compared_with"] == "reference"
    assert res.metrics["psnr"] == float("inf") and res.metrics["ssim"] == pytest.approx(1.0)


def test_alpha_is_upscaled_with_the_image(photo):
    alpha = np.zeros(photo.shape[:2], np.uint8)
    alpha[:, 32:] = 255
    rgba = np.dstack([photo, alpha])
    res = restore_image(rgba, RestoreOptions(upscale=4, **FAST))
    a = res.image.alpha
    assert a is not None and a.shape == (192, 256)
    assert a[:, :120].max() < 0.02 and a[:, 136:].min() > 0.98


def test_grayscale_stays_grayscale_unless_colorized(tmp_path, gray_photo):
    Image.fromarray(gray_photo).save(tmp_path / "g.png")
    res = restore_file(tmp_path / "g.png", tmp_path / "out.png", RestoreOptions(upscale=2, **FAST))
    out = Image.open(tmp_path / "out.png")
    assert out.mode == "L" and out.size == (128, 96)
    assert res.metrics["stages"] == ["superres"]

    res = restore_file(tmp_path / "g.png", tmp_path / "c.png",
                       RestoreOptions(upscale=0, colorize="auto", color_model="ddcolor-tiny"))
    assert res.report.colorized and Image.open(tmp_path / "c.png").mode == "RGB"
    src = read_image(tmp_path / "g.png").pixels
    out = read_image(tmp_path / "c.png").pixels
    import torch

    L = lambda a: rgb_to_lab(torch.from_numpy(a).permute(2, 0, 1)[None])[:, 0]  # noqa: E731
    assert (L(src) - L(out)).abs().max() < 1.0  # luminance kept (8-bit rounding aside)
    assert res.metrics["colorfulness_out"] > res.metrics["colorfulness_in"] + 5


def test_colour_input_is_not_colorized_in_auto(photo):
    res = restore_image(photo, RestoreOptions(upscale=0, colorize="auto", color_model="ddcolor-tiny"))
    assert "colorize" not in res.metrics["stages"]


def test_16bit_input_gives_16bit_output_with_record(tmp_path):
    import cv2

    a = (np.random.default_rng(0).random((20, 24, 3)) * 65535).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "in.png"), a)
    restore_file(tmp_path / "in.png", tmp_path / "out.png", RestoreOptions(upscale=2, **FAST))
    back = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16 and back.shape == (40, 48, 3)
    rec = read_record(tmp_path / "out.png")
    assert rec["options"]["upscale"] == 2 and rec["models"] == {"superres": "realesr-general-x4v3"}
    assert rec["software"].startswith("restoration ")


def test_exif_rotated_input_is_restored_upright(tmp_path):
    a = np.zeros((20, 30, 3), np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(a).save(tmp_path / "r.jpg", exif=exif.tobytes())
    restore_file(tmp_path / "r.jpg", tmp_path / "r_out.jpg", RestoreOptions(upscale=2, **FAST))
    out = Image.open(tmp_path / "r_out.jpg")
    assert out.size == (40, 60)  # upright: portrait
    assert out.getexif().get(0x0112, 1) == 1  # and not rotated a second time by viewers


def test_bad_output_name_fails_before_the_work(tmp_path, photo):
    Image.fromarray(photo).save(tmp_path / "in.png")
    with pytest.raises(ValueError, match="cannot tell the output format"):
        restore_file(tmp_path / "in.png", tmp_path / "out.xyz", RestoreOptions(**FAST))


def test_a_prepared_restorer_plans_tiles_once_per_size(monkeypatch):
    """A job reads the GPU budget once and keeps each size's tile plan, so tile shapes cannot drift
    while free memory changes mid-job (a GPU is simulated: the plan is arithmetic)."""
    import torch

    from restoration import prepare, tiling

    budgets = iter([6 << 30, 1 << 30, 1 << 30])
    calls = []

    def budget(device):
        calls.append(device)
        return next(budgets)

    monkeypatch.setattr(tiling, "gpu_budget", budget)
    r = prepare(RestoreOptions(upscale=4, model="realesrgan-x4plus", colorize="off"))
    model = r.model("superres")
    r.tiles.device = torch.device("cuda")  # only the plan looks at it here
    first = r.tiles.plan(model, (2000, 3000))
    assert r.tiles.plan(model, (2000, 3000)) == first and len(calls) == 1
    other = r.tiles.plan(model, (720, 1280))  # another size, the same budget
    assert len(calls) == 1 and other[0] == first[0]


def test_a_video_job_loads_its_models_once(monkeypatch, tmp_path):
    from restoration import job_models, restore_video
    from restoration.video import VideoOptions

    from .test_video import make_clip

    loads = []
    real = job_models.load_model
    monkeypatch.setattr(job_models, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    src = make_clip(tmp_path / "c.mp4", n=8, audio=False)
    opts = RestoreOptions(upscale=2, model="realesr-general-x4v3", colorize="off")
    res = restore_video(src, tmp_path / "o.mkv", opts, VideoOptions(codec="ffv1", batch=2))
    assert res.metrics["frames"] == 8 and len(loads) == 1
