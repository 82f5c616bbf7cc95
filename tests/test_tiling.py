import pytest
import torch

from restoration import OutOfMemoryError
from restoration.models import load_model
from restoration.tiling import _layout, plan_tiles, run_tiled


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a - b) ** 2).item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1 / mse)).item()


@pytest.mark.parametrize(("length", "tile", "overlap"),
                         [(100, 64, 32), (64, 64, 16), (257, 32, 8), (33, 32, 0), (600, 512, 32),
                          (1024, 808, 32), (4000, 808, 32), (3001, 512, 64)])
def test_tiles_cover_everything_with_the_overlap(length, tile, overlap):
    edge, starts = _layout(length, tile, overlap)
    assert edge <= min(tile, length)
    assert starts[0] == 0 and starts[-1] + edge == length
    for a, b in zip(starts, starts[1:]):
        assert a + edge - b >= overlap - 1  # origins are rounded to whole pixels
    # No wasted work: one tile fewer could not cover the side with that overlap.
    fewer = len(starts) - 1
    assert fewer == 0 or fewer * tile - (fewer - 1) * overlap < length


def test_tiles_are_no_larger_than_needed():
    # A 600 px side with 512 px tiles: two tiles of 320 (multiple of 8), not two of 512.
    assert _layout(600, 512, 32) == (320, [0, 280])
    # 1024 px under an 808 px limit: two 528 px tiles, 3 % more pixels than the image, not 58 %.
    edge, starts = _layout(1024, 808, 32)
    assert (edge, len(starts)) == (528, 2)


def test_plan_tiles_off_the_gpu_uses_the_given_or_default_tile_one_at_a_time():
    cpu = torch.device("cpu")
    assert plan_tiles("ESRGAN", 4, cpu, (3000, 4000), default=512) == (512, 1)
    assert plan_tiles("Compact", 4, cpu, (720, 1280), default=1024, tile=256) == (256, 1)


def test_plan_tiles_on_a_gpu_follows_the_memory_budget(monkeypatch):
    from restoration import tiling

    gib = 2**30
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (70 * gib, 80 * gib))
    # x4plus fp16 under the default 6 GiB: ~10.4 kB per pixel -> a 784 px tile, one per call.
    per_px = tiling.bytes_per_pixel("ESRGAN", 4, 2)
    tile, batch = plan_tiles("ESRGAN", 4, cuda, (3000, 4000), default=512)
    assert tile * tile * per_px <= 6 * gib < (tile + 8) ** 2 * per_px and batch == 1
    # Small frames go several to a call, as many as the budget holds.
    tile, batch = plan_tiles("Compact", 4, cuda, (180, 320), default=1024)
    assert batch == tiling._MAX_BATCH or (batch + 1) * 180 * 320 * tiling.bytes_per_pixel("Compact", 4, 2) > 6 * gib
    # The budget follows RESTORATION_GPU_MEMORY_GB, and never more than half of what is free.
    monkeypatch.setenv("RESTORATION_GPU_MEMORY_GB", "1.5")
    small, _ = plan_tiles("ESRGAN", 4, cuda, (3000, 4000), default=512)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1 * gib, 80 * gib))
    tiny, _ = plan_tiles("ESRGAN", 4, cuda, (3000, 4000), default=512)
    assert tiny < small < tile
    monkeypatch.setenv("RESTORATION_GPU_MEMORY_GB", "lots")  # unreadable: the default, not a crash
    assert plan_tiles("ESRGAN", 4, cuda, (64, 64), default=512)[0] >= 32


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
    # whole, then tiles of at most 60 px, then of at most 32 px
    assert seen[0] == 120 and 32 < max(seen[1:3]) <= 60 and max(seen[-4:]) <= 32
    assert psnr(out, run_tiled(model, x, 4, tile=0)) > 60  # no blank or missing tile


def test_out_of_memory_goes_one_piece_at_a_time_before_shrinking_tiles():
    model = load_model("realesr-general-x4v3", "cpu")
    calls = []

    def small_batches_only(t: torch.Tensor) -> torch.Tensor:
        calls.append(tuple(t.shape))
        if t.shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory (injected)")
        return model(t)

    frames = torch.rand(3, 3, 24, 40)
    out = run_tiled(small_batches_only, frames, 4, tile=0, batch=3)
    assert calls == [(3, 3, 24, 40)] + [(1, 3, 24, 40)] * 3  # whole frames kept, one per call
    assert torch.allclose(out, torch.cat([model(f[None]) for f in frames]), atol=1e-6)


def test_out_of_memory_at_the_smallest_tile_is_a_clear_error():
    def always(t: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("injected")

    with pytest.raises(OutOfMemoryError, match="even with 32px tiles"):
        run_tiled(always, torch.rand(1, 3, 64, 64), 4, tile=64)
