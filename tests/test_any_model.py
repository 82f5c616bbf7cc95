"""Any model spandrel knows, given as a file or a Hub file, routed by what it is; hostile files refused.

Random-weight real architectures (SwinIR, SPAN, HAT, PLKSR, SCUNet, DRUNet) saved the way people
share them (safetensors and .pth), loaded through the real code path."""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from restoration import ModelLoadError, OptionError, WeightsUnavailableError, build_options, restore_image
from restoration.models import load_model

from .conftest import SHARED_WEIGHTS, _save

FAST = dict(colorize="off", denoise=0, sharpen=0)


def _archs() -> dict[str, tuple[torch.nn.Module, int]]:
    from spandrel.architectures.DRUNet import DRUNet
    from spandrel.architectures.HAT import HAT
    from spandrel.architectures.PLKSR import PLKSR
    from spandrel.architectures.SCUNet import SCUNet
    from spandrel.architectures.SPAN import SPAN
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(0)
    return {
        "SwinIR.safetensors": (SwinIR(upscale=2, img_size=16, window_size=4, embed_dim=12, depths=[1], num_heads=[2],
                                      mlp_ratio=2, upsampler="pixelshuffledirect"), 2),
        "4x-SPAN.pth": (SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=4), 4),
        "HAT.safetensors": (HAT(upscale=2, img_size=16, window_size=4, embed_dim=12, depths=[1], num_heads=[2],
                                mlp_ratio=2, upsampler="pixelshuffle", compress_ratio=3, squeeze_factor=3), 2),
        "PLKSR.pth": (PLKSR(dim=16, n_blocks=2, upscaling_factor=2), 2),
        "SCUNet.safetensors": (SCUNet(in_nc=3, config=[1] * 7, dim=64), 1),
        "DRUNet.pth": (DRUNet(in_nc=4, out_nc=3, nc=[8, 16, 32, 64], nb=2), 1),
    }


@pytest.fixture(scope="module")
def arch_files(tmp_path_factory) -> dict[str, tuple[Path, int]]:
    d = tmp_path_factory.mktemp("community")
    out = {}
    for name, (net, scale) in _archs().items():
        _save(net, d / name)
        out[name] = (d / name, scale)
    return out


@pytest.mark.parametrize("name", ["SwinIR.safetensors", "4x-SPAN.pth", "HAT.safetensors", "PLKSR.pth"])
def test_a_super_resolution_file_is_an_upscaler(arch_files, photo, name):
    path, scale = arch_files[name]
    res = restore_image(photo, build_options(upscale=scale, model=str(path), **FAST))
    assert res.image.pixels.shape[:2] == (48 * scale, 64 * scale)
    assert res.metrics["models"]["superres"] == str(path)


@pytest.mark.parametrize("name", ["SCUNet.safetensors", "DRUNet.pth"])
def test_a_1x_restoration_file_given_as_the_upscaler_says_where_it_goes(arch_files, photo, name):
    path, _ = arch_files[name]
    with pytest.raises(OptionError, match=rf"{name} is a restoration model .* use it as denoise_model"):
        restore_image(photo, build_options(upscale=2, model=str(path), **FAST))


def test_an_upscaler_file_given_as_the_denoiser_says_where_it_goes(arch_files, photo):
    path, _ = arch_files["HAT.safetensors"]
    with pytest.raises(OptionError, match=r"HAT\.safetensors is a super-resolution model .* use it as model"):
        restore_image(photo, build_options(**{**FAST, "upscale": 0, "denoise": 10, "denoise_model": str(path)}))


def test_a_1x_file_is_a_denoiser(arch_files, photo):
    path, _ = arch_files["SCUNet.safetensors"]
    res = restore_image(photo, build_options(**{**FAST, "upscale": 0, "denoise": 15, "denoise_model": str(path)}))
    assert res.metrics["models"]["denoise"] == str(path) and res.image.pixels.shape == (48, 64, 3)


def test_an_upscaler_file_given_as_the_face_model_says_where_it_goes(arch_files, photo):
    from skimage import data

    path, _ = arch_files["PLKSR.pth"]
    portrait = np.ascontiguousarray(data.astronaut()[::2, ::2])
    with pytest.raises(OptionError, match=r"PLKSR\.pth is a super-resolution model .* use it as model"):
        restore_image(portrait, build_options(upscale=0, face=str(path), **FAST))


