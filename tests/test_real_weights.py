"""Checks with the trained Real-ESRGAN weights in ../shared/weights (skipped when they are absent)."""

import numpy as np
import pytest

from restoration import RestoreOptions, restore_image
from restoration.metrics import compare, resize_to

from .conftest import SHARED_WEIGHTS

FILES = {
    "realesrgan-x4plus": "RealESRGAN_x4plus.fp16.safetensors",
    "realesrgan-x4plus-anime": "RealESRGAN_x4plus_anime_6B.fp16.safetensors",
    "realesr-animevideov3": "realesr-animevideov3.fp16.safetensors",
}
pytestmark = pytest.mark.skipif(
    not all((SHARED_WEIGHTS / f).is_file() for f in FILES.values()),
    reason="trained weights not present in ../shared/weights",
)


@pytest.fixture()
def real_models(tmp_path, monkeypatch):
    for model_id, name in FILES.items():
        (tmp_path / f"{model_id}.safetensors").symlink_to(SHARED_WEIGHTS / name)
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tmp_path))


@pytest.fixture()
def small_photo():
    import cv2
    from skimage import data

    return cv2.resize(data.astronaut()[40:296, 120:376], (96, 96), interpolation=cv2.INTER_AREA)


def test_tiles_never_show_with_trained_x4plus(real_models):
    """Any tile size from 32 px up, on an odd-size image, with the default context: >= 45 dB against
    the untiled result (the kept core of each tile never comes from near a tile border)."""
    from skimage import data

    from restoration.tiling import _layout

    odd = np.ascontiguousarray(data.astronaut()[80:177, 140:269])  # 129x97
    opts = RestoreOptions(upscale=4, colorize="off", tile=0)
    whole = restore_image(odd, opts).image.pixels
    for tile in (32, 48, 64):
        assert len(_layout(129, tile, opts.tile_pad)[1]) > 1  # really cut into tiles
        tiled = restore_image(odd, opts.with_(tile=tile))
        assert tiled.report.tile == tile and tiled.image.pixels.shape == (388, 516, 3)
        assert compare(tiled.image.pixels, whole)["psnr"] >= 45, tile


@pytest.mark.parametrize("model_id", list(FILES))
def test_trained_models_give_a_faithful_upscale(real_models, small_photo, model_id):
    res = restore_image(small_photo[:48, :48], RestoreOptions(upscale=4, model=model_id, colorize="off"))
    out = res.image.pixels
    assert out.shape == (192, 192, 3)
    # Close to a plain resize in content (same picture, same colours), but sharper.
    assert compare(out, resize_to(small_photo[:48, :48].astype(np.float32) / 255, (192, 192)))["psnr"] > 20
    assert res.metrics["sharpness_out"] > 0
