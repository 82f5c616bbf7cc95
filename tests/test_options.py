import math

import pytest

from restoration import PRESETS, OptionError, RestoreOptions
from restoration.options import build_options


@pytest.mark.parametrize(
    ("field", "value", "expect"),
    [
        ("denoise", 31, "denoise=31 is out of range: allowed 0 to 30"),
        ("denoise", -1, "allowed 0 to 30"),
        ("denoise", math.nan, "denoise=nan is out of range"),
        ("upscale", math.inf, "upscale=inf is out of range"),
        ("upscale", 9, "allowed 0 to 8"),
        ("upscale", 0.5, "upscale=0.5 is not allowed"),
        ("sharpen", "1.0", "sharpen='1.0' must be a number"),
        ("sharpen", True, "sharpen=True must be a number"),
        ("colorize", "yes", "colorize='yes' is not valid: use one of auto, on, off"),
        ("precision", "int8", "precision='int8' is not valid"),
        ("device", "tpu", "device='tpu' is not valid"),
        ("tile", 16, "tile=16 is too small"),
        ("tile", 1.5, "tile=1.5 must be a whole number"),
        ("tile_pad", 300, "tile_pad=300 is out of range: allowed 0 to 256"),
        ("quality", 0, "quality=0 is out of range"),
        ("output_format", "gif", "output_format='gif' is not supported"),
        ("model", "nope", "model: unknown model 'nope'"),
        ("model", "ddcolor", "model='ddcolor' is a colorization model"),
        ("color_model", "realesrgan-x4plus", "color_model needs a colorization model: use it as model (the upscaler)"),
        ("face", "realesrgan-x4plus", "face needs a face-restoration model: use it as model (the upscaler)"),
        ("model", "gfpgan-v1.4", "face-restoration model, and model needs a super-resolution model: use it as face"),
        ("face", "nope", "face: unknown model"),
        ("face_fidelity", 1.5, "face_fidelity=1.5 is out of range: allowed 0 to 1"),
        ("face_mask", "oval", "face_mask='oval' is not valid: use one of box, parse"),
    ],
)
def test_each_field_is_validated_with_a_message_naming_it(field, value, expect):
    with pytest.raises(OptionError) as e:
        RestoreOptions(**{field: value})
    assert expect in str(e.value)
    assert isinstance(e.value, ValueError)


def test_normalisation_and_defaults():
    o = RestoreOptions(denoise=10, tile=64.0, output_format="JPG", device="cuda:1")
    assert o.denoise == 10.0 and isinstance(o.denoise, float)
    assert o.tile == 64 and isinstance(o.tile, int)
    assert o.output_format == "jpeg"
    assert RestoreOptions(upscale=0).does_superres is False
    assert RestoreOptions(upscale=1).does_superres is True


def test_presets_cover_the_seed_use_cases_and_accept_overrides():
    assert set(PRESETS) == {"old-photo", "digital", "video", "anime"}
    old = build_options("old-photo", sharpen=2)
    assert old.denoise == "auto" and old.upscale == 4 and old.colorize == "auto" and old.sharpen == 2
    assert build_options("anime").model == "realesrgan-x4plus-anime"
    assert build_options("digital", **{"upscale": 3}).upscale == 3
    with pytest.raises(OptionError, match="unknown preset 'vintage'; presets: old-photo"):
        build_options("vintage")
    with pytest.raises(OptionError, match="unknown option"):
        build_options(**{"scale": 2})
    with pytest.raises(OptionError, match="denoise=99"):
        build_options("video", denoise=99)


def test_denoise_takes_a_strength_or_auto_from_every_surface():
    assert build_options(denoise="auto").denoise == "auto" and build_options(denoise="AUTO").denoises
    assert build_options(denoise="12").denoise == 12.0 and build_options(denoise="off").denoise == 0.0
    assert not build_options(denoise=0).denoises
    with pytest.raises(OptionError, match="denoise='loud' must be a number"):
        build_options(denoise="loud")


def test_options_are_frozen_and_round_trip():
    o = RestoreOptions(sharpen=1.2)
    with pytest.raises(AttributeError):
        o.sharpen = 2  # type: ignore[misc]
    assert build_options(**o.to_dict()) == o
    assert o.with_(denoise=5).denoise == 5
