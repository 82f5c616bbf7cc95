import pytest
import torch

from restoration import ConfigError, OutOfMemoryError
from restoration.models import load_model
from restoration.tiling import _layout, plan_tiles, run_tiled


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a - b) ** 2).item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(1 / mse)).item()


@pytest.mark.parametrize(("length", "tile", "pad"),
                         [(100, 64, 32), (64, 64, 16), (257, 32, 8), (33, 32, 0), (600, 512, 32),
                          (1024, 808, 32), (4000, 808, 32), (3001, 512, 64), (777, 32, 32), (97, 32, 32)])
def test_windows_cover_everything_and_cores_keep_their_context(length, tile, pad):
    edge, starts, cuts = _layout(length, tile, pad)
    assert edge <= min(tile + 2 * pad, length)
    assert starts[0] == 0 and starts[-1] + edge == length
    # The cores partition the side, each inside its window with >= pad of context toward a neighbour.
    assert cuts[0] == 0 and cuts[-1] == length and len(cuts) == len(starts) + 1
    for i, s in enumerate(starts):
        assert s <= cuts[i] < cuts[i + 1] <= s + edge
        if i > 0:
            assert cuts[i] - s >= pad - 1  # window origins are rounded to whole pixels
        if i < len(starts) - 1:
            assert s + edge - cuts[i + 1] >= pad - 1
    # No wasted work: one window fewer could not keep every core within the tile.
    fewer = len(starts) - 1
    assert fewer == 0 or fewer * tile + 2 * pad < length


def test_windows_are_no_larger_than_needed():
    # A 600 px side, 512 px tiles and 32 px of context: two windows of 336 (multiple of 8), not 576.
    assert _layout(600, 512, 32) == (336, [0, 264], [0, 300, 600])
    # A side that fits one window (tile + 2 * pad) runs whole.
    assert _layout(576, 512, 32) == (576, [0], [0, 576])
    edge, starts, _ = _layout(1024, 808, 32)
    assert (edge, len(starts)) == (544, 2)


def test_no_kept_pixel_comes_from_near_a_window_border():
    """A network whose output is wrong within 8 px of its input's border: with 8 px of context the
    tiled result is exactly the untiled one, at any tile size and on odd sizes."""

    def border_garbage(t: torch.Tensor) -> torch.Tensor:
        out = torch.nn.functional.interpolate(t, scale_factor=2, mode="nearest")
        out[..., :16, :] = 1.0
        out[..., -16:, :] = 1.0
        out[..., :, :16] = 1.0
        out[..., :, -16:] = 1.0
        return out

    x = torch.rand(1, 3, 77, 101) * 0.5
    whole = border_garbage(torch.nn.functional.pad(x, (8, 8, 8, 8)))[..., 16:-16, 16:-16]
    for tile in (32, 33, 48, 64):
        tiled = run_tiled(border_garbage, torch.nn.functional.pad(x, (8, 8, 8, 8)), 2, tile=tile, pad=8)
        assert torch.equal(tiled[..., 16:-16, 16:-16], whole), tile


def test_plan_tiles_off_the_gpu_uses_the_given_or_default_tile_one_at_a_time():
    cpu = torch.device("cpu")
    assert plan_tiles("ESRGAN", 4, cpu, (3000, 4000), default=512) == (512, 1)
    assert plan_tiles("Compact", 4, cpu, (720, 1280), default=1024, tile=256) == (256, 1)


def test_plan_tiles_on_a_gpu_follows_the_memory_budget(monkeypatch):
    from restoration import tiling

    gib = 2**30
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (70 * gib, 80 * gib))
    # x4plus fp16 under the default 6 GiB: ~10.4 kB per pixel -> a 784 px window (720 kept), one per call.
    per_px = tiling.bytes_per_pixel("ESRGAN", 4, 2)
    tile, batch = plan_tiles("ESRGAN", 4, cuda, (3000, 4000), default=512, pad=32)
    window = tile + 64
    assert window**2 * per_px <= 6 * gib < (window + 8) ** 2 * per_px and batch == 1
    # Small frames go several to a call, as many as the budget holds.
    tile, batch = plan_tiles("Compact", 4, cuda, (180, 320), default=1024)
    assert batch == tiling._MAX_BATCH or (batch + 1) * 180 * 320 * tiling.bytes_per_pixel("Compact", 4, 2) > 6 * gib
    # The budget follows RESTORATION_GPU_MEMORY_GB, and never more than half of what is free.
    monkeypatch.setenv("RESTORATION_GPU_MEMORY_GB", "1.5")
    small, _ = plan_tiles("ESRGAN", 4, cuda, (3000, 4000), default=512)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1 * gib, 80 * gib))
    tiny, _ = plan_tiles("ESRGAN", 4, cuda, (3000, 4000), default=512)
    assert tiny < small < tile
    monkeypatch.setenv("RESTORATION_GPU_MEMORY_GB", "lots")  # unreadable: a message naming it
    with pytest.raises(ConfigError, match="RESTORATION_GPU_MEMORY_GB='lots' is not valid: expected a number"):
        plan_tiles("ESRGAN", 4, cuda, (64, 64), default=512)


@pytest.mark.parametrize("model_id", ["realesr-general-x4v3", "realesrgan-x4plus"])
def test_tiled_matches_untiled(model_id):
    torch.manual_seed(0)
    model = load_model(model_id, "cpu")
    x = torch.rand(1, 3, 70, 90)
    whole = run_tiled(model, x, 4, tile=0)
    tiled = run_tiled(model, x, 4, tile=32, pad=24)
    assert tiled.shape == whole.shape == (1, 3, 280, 360)
    # The tiny networks see fewer than 24 px around each pixel: the kept cores never see a window border.
    assert psnr(tiled, whole) > 60


def test_batched_tiles_give_the_same_result():
    model = load_model("realesr-general-x4v3", "cpu")
    x = torch.rand(1, 3, 50, 70)
    a = run_tiled(model, x, 4, tile=32, pad=8, batch=1)
    b = run_tiled(model, x, 4, tile=32, pad=8, batch=4)
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
    out = run_tiled(picky, x, 4, tile=0, pad=8)
    assert out.shape == (1, 3, 400, 480)
    # whole, then 60 px tiles (72 px windows), then 32 px tiles (48 px windows)
    assert seen[0] == 120 and seen[1] == 72 and max(seen[2:]) <= 48
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
