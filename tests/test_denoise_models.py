"""Neural denoisers: DRUNet told the noise level by the denoise strength, blind SCUNet blended by it,
through the real code path (random-weight real architectures)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from restoration import OptionError, build_options, restore_image
from restoration.models import load_model
from restoration.stages import denoise_with

FAST = dict(upscale=0, colorize="off", sharpen=0)


def test_drunet_gets_the_strength_as_its_noise_level_plane():
    model = load_model("drunet-color", "cpu")
    seen = []
    real = model.descriptor.model.forward

    def spy(x):
        seen.append(x)
        return real(x)

    model.descriptor.model.forward = spy
    try:
        x = torch.rand(1, 3, 40, 56)
        a = denoise_with(model, x, 10, tile=0, pad=0)
        b = denoise_with(model, x, 25, tile=0, pad=0)
    finally:
        model.descriptor.model.forward = real
    assert [t.shape[1] for t in seen] == [4, 4]  # RGB plus the noise-level plane
    assert torch.allclose(seen[0][:, 3], torch.full_like(seen[0][:, 3], 10 / 255))
    assert torch.allclose(seen[1][:, 3], torch.full_like(seen[1][:, 3], 25 / 255))
    assert a.shape == x.shape and not torch.equal(a, b)


def test_a_blind_denoiser_is_blended_by_the_strength():
    model = load_model("scunet-real", "cpu")
    x = torch.rand(1, 3, 48, 48)
    full = denoise_with(model, x, 15, tile=0, pad=0)
    assert torch.allclose(denoise_with(model, x, 30, tile=0, pad=0), full)  # whole output from 15 on
    half = denoise_with(model, x, 7.5, tile=0, pad=0)
    assert torch.allclose(half, x + (full - x) * 0.5, atol=1e-6)


@pytest.mark.parametrize("denoiser", ["drunet-color", "scunet-real"])
def test_catalogue_denoisers_through_the_pipeline(photo, denoiser):
    res = restore_image(photo, build_options(denoise=15, denoise_model=denoiser, **FAST))
    assert res.metrics["stages"] == ["denoise"] and res.metrics["models"]["denoise"] == denoiser
    assert res.image.pixels.shape == (48, 64, 3)


def test_denoise_strength_zero_leaves_the_denoiser_out(photo):
    res = restore_image(photo, build_options(denoise=0, denoise_model="drunet-color", **FAST))
    assert "denoise" not in res.metrics["stages"]


def test_wrong_kinds_of_denoiser_are_refused_with_where_they_go():
    with pytest.raises(OptionError, match="denoise_model needs a restoration model: use it as model"):
        build_options(denoise_model="realesrgan-x4plus")
    with pytest.raises(OptionError, match="model needs a super-resolution model: use it as denoise_model"):
        build_options(model="drunet-color")


def test_command_line_and_app_take_a_denoiser(server, photo, tmp_path, capsys):
    from client import RestorationClient
    from restoration.cli import main

    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    assert main(["image", str(src), "-o", str(tmp_path / "o.png"), "--upscale", "0", "--denoise", "20",
                 "--denoise-model", "drunet-color", "--colorize", "off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["models"]["denoise"] == "drunet-color"
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(src, preset="digital", denoise=10, denoise_model="scunet-real", upscale=1,
                            model="realesr-general-x4v3")
    assert r.metrics["models"]["denoise"] == "scunet-real" and r.metrics["stages"][0] == "denoise"
    assert np.asarray(Image.open(r.path)).shape[:2] == (48, 64)