def test_a_file_in_the_models_folder_is_found_by_its_name(arch_files, photo, tmp_path, monkeypatch, tiny_models_dir):
    import shutil

    folder = tmp_path / "models"
    shutil.copytree(tiny_models_dir, folder, symlinks=True)
    shutil.copy(arch_files["4x-SPAN.pth"][0], folder / "4x-SPAN.pth")
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))
    res = restore_image(photo, build_options(upscale=4, model="4x-SPAN.pth", **FAST))
    assert res.image.pixels.shape[:2] == (192, 256)


def test_a_file_that_is_not_there_or_not_a_model_name_is_an_option_error(tmp_path):
    with pytest.raises(OptionError, match=r"model: .*nope\.pth: no such model file"):
        build_options(model=str(tmp_path / "nope.pth"))
    with pytest.raises(OptionError, match=r"\.pt files are TorchScript programs"):
        build_options(model=str(tmp_path / "model.pt"))
    with pytest.raises(OptionError, match=r"must be \.safetensors, \.pth or \.ckpt"):
        build_options(model=str(tmp_path / "model.onnx"))
    with pytest.raises(OptionError, match=r"hf:owner/repo/path/to/file"):
        build_options(model="hf:just-a-repo")


def test_trained_files_give_the_same_pixels_as_their_catalogue_ids(tmp_path, monkeypatch, photo):
    src = SHARED_WEIGHTS / "realesr-animevideov3.fp16.safetensors"
    if not src.is_file():
        pytest.skip("trained weights not present in ../shared/weights")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "realesr-animevideov3.safetensors").symlink_to(src)
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))
    by_id = restore_image(photo, build_options(upscale=4, model="realesr-animevideov3", **FAST)).image.pixels
    by_file = restore_image(photo, build_options(upscale=4, model=str(src), **FAST)).image.pixels
    assert np.array_equal(by_id, by_file)


# ------------------------------------------------------------------------------------ the Hub
def test_a_hub_file_offline_and_not_cached_says_what_to_do(photo):
    with pytest.raises(WeightsUnavailableError, match=r"offline.*hf:someone/models/x2\.safetensors.*models download"):
        restore_image(photo, build_options(upscale=2, model="hf:someone/models/x2.safetensors", **FAST))


def test_a_hub_file_is_downloaded_once_recorded_and_checked(arch_files, photo, monkeypatch):
    from restoration import weights

    payload = arch_files["PLKSR.pth"][0].read_bytes()
    calls = []

    def fake(repo_id, filename, *, revision, cache_dir, token, force_download):
        calls.append((repo_id, filename, revision))
        blob = Path(cache_dir) / "blob" / filename
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(payload)
        return str(blob)

    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, token: SimpleNamespace(size=len(payload)))
    ref = "hf:someone/models/sub/PLKSR.pth@v1"
    res = restore_image(photo, build_options(upscale=2, model=ref, **FAST))
    assert res.image.pixels.shape[:2] == (96, 128)
    assert calls == [("someone/models", "sub/PLKSR.pth", "v1")]
    assert weights._read_records()[ref] == hashlib.sha256(payload).hexdigest()


def test_a_hub_file_over_the_size_limit_is_refused_before_downloading(photo, monkeypatch):
    import huggingface_hub

    asked, fetched = [], []
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("RESTORATION_MAX_MODEL_MB", "100")
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata",
                        lambda url, token: asked.append(url) or SimpleNamespace(size=30 << 30))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *a, **k: fetched.append(a))
    with pytest.raises(WeightsUnavailableError, match=r"huge\.pth is 30,720 MB, more than RESTORATION_MAX_MODEL_MB"):
        restore_image(photo, build_options(upscale=2, model="hf:someone/models/huge.pth", **FAST))
    assert asked and "someone/models" in asked[0] and not fetched  # the size was read; nothing was fetched


# ------------------------------------------------------------------------------------ hostile files
def test_hostile_model_files_are_refused_and_never_run(tmp_path, photo):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"weight": Evil()}, f)
    torch.save({"w": torch.zeros(3)}, tmp_path / "zip_evil.pth")  # a real zip pickle, then poisoned
    with zipfile.ZipFile(tmp_path / "zip_evil.pth", "a") as zf:
        zf.writestr("zip_evil/data.pkl", pickle.dumps({"weight": Evil()}))
    (tmp_path / "text.pth").write_text("this is not a model")
    good = tmp_path / "good.safetensors"
    _archs_small = _archs()["PLKSR.pth"][0]
    _save(_archs_small, good)
    (tmp_path / "truncated.safetensors").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for name in ("evil.pth", "zip_evil.pth", "text.pth", "truncated.safetensors"):
        with pytest.raises(ModelLoadError, match=rf"{name} could not be loaded"):
            restore_image(photo, build_options(upscale=2, model=str(tmp_path / name), **FAST))
    assert not marker.exists()


