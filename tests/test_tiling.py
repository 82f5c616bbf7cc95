import pytest
import torch

from restoration import OutOfMemoryError
from restoration.models import load_model
from restoration.tiling import _starts, run_tiled


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a - b) ** 2).item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1 / mse)).item()


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 64, 32), (64, 64, 16), (257, 32, 8), (33, 32, 0)])
def test_tiles_cover_everything_with_the_overlap(length, tile, overlap):
    starts = _starts(length, tile, overlap)
    assert starts[0] == 0 and starts[-1] + min(tile, length) == length
    for a, b in zip(starts, starts[1:]):
        assert a + tile - b >= overlap


@pytest.mark.parametrize("model_id", ["realesr-general-x4v3", "realesrgan-x4plus"])
def test_tiled_matches_untiled(model_id):
    torch.manual_seed(0)
    model = load_model(model_id, "cpu")
    x = torch.rand(1, 3, 70, 90)
    whole = run_tiled(model, x, 4, tile=0)
    tiled = run_tiled(model, x, 4, tile=40, overlap=24)
    assert tiled.shape == whole.shape == (1, 3, 280, 360)
    # The tiny RRDB sees ~20 px around each pixel; the blend keeps tile borders out of the result.
    assert psnr(tiled, whole) > (60 if model_id == "realesr-general-x4v3" else 40)


def test_batched_tiles_give_the_same_result():
    model = load_model("realesr-general-x4v3", "cpu")
    x = torch.rand(1, 3, 50, 70)
    a = run_tiled(model, x, 4, tile=32, overlap=8, batch=1)
    b = run_tiled(model, x, 4, tile=32, overlap=8, batch=4)
    assert torch.allclose(a, b, atol=1e-5)


def test_out_of_memory_backs_off_to_smaller_tiles():
    model = load_model("realesr-general-x4v3", "cpu")
    seen = []

    def picky(t: torch.Tensor) -> torch.Tensor:
        seen.append(t.shape[-1])
        if t.shape[-1] > 48:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return model(t)

    x = torch.rand(1, 3, 100, 120)
    out = run_tiled(picky, x, 4, tile=0, overlap=16)
    assert out.shape == (1, 3, 400, 480)
    assert seen[:2] == [120, 60] and max(seen[2:]) == 32  # whole, 60 px tiles, then 32 px tiles
    assert psnr(out, run_tiled(model, x, 4, tile=0)) > 60  # no blank or missing tile


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error():
    def always(t: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("injected")

    with pytest.raises(OutOfMemoryError, match="even with 32px tiles"):
        run_tiled(always, torch.rand(1, 3, 64, 64), 4, tile=64)