@pytest.mark.parametrize("channels", [1, 4])
def test_a_model_for_other_than_rgb_is_refused(tmp_path, photo, channels):
    from spandrel.architectures.SPAN import SPAN

    path = tmp_path / f"span{channels}.safetensors"
    _save(SPAN(num_in_ch=channels, num_out_ch=channels, feature_channels=8, upscale=2), path)
    with pytest.raises(ModelLoadError, match=rf"takes {channels}-channel images .* only RGB"):
        load_model(str(path), "cpu")


# ------------------------------------------------------------------------------------ surfaces
def test_command_line_takes_a_model_file(arch_files, photo, tmp_path, capsys):
    from restoration.cli import main

    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    path, _ = arch_files["HAT.safetensors"]
    assert main(["image", str(src), "-o", str(tmp_path / "o.png"), "--model", str(path), "--upscale", "2",
                 "--colorize", "off", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["size_out"] == [128, 96]
    assert main(["image", str(src), "-o", str(tmp_path / "o.png"), "--model", str(arch_files["DRUNet.pth"][0]),
                 "--colorize", "off"]) == 2
    assert "use it as denoise_model" in capsys.readouterr().err


def test_app_takes_models_folder_files_and_hub_files_but_no_server_paths(arch_files, server, photo, tmp_path,
                                                                         monkeypatch, tiny_models_dir):
    import shutil

    from client import ClientError, RestorationClient

    folder = tmp_path / "models"
    shutil.copytree(tiny_models_dir, folder, symlinks=True)
    shutil.copy(arch_files["4x-SPAN.pth"][0], folder / "4x-SPAN.pth")
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        r = c.restore_image(src, preset="none", upscale=4, model="4x-SPAN.pth", **FAST)
        assert r.metrics["size_out"] == [256, 192] and r.metrics["models"]["superres"] == "4x-SPAN.pth"
        with pytest.raises(ClientError, match="not a path on the server"):
            c.restore_image(src, preset="none", upscale=4, model=str(folder / "4x-SPAN.pth"), **FAST)
        with pytest.raises(ClientError, match=r"The upscaler hf:someone/models/x2\.safetensors is not available on "
                                              "this server: choose another Upscaler"):
            c.restore_image(src, preset="none", upscale=2, model="hf:someone/models/x2.safetensors", **FAST)


def test_models_added_through_the_app_are_stored_once_listed_used_and_removed(arch_files, server, photo, tmp_path,
                                                                            monkeypatch, tiny_models_dir):
    import shutil

    from client import ClientError, RestorationClient

    folder = tmp_path / "models"
    shutil.copytree(tiny_models_dir, folder, symlinks=True)
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))
    span = tmp_path / "My 4x SPAN.pth"
    shutil.copy(arch_files["4x-SPAN.pth"][0], span)
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        info = c.add_model(span)
        again = c.add_model(span)  # the same file twice is one model
        assert info["name"] == again["name"] and info["name"].endswith(".pth")
        assert (info["architecture"], info["scale"], info["task"], info["file"]) == ("SPAN", 4, "super-resolution",
                                                                                 "My 4x SPAN.pth")
        assert len(list((folder / "uploads").glob("*.pth"))) == 1
        listed = {m["id"]: m for m in c.list_models()}
        assert listed[info["name"]]["source"] == "added"
        r = c.restore_image(src, preset="none", upscale=4, model=info["name"], **FAST)
        assert r.metrics["size_out"] == [256, 192]
        drunet = c.add_model(arch_files["DRUNet.pth"][0])
        assert drunet["task"] == "restoration"
        assert c.remove_model(info["name"]) == [drunet]
        with pytest.raises(ClientError, match="no such model file"):
            c.restore_image(src, preset="none", upscale=4, model=info["name"], **FAST)
        with pytest.raises(ClientError, match="no added model of that name"):
            c.remove_model(info["name"])


def test_hostile_uploads_are_refused_and_nothing_is_stored(server, tmp_path, monkeypatch, tiny_models_dir):
    import shutil

    from client import ClientError, RestorationClient

    folder = tmp_path / "models"
    shutil.copytree(tiny_models_dir, folder, symlinks=True)
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))
    monkeypatch.setattr(__import__("app").settings(), "max_model_mb", 1)

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"w": Evil()}, f)
    (tmp_path / "text.pth").write_text("not a model")
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(tmp_path / "script.pt"))
    (tmp_path / "big.safetensors").write_bytes(b"\0" * (2 << 20))
    with RestorationClient(server) as c:
        for name, expect in (("evil.pth", "could not be loaded"), ("text.pth", "could not be loaded"),
                             ("script.pt", "Invalid file type"), ("big.safetensors", "over the 1 MB limit")):
            with pytest.raises(ClientError, match=expect):
                c.add_model(tmp_path / name)
        assert c.list_models()  # the server is alive
    assert not (tmp_path / "pwned").exists()
    assert not (folder / "uploads").exists() or not any((folder / "uploads").iterdir())


def test_the_library_refuses_torchscript_and_keeps_nothing_of_a_refused_file(tmp_path, monkeypatch):
    from restoration import uploads

    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(tmp_path / "models"))
    torch.jit.save(torch.jit.script(torch.nn.Identity()), str(tmp_path / "script.pt"))
    with pytest.raises(OptionError, match="TorchScript programs, which run code"):
        uploads.add_model(tmp_path / "script.pt")
    (tmp_path / "bad.pth").write_text("nope")
    with pytest.raises(ModelLoadError):
        uploads.add_model(tmp_path / "bad.pth")
    assert uploads.list_added() == [] and not (tmp_path / "models" / "uploads").exists()


def test_half_precision_is_checked_against_fp32():
    from restoration.precision import PRECISION_FLOOR_DB, precision_psnr

    x = torch.rand(1, 3, 16, 16)
    assert precision_psnr(lambda t: t, lambda t: t, x) == float("inf")
    assert precision_psnr(lambda t: t + 0.001, lambda t: t, x) > PRECISION_FLOOR_DB  # fp16-sized rounding
    assert precision_psnr(lambda t: t + 0.05, lambda t: t, x) < PRECISION_FLOOR_DB  # a broken half network
    assert precision_psnr(lambda t: t / 0, lambda t: t, x) == float("-inf")


def test_an_unknown_architecture_is_measured_once_then_planned_from_it(monkeypatch):
    """On a GPU, an architecture the memory table lacks is measured with one small call; the plan then
    uses that figure (the CUDA memory counters are simulated here: no GPU on this machine)."""
    from restoration import tiling

    gib = 2**30
    state = {"allocated": 100, "peak": 100}
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda device=None: state.update(peak=100))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: state["allocated"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: state["peak"])
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (70 * gib, 80 * gib))
    monkeypatch.setattr(tiling, "_MEASURED", {})
    calls = []

    def net(x):
        calls.append(tuple(x.shape))
        state["peak"] = 100 + 4000 * x.shape[-1] * x.shape[-2]  # 4 kB per pixel
        return x

    cuda = torch.device("cuda")
    assert not tiling.known("NewNet", 2, 2)
    per_px = tiling.measure(net, "NewNet", 2, 2, torch.device("cpu"), side=16)  # counters simulated
    assert calls == [(1, 3, 16, 16)] and per_px == pytest.approx(4000 * 1.3)
    assert tiling.known("NewNet", 2, 2) and tiling.bytes_per_pixel("NewNet", 2, 2) == per_px
    tile, _ = tiling.plan_tiles("NewNet", 2, cuda, (4000, 4000), default=512, pad=32)
    assert (tile + 64) ** 2 * per_px <= 6 * gib < (tile + 72) ** 2 * per_px


@pytest.mark.parametrize("name", ["SwinIR.safetensors", "HAT.safetensors", "PLKSR.pth", "4x-SPAN.pth", "DRUNet.pth"])
def test_each_architecture_as_an_upload_through_the_client(arch_files, server, photo, tmp_path, monkeypatch,
                                                           tiny_models_dir, name):
    import shutil

    from client import RestorationClient

    folder = tmp_path / "models"
    shutil.copytree(tiny_models_dir, folder, symlinks=True)
    monkeypatch.setenv("RESTORATION_MODELS_DIR", str(folder))
    path, scale = arch_files[name]
    src = tmp_path / "p.png"
    Image.fromarray(photo).save(src)
    with RestorationClient(server, download_dir=tmp_path / "dl") as c:
        info = c.add_model(path)
        if scale > 1:
            r = c.restore_image(src, preset="none", upscale=scale, model=info["name"], **FAST)
            assert r.metrics["size_out"] == [64 * scale, 48 * scale]
        else:
            r = c.restore_image(src, preset="none", upscale=0, denoise=10, denoise_model=info["name"], colorize="off",
                                sharpen=0)
            assert r.metrics["models"]["denoise"] == info["name"]
